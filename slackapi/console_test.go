package slackapi

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
)

func TestConsolePrintsMessages(t *testing.T) {
	var out, logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := NewConsole(&out, ConsoleOptions{Mention: "<!here>", AppsURL: testAppsURL, Logger: logger})

	ts, err := c.Notify(t.Context(), notification(app.KindPost, firingAlert()), "")
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	if ts != "console.0001" {
		t.Errorf("post ts = %q, want console.0001", ts)
	}
	post := out.String()
	for _, want := range []string{
		"new message in C1 (ts console.0001)",
		"*SLA breach: Support*",
		"*Longest wait* is *6m 12s* (threshold 5m)",
		"*Media type*: voice · *Waiting*: 14 · *Agents on queue*: 3",
		"Open in Genesys Cloud: https://apps.mypurecloud.com/directory/#/admin/admin/organization/_queuesV2/q-1",
		"buttons: [Acknowledge] [Resolve] [Chart] [Snooze queue: 15 min | 1 h | 4 h]",
	} {
		if !strings.Contains(post, want) {
			t.Errorf("post output lacks %q:\n%s", want, post)
		}
	}
	if !strings.Contains(logs.String(), `"action_id":"alert_ack"`) {
		t.Errorf("debug log lacks the Block Kit JSON:\n%s", logs.String())
	}

	out.Reset()
	acked := firingAlert()
	acked.State, acked.AckedBy, acked.AckedAt = app.StateAcknowledged, "U123", testFiredAt
	got, err := c.Notify(t.Context(), notification(app.KindUpdate, acked), ts)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if got != ts {
		t.Errorf("update ts = %q, want %q", got, ts)
	}
	if s := out.String(); !strings.Contains(s, "message console.0001 in C1 updated") || !strings.Contains(s, "(acknowledged)") {
		t.Errorf("update output:\n%s", s)
	}

	out.Reset()
	reminder := notification(app.KindReply, firingAlert())
	reminder.Reason = "reminder"
	got, err = c.Notify(t.Context(), reminder, ts)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	if got != "console.0002" {
		t.Errorf("reply ts = %q, want console.0002", got)
	}
	if s := out.String(); !strings.Contains(s, "thread reply to console.0001") || !strings.Contains(s, "<!here> :alarm_clock:") {
		t.Errorf("reply output:\n%s", s)
	}
}

func TestConsoleShowsEscapedNamesReadably(t *testing.T) {
	var out bytes.Buffer
	a := firingAlert()
	a.QueueName = "Billing & <EU>"
	if _, err := NewConsole(&out, ConsoleOptions{}).Notify(t.Context(), notification(app.KindPost, a), ""); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if !strings.Contains(out.String(), "*SLA breach: Billing & <EU>*") {
		t.Errorf("output does not show the queue name as named:\n%s", out.String())
	}
}

func TestConsoleTSUniqueUnderConcurrency(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole(&out, ConsoleOptions{})
	const n = 50
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = make(map[string]bool)
	)
	for i := range n {
		wg.Go(func() {
			a := firingAlert()
			a.QueueName = fmt.Sprintf("Queue %d", i)
			ts, err := c.Notify(t.Context(), notification(app.KindPost, a), "")
			if err != nil {
				t.Errorf("Notify: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[ts] {
				t.Errorf("ts %q returned twice", ts)
			}
			seen[ts] = true
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("got %d distinct ts, want %d", len(seen), n)
	}
	if got := strings.Count(out.String(), "── Slack: new message"); got != n {
		t.Errorf("printed %d messages, want %d", got, n)
	}
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("stdout closed") }

func TestConsoleWriteFailureIsPermanent(t *testing.T) {
	_, err := NewConsole(brokenWriter{}, ConsoleOptions{}).Notify(t.Context(), notification(app.KindPost, firingAlert()), "")
	var de *dispatch.DeliveryError
	if !errors.As(err, &de) || de.Retry {
		t.Errorf("error = %v, want a permanent *dispatch.DeliveryError", err)
	}
}
