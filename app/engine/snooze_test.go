package engine_test

import (
	"slices"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// TestSnoozeExpiry: when a snooze ends, a breach still going on is posted
// afresh and a queue that is fine by then posts nothing.
func TestSnoozeExpiry(t *testing.T) {
	tests := []struct {
		name string
		rule app.Threshold
		// during runs inside the hour-long snooze, which starts at 10:00
		// with the queue breaching (value 15, message posted).
		during     func(h *harness)
		wantDuring []string
		wantAtEnd  []string
	}{
		{"breach goes on: a fresh message",
			app.Threshold{Metric: app.Waiting, Value: 10},
			func(h *harness) { h.observe("voice", app.Waiting, 20) },
			nil,
			[]string{"close:firing#1→2", "post:firing#2"}},
		{"no observation at all during the snooze: still breaching, posted afresh",
			app.Threshold{Metric: app.Waiting, Value: 10},
			func(*harness) {},
			nil,
			[]string{"close:firing#1→2", "post:firing#2"}},
		{"recovered during the snooze: the message shows it, nothing posts",
			app.Threshold{Metric: app.Waiting, Value: 10},
			func(h *harness) { h.observe("voice", app.Waiting, 3) },
			[]string{"update:resolved#1"},
			nil},
		{"recovered, then breached again and recovered again, all while snoozed",
			app.Threshold{Metric: app.Waiting, Value: 10},
			func(h *harness) {
				h.observe("voice", app.Waiting, 3)
				h.clock.Advance(5 * time.Minute)
				h.observe("voice", app.Waiting, 30)
				h.clock.Advance(5 * time.Minute)
				h.observe("voice", app.Waiting, 2)
			},
			[]string{"update:resolved#1"},
			nil},
		{"inside the clear band at the end: resolves without a post",
			app.Threshold{Metric: app.Waiting, Value: 10, Clear: ptr(5)},
			func(h *harness) { h.observe("voice", app.Waiting, 8) },
			nil,
			[]string{"update:resolved#1"}},
		{"past the threshold again at the end: posted afresh",
			app.Threshold{Metric: app.Waiting, Value: 10, Clear: ptr(5)},
			func(h *harness) {
				h.observe("voice", app.Waiting, 8)
				h.clock.Advance(10 * time.Minute)
				h.observe("voice", app.Waiting, 12)
			},
			nil,
			[]string{"close:firing#1→2", "post:firing#2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, engine.Options{})
			h.setRule(tt.rule)
			h.observe("voice", app.Waiting, 15)
			if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
				t.Fatalf("setup sent %v", got)
			}
			if _, err := h.engine.Snooze(h.ctx, queue, time.Hour, steve); err != nil {
				t.Fatal(err)
			}
			if got := h.sent(); !equal(got, []string{"update:firing#1"}) {
				t.Fatalf("snooze sent %v, want the message to show it", got)
			}
			end := h.clock.Now().Add(time.Hour)
			h.clock.Advance(10 * time.Minute)
			tt.during(h)
			h.tick()
			if got := h.sent(); !equal(got, tt.wantDuring) {
				t.Errorf("during the snooze sent %v, want %v", got, tt.wantDuring)
			}
			h.clock.Advance(end.Sub(h.clock.Now()) - time.Second)
			h.tick()
			if got := h.sent(); len(got) != 0 {
				t.Errorf("a second before the end sent %v", got)
			}
			h.clock.Advance(time.Second)
			h.tick()
			h.tick() // another replica's pass: nothing twice
			if got := h.sent(); !equal(got, tt.wantAtEnd) {
				t.Errorf("at the end sent %v, want %v", got, tt.wantAtEnd)
			}
			h.clock.Advance(3 * time.Hour)
			h.tick()
			if got := h.sent(); len(got) != 0 && len(tt.wantAtEnd) == 0 {
				t.Errorf("later sent %v", got)
			}
		})
	}
}

// TestUnsnoozeCutsSnoozeShort: unsnooze ends the snooze at once; the
// breach is posted then, and the original end does nothing more.
func TestUnsnoozeCutsSnoozeShort(t *testing.T) {
	t.Run("still breaching", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		firingAlert(t, h)
		if _, err := h.engine.Snooze(h.ctx, queue, 4*time.Hour, steve); err != nil {
			t.Fatal(err)
		}
		h.sent()
		h.clock.Advance(30 * time.Minute)
		if err := h.engine.Unsnooze(h.ctx, queue, steve); err != nil {
			t.Fatal(err)
		}
		if got := h.sent(); !equal(got, []string{"close:firing#1→2", "post:firing#2"}) {
			t.Errorf("unsnooze sent %v, want the breach posted afresh", got)
		}
		h.clock.Advance(4 * time.Hour)
		h.tick()
		if got := h.sent(); len(got) != 0 {
			t.Errorf("the cancelled snooze's end sent %v", got)
		}
	})
	t.Run("fine by then", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		h.set(queue, app.Waiting, 10, 0)
		if _, err := h.engine.Snooze(h.ctx, queue, 4*time.Hour, steve); err != nil {
			t.Fatal(err)
		}
		h.observe("voice", app.Waiting, 15) // muted: never posted
		h.clock.Advance(10 * time.Minute)
		h.observe("voice", app.Waiting, 2)
		if err := h.engine.Unsnooze(h.ctx, queue, steve); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(4 * time.Hour)
		h.tick()
		if got := h.sent(); len(got) != 0 {
			t.Errorf("sent %v for a breach that ended while snoozed", got)
		}
	})
}

// TestReplacedSnooze: a new snooze replaces the old one, timer included:
// the old end does nothing, the new one posts.
func TestReplacedSnooze(t *testing.T) {
	tests := []struct {
		name        string
		first, then time.Duration
	}{
		{"lengthened", time.Hour, 4 * time.Hour},
		{"shortened", 4 * time.Hour, 15 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, engine.Options{})
			firingAlert(t, h)
			start := h.clock.Now()
			if _, err := h.engine.Snooze(h.ctx, queue, tt.first, steve); err != nil {
				t.Fatal(err)
			}
			h.clock.Advance(10 * time.Minute)
			if _, err := h.engine.Snooze(h.ctx, queue, tt.then, steve); err != nil {
				t.Fatal(err)
			}
			h.sent()
			newEnd := start.Add(10*time.Minute + tt.then)
			oldEnd := start.Add(tt.first)
			checks := []time.Time{oldEnd.Add(-time.Second), oldEnd, oldEnd.Add(time.Minute),
				newEnd.Add(-time.Second), newEnd, newEnd.Add(time.Minute), start.Add(6 * time.Hour)}
			slices.SortFunc(checks, time.Time.Compare)
			var sent []string
			for _, at := range checks {
				h.clock.Advance(at.Sub(h.clock.Now()))
				h.tick()
				for _, s := range h.sent() {
					sent = append(sent, s+"@"+h.clock.Now().Sub(start).String())
				}
			}
			want := []string{"close:firing#1→2@" + newEnd.Sub(start).String(), "post:firing#2@" + newEnd.Sub(start).String()}
			if !equal(sent, want) {
				t.Errorf("sent %v, want %v (the old end, at %v, does nothing)", sent, want, oldEnd.Sub(start))
			}
		})
	}
}

// TestStaleSnoozeTimer: a replica that recorded a new snooze and died
// before rescheduling the queue's alerts leaves the old timer in place.
// When it goes off it finds the snooze still running and only reschedules.
func TestStaleSnoozeTimer(t *testing.T) {
	h := newHarness(t, engine.Options{})
	firingAlert(t, h)
	if _, err := h.engine.Snooze(h.ctx, queue, time.Hour, steve); err != nil {
		t.Fatal(err)
	}
	h.sent()
	// The new snooze alone, as the dead replica committed it.
	until := h.clock.Now().Add(4 * time.Hour)
	if err := h.store.Commit(h.ctx, app.Change{QueueID: queue, Snooze: &app.Snooze{QueueID: queue, Until: until, By: steve.UserID}}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("the replaced snooze's timer sent %v", got)
	}
	h.clock.Advance(3*time.Hour - time.Second)
	h.tick()
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("before the new end sent %v", got)
	}
	h.clock.Advance(time.Second)
	h.tick()
	if got := h.sent(); !equal(got, []string{"close:firing#1→2", "post:firing#2"}) {
		t.Errorf("at the new end sent %v, want a fresh post", got)
	}
}
