package engine_test

import (
	"slices"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// syntheticWeek feeds a week of the queue's voice longest wait, Monday 16
// to Monday 23 November 2026 (UTC), as Genesys would: an event when the
// value changes, and one every 3 hours when it does not. Above 300 s:
//
//	A  Tue 10:00-10:22  400 s          22 min
//	B  Wed 14:00-14:05  350 s           5 min
//	C  Thu 09:00-09:15  330/290/320/280/310, then 150: three 3-minute
//	   crossings of 300, one 15-minute episode with a band down to 200
//	D  Sat 11:00-11:30  500 s          30 min, on the weekend
//
// It returns the end of the week, the moment previews are asked at.
func syntheticWeek(h *harness) time.Time {
	h.t.Helper()
	start := utc("2026-11-16T00:00:00Z")
	type ev struct {
		at string
		v  float64
	}
	changes := []ev{
		{"2026-11-17T10:00:00Z", 400}, {"2026-11-17T10:22:00Z", 60},
		{"2026-11-18T14:00:00Z", 350}, {"2026-11-18T14:05:00Z", 100},
		{"2026-11-19T09:00:00Z", 330}, {"2026-11-19T09:03:00Z", 290}, {"2026-11-19T09:06:00Z", 320},
		{"2026-11-19T09:09:00Z", 280}, {"2026-11-19T09:12:00Z", 310}, {"2026-11-19T09:15:00Z", 150},
		{"2026-11-21T11:00:00Z", 500}, {"2026-11-21T11:30:00Z", 60},
	}
	type point struct {
		at time.Time
		v  float64
	}
	var events []point
	for _, c := range changes {
		events = append(events, point{utc(c.at), c.v})
	}
	end := start.Add(7 * 24 * time.Hour)
	for t := start; t.Before(end); t = t.Add(3 * time.Hour) {
		// The value in effect at t: the last change before it.
		v := 60.0
		for _, c := range events[:len(changes)] {
			if !c.at.After(t) {
				v = c.v
			}
		}
		events = append(events, point{t, v})
	}
	slices.SortStableFunc(events, func(a, b point) int { return a.at.Compare(b.at) })
	for _, e := range events {
		h.clock.Set(e.at)
		h.observe("voice", app.LongestWait, e.v)
	}
	h.clock.Set(end)
	return end
}

func TestPreviewSyntheticWeek(t *testing.T) {
	h := newHarness(t, engine.Options{})
	syntheticWeek(h)
	tests := []struct {
		name     string
		rule     app.Threshold
		hours    string
		episodes int
		longest  time.Duration
	}{
		{"300 s", app.Threshold{Value: 300}, "", 6, 30 * time.Minute},
		{"300 s, clears at 200 s: the oscillation is one episode", app.Threshold{Value: 300, Clear: ptr(200)}, "", 4, 30 * time.Minute},
		{"300 s for 10 min: B and C never last", app.Threshold{Value: 300, For: 10 * time.Minute}, "", 2, 20 * time.Minute},
		{"450 s", app.Threshold{Value: 450}, "", 1, 30 * time.Minute},
		{"10 min", app.Threshold{Value: 600}, "", 0, 0},
		{"300 s on weekdays 08:00-18:00", app.Threshold{Value: 300}, "Mon-Fri 08:00-18:00 UTC", 5, 22 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hours != "" {
				h.setHours(queue, tt.hours)
				defer h.setHours(queue, "always")
			}
			rule := tt.rule
			rule.QueueID, rule.Metric = queue, app.LongestWait
			p, err := h.engine.Preview(h.ctx, rule)
			if err != nil {
				t.Fatal(err)
			}
			if p.Episodes != tt.episodes || p.Longest != tt.longest {
				t.Errorf("preview = %d episodes, longest %v; want %d, %v", p.Episodes, p.Longest, tt.episodes, tt.longest)
			}
			if p.Series != 1 || p.Queues != 1 || p.Covered < 7*24*time.Hour-2*time.Minute || p.Now {
				t.Errorf("preview = %+v, want one series covering the week, not breaching now", p)
			}
		})
	}
	// Previewing changes nothing: no rule, no alert, no message.
	ts, err := h.store.Thresholds(h.ctx)
	if err != nil || len(ts) != 0 {
		t.Errorf("thresholds after previews = %v, %v", ts, err)
	}
	if got := h.sent(); len(got) != 0 {
		t.Errorf("previews sent %v", got)
	}
}

func TestPreviewDefaultAndNow(t *testing.T) {
	h := newHarness(t, engine.Options{})
	end := syntheticWeek(h)
	h.clock.Set(end.Add(-10 * time.Minute))
	h.observe("voice", app.LongestWait, 700) // breaching as the preview is asked
	h.clock.Set(end)
	p, err := h.engine.Preview(h.ctx, app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300})
	if err != nil {
		t.Fatal(err)
	}
	if p.Queues != 1 || p.Episodes != 7 || !p.Now || p.Longest != 30*time.Minute {
		t.Errorf("default preview = %+v, want 7 episodes over the one known queue, the last going on now", p)
	}
	h.set(queue, app.LongestWait, 900, 0) // the queue's own rule: the default no longer applies to it
	p, err = h.engine.Preview(h.ctx, app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300})
	if err != nil || p.Queues != 0 || p.Episodes != 0 {
		t.Errorf("default preview with the queue's own rule = %+v, %v", p, err)
	}
	if _, err := h.engine.Preview(h.ctx, app.Threshold{QueueID: queue, Metric: app.LongestWait, Value: 300, Clear: ptr(400)}); err == nil {
		t.Error("a rule clearing above its threshold was previewed")
	}
}
