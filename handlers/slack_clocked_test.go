package handlers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/slackapi"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// clockedE2E is slackE2E with the engine on a hand-moved clock and its
// time-driven pass run by hand (tick), for storms, snooze ends, business
// hours and previews seen through the recording Slack fake.
type clockedE2E struct {
	*slackE2E
	clock *app.ManualClock
}

func newClockedE2E(t *testing.T, opts engine.Options, queues []app.QueueInfo, mods ...func(*Deps)) *clockedE2E {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, redistest.URL(t), store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.SaveQueues(ctx, queues); err != nil {
		t.Fatal(err)
	}
	clock := app.NewManualClock(time.Now().Truncate(time.Second))
	if opts.Channel == "" {
		opts.Channel = slackTestChan
	}
	eng := engine.New(st, clock, opts)
	fake := newSlackFake(t)
	client := slackapi.New(slackTestToken, slackapi.Options{APIURL: fake.APIURL()})
	disp := dispatch.New(st, client, app.SystemClock{}, dispatch.Options{
		Consumer: "test", Pace: time.Millisecond, IdleWait: 20 * time.Millisecond})
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { disp.Run(dctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	d := Deps{Actions: eng, Records: st, Once: st, Home: client, Clock: clock,
		Slack:           SlackAuth{SigningSecret: slackTestSecret, TeamID: slackTestTeam},
		SlackHTTPClient: fake.hooksClient()}
	for _, mod := range mods {
		mod(&d)
	}
	h, bg := newServer(d)
	t.Cleanup(bg.wait)
	return &clockedE2E{slackE2E: &slackE2E{store: st, engine: eng, slack: fake, h: h, bg: bg}, clock: clock}
}

func (e *clockedE2E) tick(t *testing.T) {
	t.Helper()
	if err := e.engine.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// settle waits until the dispatcher has delivered everything enqueued.
func (e *clockedE2E) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := e.store.OutboxDepth(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the outbox did not drain within 15s")
}

func stormQueues(n int) []app.QueueInfo {
	qs := make([]app.QueueInfo, n)
	for i := range qs {
		qs[i] = app.QueueInfo{ID: fmt.Sprintf("00000000-0000-4000-8000-0000000000%02d", i), Name: fmt.Sprintf("Queue %02d", i)}
	}
	return qs
}

// TestStormDigestEndToEnd: 50 queues breach at once. Slack sees the 4
// alerts before it was a storm and one digest, not 50 messages; the
// digest is updated in place as queues resolve, its Acknowledge all and
// Snooze all act on every alert, and its thread says when it is over.
func TestStormDigestEndToEnd(t *testing.T) {
	queues := stormQueues(50)
	e := newClockedE2E(t, engine.Options{StormThreshold: engine.DefaultStormThreshold}, queues)
	if got := runCommand(t, e.h, "U0LEAD001", "set default waiting 10"); !strings.Contains(got, "Threshold set") {
		t.Fatalf("set: %s", got)
	}
	for _, q := range queues {
		e.clock.Advance(100 * time.Millisecond)
		e.observe(t, q.ID, "voice", app.Waiting, 20)
	}
	e.settle(t)
	posts := e.slack.of("chat.postMessage")
	if len(posts) != 5 {
		t.Fatalf("50 breaches made %d messages, want 5 (4 alerts, 1 digest): %v", len(posts), texts(posts))
	}
	digest := posts[4]
	if !strings.Contains(digest.Form.Get("text"), "Alert storm: 1 queue breaching since") {
		t.Errorf("5th message is not the digest: %q", digest.Form.Get("text"))
	}

	// The members that joined since show in one update of that message.
	e.clock.Advance(5 * time.Second)
	e.tick(t)
	e.settle(t)
	upd := e.slack.of("chat.update")
	if len(upd) != 1 || upd[0].Form.Get("ts") != digest.RespTS {
		t.Fatalf("updates = %d (ts %v), want one of the digest %s", len(upd), upd, digest.RespTS)
	}
	body := upd[0].text()
	for _, want := range []string{"Alert storm: 50 queues breaching since", "50 firing", "its first 4 alerts were posted on their own above",
		"*Queue 00 (voice)* — Waiting *20* (threshold 10) · own message above", "*Queue 04 (voice)* — Waiting *20* (threshold 10)",
		"…and 20 more", "Acknowledge all", "Snooze all queues"} {
		if !strings.Contains(body, want) {
			t.Errorf("digest update lacks %q:\n%s", want, body)
		}
	}

	// Ten queues recover: the digest shows it, nobody is pinged.
	e.clock.Advance(time.Minute)
	for _, q := range queues[4:14] {
		e.observe(t, q.ID, "voice", app.Waiting, 2)
	}
	e.clock.Advance(5 * time.Second)
	e.tick(t)
	e.settle(t)
	upd = e.slack.of("chat.update")
	if got := upd[len(upd)-1].text(); !strings.Contains(got, "40 firing · 10 resolved") {
		t.Errorf("after 10 recoveries the digest reads:\n%s", got)
	}
	if n := len(e.slack.of("chat.postMessage")); n != 5 {
		t.Errorf("recoveries of digest members posted %d new messages", n-5)
	}

	// Acknowledge all, as Slack sends the click: it covers the storm's
	// first 4 alerts too, whose own messages say so.
	ctl := buttons(upd[len(upd)-1].blocks(t))
	ackAll, snoozeAll := ctl[slackapi.ActionDigestAck], ctl[slackapi.ActionDigestSnooze]
	if ackAll == nil || snoozeAll == nil {
		t.Fatalf("digest controls = %v", ctl)
	}
	id, _ := ackAll["value"].(string)
	click{user: "U0LEAD002", action: actionJSON(slackapi.ActionDigestAck, id, id, ""), responseURL: hooksURL}.send(t, e.h)
	e.clock.Advance(5 * time.Second)
	e.tick(t)
	e.settle(t)
	upd = e.slack.of("chat.update")
	if got := upd[len(upd)-1].text(); !strings.Contains(got, "0 firing · 40 acknowledged · 10 resolved") || !strings.Contains(got, "acknowledged by <@U0LEAD002>") {
		t.Errorf("after Acknowledge all the digest reads:\n%s", got)
	}
	for _, lead := range posts[:4] {
		var last string
		for _, u := range upd {
			if u.Form.Get("ts") == lead.RespTS {
				last = u.text()
			}
		}
		if !strings.Contains(last, "Acknowledged by <@U0LEAD002> at") {
			t.Errorf("message %s, posted before the storm, after Acknowledge all reads:\n%s", lead.RespTS, last)
		}
	}
	hist, err := e.store.History(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := countActions(hist, "ack"); n != 40 {
		t.Errorf("history has %d acks, want 40", n)
	}

	// Snooze all for an hour from the menu.
	block, _ := snoozeAll["_block_id"].(string)
	click{user: "U0LEAD002", action: actionJSON(slackapi.ActionDigestSnooze, block, "", "1h"), responseURL: hooksURL}.send(t, e.h)
	e.clock.Advance(5 * time.Second)
	e.tick(t)
	e.settle(t)
	upd = e.slack.of("chat.update")
	if got := upd[len(upd)-1].text(); !strings.Contains(got, "40 snoozed") {
		t.Errorf("after Snooze all the digest reads:\n%s", got)
	}
	qs, err := e.store.QueueStates(context.Background(), []string{queues[20].ID, queues[5].ID})
	if err != nil {
		t.Fatal(err)
	}
	if !qs[0].SnoozedUntil.After(e.clock.Now()) || qs[1].SnoozedUntil.After(e.clock.Now()) {
		t.Errorf("snoozes: open member until %v, resolved member until %v; want only the open one snoozed", qs[0].SnoozedUntil, qs[1].SnoozedUntil)
	}

	// Everything recovers: the digest says the storm is over, in place
	// and once in its thread. The 4 alerts posted before the storm were
	// snoozed with it, so, as any snoozed breach that ends by itself, their
	// messages show it without a reply.
	e.clock.Advance(time.Minute)
	for _, q := range queues {
		e.observe(t, q.ID, "voice", app.Waiting, 0)
	}
	e.tick(t)
	e.settle(t)
	upd = e.slack.of("chat.update")
	if got := upd[len(upd)-1].text(); !strings.Contains(got, "Alert storm over: all 50 alerts resolved") {
		t.Errorf("at the end the digest reads:\n%s", got)
	}
	var storyReplies, alertReplies int
	for _, p := range e.slack.of("chat.postMessage") {
		switch {
		case p.Form.Get("thread_ts") == digest.RespTS:
			storyReplies++
			if !strings.Contains(p.Form.Get("text"), "Storm over after") {
				t.Errorf("digest thread reply = %q", p.Form.Get("text"))
			}
		case p.Form.Get("thread_ts") != "":
			alertReplies++
		}
	}
	if storyReplies != 1 || alertReplies != 0 {
		t.Errorf("thread replies: %d in the digest, %d for the 4 lone alerts (snoozed); want 1 and 0", storyReplies, alertReplies)
	}
	if n := len(e.slack.of("chat.postMessage")); n != 6 {
		t.Errorf("the whole storm asked Slack for %d new messages, want 6 (5 posts, 1 thread reply)", n)
	}
	for _, lead := range posts[:4] {
		var last string
		for _, u := range upd {
			if u.Form.Get("ts") == lead.RespTS {
				last = u.text()
			}
		}
		if !strings.Contains(last, "Resolved") {
			t.Errorf("message %s, posted before the storm, at its end reads:\n%s", lead.RespTS, last)
		}
	}
}

// TestStormOneIncidentEndToEnd: a 60-queue storm whose first 5 alerts
// were posted on their own reminds once per interval, in the digest's
// thread, of all 60; /sla ack all acknowledges every one of them, says
// how many and which, and the reminders stop.
func TestStormOneIncidentEndToEnd(t *testing.T) {
	queues := stormQueues(60)
	e := newClockedE2E(t, engine.Options{StormThreshold: 6, RemindAfter: 15 * time.Minute}, queues)
	if got := runCommand(t, e.h, "U0LEAD001", "set default waiting 10"); !strings.Contains(got, "Threshold set") {
		t.Fatalf("set: %s", got)
	}
	for _, q := range queues {
		e.clock.Advance(100 * time.Millisecond)
		e.observe(t, q.ID, "voice", app.Waiting, 20)
	}
	e.clock.Advance(5 * time.Second)
	e.tick(t)
	e.settle(t)
	posts := e.slack.of("chat.postMessage")
	if len(posts) != 6 {
		t.Fatalf("60 breaches made %d messages, want 6 (5 alerts, 1 digest): %v", len(posts), texts(posts))
	}
	digest := posts[5]

	// Reminders: one per interval, in the digest's thread, of all 60.
	for i := range 3 {
		e.clock.Advance(15 * time.Minute)
		e.tick(t)
		e.settle(t)
		replies := e.slack.of("chat.postMessage")[6+i:]
		if len(replies) != 1 || replies[0].Form.Get("thread_ts") != digest.RespTS ||
			!strings.Contains(replies[0].Form.Get("text"), "60 alerts of this storm are still firing and not acknowledged") {
			t.Fatalf("interval %d asked Slack for %v, want one reminder of 60 alerts in the digest's thread", i+1, texts(replies))
		}
	}

	got := runCommand(t, e.h, "U0LEAD003", "ack all")
	want := "Acknowledged 60 alerts in 1 channel: *Queue 00* (Waiting 20), *Queue 01* (Waiting 20), "
	if !strings.HasPrefix(got, want) || !strings.Contains(got, "*Queue 09* (Waiting 20), and 50 more. Their reminders stop.") {
		t.Errorf("/sla ack all answered:\n%s\nwant it to start %q and name 10 then 50 more", got, want)
	}
	e.settle(t)
	upd := e.slack.of("chat.update")
	for _, lead := range posts[:5] {
		var last string
		for _, u := range upd {
			if u.Form.Get("ts") == lead.RespTS {
				last = u.text()
			}
		}
		if !strings.Contains(last, "Acknowledged by <@U0LEAD003> at") {
			t.Errorf("message %s, posted before the storm, after /sla ack all reads:\n%s", lead.RespTS, last)
		}
	}
	e.clock.Advance(5 * time.Second)
	e.tick(t)
	e.settle(t)
	upd = e.slack.of("chat.update")
	if got := upd[len(upd)-1].text(); !strings.Contains(got, "0 firing · 60 acknowledged") {
		t.Errorf("after /sla ack all the digest reads:\n%s", got)
	}
	before := len(e.slack.of("chat.postMessage"))
	for range 3 {
		e.clock.Advance(15 * time.Minute)
		e.tick(t)
		e.settle(t)
	}
	if after := e.slack.of("chat.postMessage"); len(after) != before {
		t.Errorf("after /sla ack all Slack was asked for %v", texts(after[before:]))
	}
	if got := runCommand(t, e.h, "U0LEAD003", "ack all"); !strings.Contains(got, "no alert is firing unacknowledged") {
		t.Errorf("a second /sla ack all answered %q", got)
	}
}

// TestBusinessHoursEndToEnd: /sla hours sets a queue's hours; at closing
// time its open alert's message says it resolved outside business hours
// (no thread reply, no ping); a breach over the weekend posts nothing; at
// opening time the breach still going on is posted afresh.
func TestBusinessHoursEndToEnd(t *testing.T) {
	e := newClockedE2E(t, engine.Options{}, []app.QueueInfo{{ID: supportQueue, Name: "Support"}})
	// Far enough ahead that the dispatcher (on the real clock) never finds
	// a notification stale; Friday 1 March 2030, London on GMT.
	e.clock.Set(time.Date(2030, 3, 1, 17, 30, 0, 0, time.UTC))
	for _, c := range []struct{ text, want string }{
		{"set Support waiting 10", "Threshold set"},
		{"hours Support Mon-Fri 08:00-18:00 Europe/London", "Business hours of *Support*: `Mon-Fri 08:00-18:00 Europe/London` (open now; closes <!date^1898618400^"},
		{"hours Support", "Business hours of *Support*: `Mon-Fri 08:00-18:00 Europe/London` (open now"},
		{"list", "*Business hours* (1)\n• *Support*: `Mon-Fri 08:00-18:00 Europe/London`"},
		{"hours default Sat,Sun 10:00-16:00 UTC", "Business hours of *default*: `Sat,Sun 10:00-16:00 UTC`"},
		{"list", "*Business hours* (2)\n• *default*: `Sat,Sun 10:00-16:00 UTC` (closed now; opens <!date^"},
		{"hours default always", "Business hours of *default*: always."},
		{"history Support", "set the business hours of *Support* (command): none → Mon-Fri 08:00-18:00 Europe/London"},
	} {
		if got := runCommand(t, e.h, "U0LEAD001", c.text); !strings.Contains(got, c.want) {
			t.Errorf("/sla %s:\n%s\nwant it to contain %q", c.text, got, c.want)
		}
	}
	e.observe(t, supportQueue, "voice", app.Waiting, 15)
	post := e.slack.waitFor(t, "chat.postMessage", 1)[0]

	e.clock.Set(time.Date(2030, 3, 1, 18, 0, 0, 0, time.UTC))
	e.tick(t)
	e.settle(t)
	upd := e.slack.of("chat.update")
	if len(upd) != 1 || upd[0].Form.Get("ts") != post.RespTS || !strings.Contains(upd[0].text(), "Resolved, outside business hours: Support") {
		t.Fatalf("at closing, updates = %v", texts(upd))
	}
	if n := len(e.slack.of("chat.postMessage")); n != 1 {
		t.Errorf("closing posted %d new messages; want none (no thread reply)", n-1)
	}

	e.clock.Set(time.Date(2030, 3, 2, 11, 0, 0, 0, time.UTC)) // Saturday
	e.observe(t, supportQueue, "voice", app.Waiting, 40)
	e.tick(t)
	e.clock.Set(time.Date(2030, 3, 4, 7, 59, 59, 0, time.UTC))
	e.tick(t)
	e.settle(t)
	if n := len(e.slack.of("chat.postMessage")); n != 1 {
		t.Errorf("the weekend posted %d messages; want none", n-1)
	}
	e.clock.Set(time.Date(2030, 3, 4, 8, 0, 0, 0, time.UTC))
	e.tick(t)
	posts := e.slack.waitFor(t, "chat.postMessage", 2)
	if got := posts[1].Form.Get("text"); !strings.Contains(got, "SLA breach: Support — Waiting 40") || posts[1].Form.Get("thread_ts") != "" {
		t.Errorf("at opening posted %q, want the weekend's breach as a new alert", got)
	}
}

// TestSnoozeExpiryEndToEnd: a snooze that ends while the queue still
// breaches posts a fresh alert; one that ends after the queue recovered
// posts nothing, the old message showing the recovery.
func TestSnoozeExpiryEndToEnd(t *testing.T) {
	e := newClockedE2E(t, engine.Options{}, []app.QueueInfo{{ID: supportQueue, Name: "Support"}, {ID: billingQueue, Name: "Billing EU"}})
	e.clock.Set(time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC))
	runCommand(t, e.h, "U0LEAD001", "set default waiting 10")
	e.observe(t, supportQueue, "voice", app.Waiting, 15)
	e.observe(t, billingQueue, "voice", app.Waiting, 15)
	e.slack.waitFor(t, "chat.postMessage", 2)
	for _, q := range []string{"Support", `"Billing EU"`} {
		if got := runCommand(t, e.h, "U0LEAD001", "snooze "+q+" 1h"); !strings.Contains(got, "Snoozed") {
			t.Fatalf("snooze %s: %s", q, got)
		}
	}
	e.clock.Advance(20 * time.Minute)
	e.observe(t, billingQueue, "voice", app.Waiting, 3) // Billing recovers while snoozed
	e.clock.Advance(40 * time.Minute)
	e.tick(t)
	e.settle(t)
	posts := e.slack.of("chat.postMessage")
	if len(posts) != 3 || !strings.Contains(posts[2].Form.Get("text"), "SLA breach: Support") || posts[2].Form.Get("thread_ts") != "" {
		t.Fatalf("after the snoozes ended, messages = %v; want one fresh Support alert and nothing for Billing EU", texts(posts))
	}
	upd := e.updatesOf(posts[1].RespTS)
	if got := upd[len(upd)-1].text(); !strings.Contains(got, "Resolved: Billing EU") {
		t.Errorf("Billing EU's message after it recovered while snoozed:\n%s", got)
	}
}

// TestPreviewEndToEnd: /sla preview replays a rule over the stored
// history and changes nothing; /sla set says the same of the rule it sets.
func TestPreviewEndToEnd(t *testing.T) {
	e := newClockedE2E(t, engine.Options{}, []app.QueueInfo{{ID: supportQueue, Name: "Support"}})
	start := time.Date(2030, 3, 4, 0, 0, 0, 0, time.UTC)
	// Three days of Support's longest wait: 60 s, with breaches of 22 and 5
	// minutes; an event at each change, and every 3 hours (never during a
	// breach).
	changes := map[time.Duration]float64{
		34 * time.Hour: 400, 34*time.Hour + 22*time.Minute: 60,
		62 * time.Hour: 350, 62*time.Hour + 5*time.Minute: 60,
	}
	for d := time.Duration(0); d < 72*time.Hour; d += time.Minute {
		v, change := changes[d]
		if !change && d%(3*time.Hour) != 0 {
			continue
		}
		if !change {
			v = 60
		}
		e.clock.Set(start.Add(d))
		e.observe(t, supportQueue, "voice", app.LongestWait, v)
	}
	e.clock.Set(start.Add(72 * time.Hour))
	for _, c := range []struct{ text, want string }{
		{"preview Support wait 5m", "*Support* longest_wait above 5m: would have fired 2 times in the last 3 days (all the history slabot has) (longest 22m, 27m in breach in all)."},
		{"preview Support wait 5m for 10m", "would have fired once in the last 3 days (all the history slabot has), for 12m."},
		{"preview Support wait 5m", "(Replayed minute by minute over the last 24 hours; before that on the worst value of every 5 minutes, as slabot keeps older history.)"},
		{"whatif Support wait 10m", "would not have fired in the last 3 days"},
		{"preview default wait 5m", "across the 1 queue it applies to"},
		{"preview Support sl 80", "there is no history to replay it on yet"},
		{"set Support wait 5m", "Threshold set: *Support* longest_wait above 5m.\nOver the stored history, this rule would have fired 2 times"},
	} {
		if got := runCommand(t, e.h, "U0LEAD001", c.text); !strings.Contains(got, c.want) {
			t.Errorf("/sla %s:\n%s\nwant it to contain %q", c.text, got, c.want)
		}
	}
	ts, err := e.store.Thresholds(context.Background())
	if err != nil || len(ts) != 1 {
		t.Errorf("thresholds = %v, %v; want only the one set (previews change nothing)", ts, err)
	}
}
