package slackapi

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// testDigest is a digest of n members: the first firing, then one
// acknowledged, one snoozed, one resolved and one moved, repeating.
func testDigest(n int) app.Digest {
	d := app.Digest{ID: app.DigestID("C1", 3), Channel: "C1", Seq: 3, OpenedAt: testFiredAt}
	for i := range n {
		m := app.DigestMember{AlertID: fmt.Sprintf("q-%d/voice/waiting", i), Episode: 1, QueueID: fmt.Sprintf("q-%d", i),
			QueueName: fmt.Sprintf("Queue %d", i), MediaType: "voice", Metric: app.Waiting, Value: 20, Threshold: 10,
			State: app.StateFiring, FiredAt: testFiredAt}
		switch i % 5 {
		case 1:
			m.State, m.AckedBy = app.StateAcknowledged, "U123"
		case 2:
			m.Muted = true
		case 3:
			m.State = app.StateResolved
		case 4:
			m.Moved = true
		}
		d.Members = append(d.Members, m)
	}
	return d
}

func TestDigestMessage(t *testing.T) {
	now := testFiredAt.Add(3 * time.Minute)
	d := testDigest(5)
	d.Members[0].QueueName = "<!channel> & co"
	text, blocks := DigestMessage(d, now)
	if want := "Alert storm: 3 queues breaching since 22:13 UTC (1 firing)"; text != want {
		t.Errorf("text = %q, want %q", text, want)
	}
	got := decodeBlocks(t, blocks)
	all := texts(got)
	for _, want := range []string{
		"*Alert storm: 3 queues breaching since <!date^1700000000^{time}|22:13 UTC>*",
		"1 firing · 1 acknowledged · 1 snoozed · 1 resolved · 1 posted again after a snooze · started 3m ago",
		":rotating_light: *&lt;!channel&gt; &amp; co (voice)* — Waiting *20* (threshold 10)",
		":eyes: *Queue 1 (voice)* — Waiting *20* (threshold 10) · acknowledged by <@U123>",
		":zzz: *Queue 2 (voice)* — Waiting *20* (threshold 10) · snoozed",
		":white_check_mark: ~Queue 3 (voice) — Waiting~ resolved",
		"Queue 4 (voice) — Waiting: posted again on its own after its snooze",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("digest lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "<!channel>") {
		t.Errorf("queue name not escaped:\n%s", all)
	}
	els := elementsByAction(got)
	if els[ActionDigestAck]["value"] != d.ID || els[ActionDigestSnooze] == nil {
		t.Errorf("controls = %v", els)
	}
	var actionsBlock string
	for _, b := range got {
		if b["type"] == "actions" {
			actionsBlock, _ = b["block_id"].(string)
		}
	}
	if BlockBase(actionsBlock) != d.ID {
		t.Errorf("actions block_id = %q, want the digest ID and a revision (the snooze menu has no value)", actionsBlock)
	}

	t.Run("no firing member: no Acknowledge all", func(t *testing.T) {
		d := testDigest(5)
		d.Members[0].State = app.StateAcknowledged
		els := elementsByAction(decodeBlocks(t, second(DigestMessage(d, now))))
		if els[ActionDigestAck] != nil || els[ActionDigestSnooze] == nil {
			t.Errorf("controls = %v, want Snooze all only", els)
		}
	})
	t.Run("closed", func(t *testing.T) {
		d := testDigest(4)
		for i := range d.Members {
			d.Members[i].State = app.StateResolved
		}
		d.ClosedAt = testFiredAt.Add(23 * time.Minute)
		text, blocks := DigestMessage(d, now)
		got := decodeBlocks(t, blocks)
		if text != "Alert storm over: all 4 alerts resolved" || !strings.Contains(texts(got), "Lasted 23m") {
			t.Errorf("closed digest: %q\n%s", text, texts(got))
		}
		if len(elementsByAction(got)) != 0 {
			t.Error("a closed digest still has controls")
		}
	})
}

func second[A, B any](_ A, b B) B { return b }

// A digest of 100 members with long, escaped names stays inside Slack's
// limits: at most 50 blocks, 3000 characters per text.
func TestDigestMessageBounds(t *testing.T) {
	d := testDigest(100)
	for i := range d.Members {
		d.Members[i].QueueName = strings.Repeat("<&>", 200)
	}
	_, blocks := DigestMessage(d, testFiredAt)
	got := decodeBlocks(t, blocks)
	if len(got) > 50 {
		t.Errorf("%d blocks", len(got))
	}
	for _, b := range got {
		if txt, ok := b["text"].(map[string]any); ok {
			if n := len(txt["text"].(string)); n > 3000 {
				t.Errorf("a text of %d characters", n)
			}
		}
	}
	if all := texts(got); !strings.Contains(all, "…and 70 more") {
		t.Errorf("long digest does not say how many it leaves out:\n%s", all)
	}
}

func TestDigestReplyText(t *testing.T) {
	d := testDigest(10)
	now := testFiredAt.Add(15 * time.Minute)
	got := digestReplyText(d, "reminder", now, "<!here>")
	if want := "<!here> :alarm_clock: 2 alerts of this storm are still firing and not acknowledged after 15m: *Queue 0*, *Queue 5*."; got != want {
		t.Errorf("reminder = %q, want %q", got, want)
	}
	d.ClosedAt = now
	if got := digestReplyText(d, "resolved", now, ""); !strings.Contains(got, "Storm over after 15m: 2 alerts resolved, 2 posted again on their own after their snooze") {
		t.Errorf("end = %q", got)
	}
}

func TestNotifyDigest(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{Mention: "<!here>"})
	d := testDigest(3)
	note := func(k app.NotificationKind, reason string) app.Notification {
		return app.Notification{Kind: k, Channel: "C1", Digest: &d, Reason: reason, At: testFiredAt}
	}
	ts, err := c.Notify(t.Context(), note(app.KindDigestPost, ""), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notify(t.Context(), note(app.KindDigestUpdate, ""), ts); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notify(t.Context(), note(app.KindDigestReply, "reminder"), ts); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls()
	if len(calls) != 3 || calls[0].Method != "chat.postMessage" || calls[1].Method != "chat.update" || calls[2].Method != "chat.postMessage" {
		t.Fatalf("calls = %+v", calls)
	}
	if calls[1].Form.Get("ts") != ts || calls[2].Form.Get("thread_ts") != ts {
		t.Errorf("update ts %q, reply thread %q; want %q", calls[1].Form.Get("ts"), calls[2].Form.Get("thread_ts"), ts)
	}
	if !strings.HasPrefix(calls[2].Form.Get("text"), "<!here> :alarm_clock:") {
		t.Errorf("reminder = %q", calls[2].Form.Get("text"))
	}
	if _, err := c.Notify(t.Context(), app.Notification{Kind: app.KindDigestPost, Channel: "C1"}, ""); err == nil {
		t.Error("a digest post without its digest was sent")
	}
}

func TestConsolePrintsDigest(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out, ConsoleOptions{})
	d := testDigest(2)
	if _, err := c.Notify(t.Context(), app.Notification{Kind: app.KindDigestPost, Channel: "C1", Digest: &d, At: testFiredAt}, ""); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"new message in C1", "*Alert storm: 2 queues breaching since 22:13 UTC*", "[Acknowledge all]", "[Snooze all queues: 15 min | 1 h | 4 h]"} {
		if !strings.Contains(s, want) {
			t.Errorf("console lacks %q:\n%s", want, s)
		}
	}
}
