package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// TestRuleChangeActsAtOnceInSlack (issue 13, item 4): `/sla set Support
// waiting 0` on a queue with 5 waiting posts the alert right away, not at
// the next event; `/sla unset` closes it right away, saying who removed
// the rule. A queue whose last value is older than the stale-data window
// is not acted on, and the answer says it waits for fresh data.
func TestRuleChangeActsAtOnceInSlack(t *testing.T) {
	support := app.QueueInfo{ID: supportQueue, Name: "Support"}
	e := newClockedE2E(t, engine.Options{StaleAfter: 10 * time.Minute}, []app.QueueInfo{support})
	e.observeAt(t, supportQueue, "voice", app.Waiting, 5)
	e.clock.Advance(30 * time.Second)

	answer := runCommand(t, e.h, "U0LEAD001", "set Support waiting 0")
	if !strings.Contains(answer, "Threshold set") || strings.Contains(answer, "Waiting for fresh data") ||
		strings.Contains(answer, "would be firing") {
		t.Errorf("set answered:\n%s", answer)
	}
	e.settle(t)
	posts := e.slack.of("chat.postMessage")
	if len(posts) != 1 || !strings.Contains(posts[0].Form.Get("text"), "SLA breach: Support — Waiting 5 (threshold 0)") {
		t.Fatalf("right after /sla set Slack got %d posts: %v", len(posts), texts(posts))
	}

	runCommand(t, e.h, "U0LEAD001", "unset Support waiting")
	e.settle(t)
	upd := e.slack.of("chat.update")
	if len(upd) == 0 || !strings.Contains(upd[len(upd)-1].text(), "threshold removed by <@U0LEAD001>") {
		t.Fatalf("right after /sla unset the message reads: %v", texts(upd))
	}
	if got := upd[len(upd)-1].text(); strings.Contains(got, "Acknowledge") {
		t.Errorf("the closed message keeps its buttons:\n%s", got)
	}

	// Eleven minutes without news: the value is too old to act on.
	e.clock.Advance(11 * time.Minute)
	answer = runCommand(t, e.h, "U0LEAD001", "set Support waiting 0")
	for _, want := range []string{"Waiting for fresh data: *Support* (Waiting 5, seen 11m 30s ago)", "too old to act on"} {
		if !strings.Contains(answer, want) {
			t.Errorf("set on an 11-minute-old value answered without %q:\n%s", want, answer)
		}
	}
	e.settle(t)
	var alerts []webCall
	for _, p := range e.slack.of("chat.postMessage") {
		if p.Form.Get("thread_ts") == "" {
			alerts = append(alerts, p)
		}
	}
	if len(alerts) != 1 {
		t.Errorf("a stale value was acted on: %d messages %v", len(alerts), texts(alerts))
	}
}
