package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// TestTargetRulesEndToEnd: with no rules set, the built-in wait pages on a
// voice queue, not on an email queue waiting 2 h; two "/sla set … target"
// commands then hold every queue to its own Genesys targets, and the
// messages name the media type and the target.
func TestTargetRulesEndToEnd(t *testing.T) {
	const (
		support = "00000000-0000-4000-8000-000000000001"
		claims  = "00000000-0000-4000-8000-000000000002"
	)
	sl := func(pct float64, within time.Duration) app.ServiceLevelTarget {
		return app.ServiceLevelTarget{Percent: pct, Within: within}
	}
	queues := []app.QueueInfo{
		{ID: support, Name: "Support", ServiceLevels: map[string]app.ServiceLevelTarget{"call": sl(80, 20*time.Second)}},
		{ID: claims, Name: "Claims", ServiceLevels: map[string]app.ServiceLevelTarget{"email": sl(90, time.Hour)}},
	}
	e := newClockedE2E(t, engine.Options{BuiltinDefault: &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait,
		Value: 300, SetBy: "built-in"}}, queues)
	posts := func() []string {
		t.Helper()
		e.settle(t)
		var out []string
		for _, p := range e.slack.of("chat.postMessage") {
			out = append(out, p.Form.Get("text"))
		}
		return out
	}

	e.observe(t, claims, app.Email, app.LongestWait, 7200)
	e.observe(t, support, app.Voice, app.LongestWait, 360)
	got := posts()
	if len(got) != 1 || !strings.Contains(got[0], "SLA breach: Support — Longest wait 6m (threshold 5m)") {
		t.Fatalf("with no rules, posted %q; want only Support's voice wait", got)
	}

	for _, cmd := range []string{"set default voice sl target min 20", "set default email wait target"} {
		answer := runCommand(t, e.h, "U0LEAD001", cmd)
		if !strings.Contains(answer, "Threshold set: *default* (") || !strings.Contains(answer, "the queue's own target") {
			t.Fatalf("%s answered %q", cmd, answer)
		}
	}
	e.clock.Advance(time.Minute)
	e.observe(t, support, app.Voice, app.ServiceLevel, 62)
	e.observe(t, claims, app.Email, app.LongestWait, 7300)
	e.observe(t, claims, app.Voice, app.ServiceLevel, 10) // Claims has no voice target: not alerted on a guess
	got = posts()[1:]
	want := []string{"SLA breach: Support — Service level 62% (voice target 80 % in 20s)",
		"SLA breach: Claims — Longest wait 2h 1m (email target 90 % in 1h)"}
	if len(got) != len(want) {
		t.Fatalf("after the target rules, posted %q; want %q", got, want)
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("post %d = %q, want it to contain %q", i, got[i], want[i])
		}
	}
}
