package slackapi

import (
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

func TestThresholdLineClauses(t *testing.T) {
	clear := func(v float64) *float64 { return &v }
	names := map[string]string{"q1": "Support"}
	tests := []struct {
		t    app.Threshold
		want string
	}{
		{app.Threshold{QueueID: "q1", Metric: app.LongestWait, Value: 300, Clear: clear(180)},
			"*Support* longest_wait above 5m, clears at 3m or less"},
		{app.Threshold{QueueID: "q1", Metric: app.ServiceLevel, Value: 80, Clear: clear(85), MinVolume: 20, For: 10 * time.Minute},
			"*Support* service_level below 80%, clears at 85% or more, min 20 offered, for 10m"},
		{app.Threshold{QueueID: app.DefaultQueue, Metric: app.AbandonRate, Value: 10, MinVolume: 5},
			"*default* abandon_rate above 10%, min 5 offered"},
	}
	for _, tt := range tests {
		if got := ThresholdLine(tt.t, names); got != tt.want {
			t.Errorf("ThresholdLine(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestAlertMessageShowsClearLevel(t *testing.T) {
	a := firingAlert()
	c := 180.0
	a.Clear = &c
	_, blocks := AlertMessage(a, testFiredAt, "")
	got := decodeBlocks(t, blocks)[0]["text"].(map[string]any)["text"].(string)
	if !strings.Contains(got, "(threshold 5m; resolves at 3m or less)") {
		t.Errorf("summary does not show the clear level:\n%s", got)
	}
}

func TestAlertMessageOffHours(t *testing.T) {
	a := firingAlert()
	a.State, a.OffHours = app.StateResolved, true
	a.ResolvedAt = testFiredAt.Add(30 * time.Minute)
	a.RearmAt = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	text, blocks := AlertMessage(a, a.ResolvedAt, "")
	got := texts(decodeBlocks(t, blocks))
	for _, want := range []string{":crescent_moon: *Resolved, outside business hours: Support*",
		"The queue's business hours ended after 30m of breach; no alert fires for it until they open again at <!date^1796025600^{time}|08:00 UTC>."} {
		if !strings.Contains(got, want) {
			t.Errorf("message lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(text, "Resolved (outside business hours): Support") {
		t.Errorf("fallback = %q", text)
	}
	if len(elementsByAction(decodeBlocks(t, blocks))) != 0 {
		t.Error("a resolved alert still has controls")
	}
}
