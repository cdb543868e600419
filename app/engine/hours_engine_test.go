package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

func (h *harness) setHours(queueID, spec string) {
	h.t.Helper()
	hours, err := app.ParseHours(strings.Fields(spec))
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.engine.SetHours(h.ctx, queueID, hours, steve); err != nil {
		h.t.Fatal(err)
	}
}

// at moves the clock to t (RFC 3339), runs the time-driven pass and
// returns what was sent.
func (h *harness) at(t string) []string {
	h.t.Helper()
	h.clock.Set(utc(t))
	h.tick()
	h.tick() // a second replica's pass changes nothing
	return h.sent()
}

// TestBusinessHoursAcrossDST: Mon-Fri 08:00-18:00 Europe/London. An alert
// open at closing time resolves quietly then, breaches over the weekend
// post nothing, and the alert re-arms at opening time: 08:00 local, which
// is 07:00 UTC after the spring change and 08:00 UTC after the autumn one.
func TestBusinessHoursAcrossDST(t *testing.T) {
	tests := []struct {
		name                    string
		breach                  string // Friday, open
		beforeClose, close      string
		weekend                 string
		beforeOpen, open, later string
	}{
		{"spring forward (BST from Sun 29 March 2026)",
			"2026-03-27T17:30:00Z", "2026-03-27T17:59:59Z", "2026-03-27T18:00:00Z",
			"2026-03-28T12:00:00Z", "2026-03-30T06:59:59Z", "2026-03-30T07:00:00Z", "2026-03-30T07:30:00Z"},
		{"fall back (GMT from Sun 25 October 2026)",
			"2026-10-23T16:30:00Z", "2026-10-23T16:59:59Z", "2026-10-23T17:00:00Z",
			"2026-10-24T12:00:00Z", "2026-10-26T07:59:59Z", "2026-10-26T08:00:00Z", "2026-10-26T08:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, engine.Options{})
			h.set(queue, app.Waiting, 10, 0)
			h.setHours(queue, "Mon-Fri 08:00-18:00 Europe/London")
			h.clock.Set(utc(tt.breach))
			h.observe("voice", app.Waiting, 15)
			if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
				t.Fatalf("breach in hours sent %v", got)
			}
			if got := h.at(tt.beforeClose); len(got) != 0 {
				t.Errorf("before closing sent %v", got)
			}
			// Closing: the message shows it, no thread reply, no ping.
			if got := h.at(tt.close); !equal(got, []string{"update:resolved#1"}) {
				t.Errorf("at closing sent %v, want the message updated quietly", got)
			}
			a := h.alert(app.AlertID(queue, "voice", app.Waiting))
			if !a.OffHours || !a.RearmAt.Equal(utc(tt.open)) {
				t.Errorf("closed alert: off hours %v, re-arms at %v; want %s", a.OffHours, a.RearmAt.UTC(), tt.open)
			}
			// The weekend: breaches post nothing.
			h.clock.Set(utc(tt.weekend))
			h.observe("voice", app.Waiting, 30)
			h.tick()
			if got := h.sent(); len(got) != 0 {
				t.Errorf("a weekend breach sent %v", got)
			}
			if got := h.at(tt.beforeOpen); len(got) != 0 {
				t.Errorf("a second before opening sent %v", got)
			}
			// Opening: Genesys sent nothing new, the breach goes on.
			if got := h.at(tt.open); !equal(got, []string{"post:firing#2"}) {
				t.Errorf("at opening sent %v, want the breach posted", got)
			}
			if got := h.at(tt.later); len(got) != 0 {
				t.Errorf("after opening sent %v", got)
			}
		})
	}
}

func (h *harness) alert(id string) app.Alert {
	h.t.Helper()
	snap, err := h.store.Load(h.ctx, queue, "", []string{id})
	if err != nil {
		h.t.Fatal(err)
	}
	return snap.Alerts[id].Alert
}

func TestBusinessHoursRearm(t *testing.T) {
	t.Run("a queue fine again by opening time posts nothing", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		h.set(queue, app.Waiting, 10, 0)
		h.setHours(queue, "Mon-Fri 08:00-18:00 UTC")
		h.clock.Set(utc("2026-11-28T10:00:00Z")) // Saturday
		h.observe("voice", app.Waiting, 30)
		h.clock.Set(utc("2026-11-29T10:00:00Z"))
		h.observe("voice", app.Waiting, 2)
		if got := h.at("2026-11-30T08:00:00Z"); len(got) != 0 {
			t.Errorf("at opening sent %v for a queue that recovered", got)
		}
	})
	t.Run("for-duration counts from opening time", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		h.set(queue, app.Waiting, 10, 5*time.Minute)
		h.setHours(queue, "Mon-Fri 08:00-18:00 UTC")
		h.clock.Set(utc("2026-11-30T07:00:00Z"))
		h.observe("voice", app.Waiting, 30)
		if got := h.at("2026-11-30T08:00:00Z"); len(got) != 0 {
			t.Errorf("sent %v at opening, before the for-duration", got)
		}
		if got := h.at("2026-11-30T08:04:59Z"); len(got) != 0 {
			t.Errorf("sent %v before the for-duration passed after opening", got)
		}
		if got := h.at("2026-11-30T08:05:00Z"); !equal(got, []string{"post:firing#1"}) {
			t.Errorf("sent %v, want the alert 5 min after opening", got)
		}
	})
	t.Run("own always overrides the default's hours", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		h.set(queue, app.Waiting, 10, 0)
		h.setHours(app.DefaultQueue, "Mon-Fri 08:00-18:00 UTC")
		h.setHours(queue, "always")
		h.clock.Set(utc("2026-11-28T03:00:00Z")) // Saturday night
		h.observe("voice", app.Waiting, 30)
		if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
			t.Errorf("sent %v, want the alert: the queue is staffed always", got)
		}
	})
	t.Run("the default's hours apply to queues without their own", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		h.set(queue, app.Waiting, 10, 0)
		h.setHours(app.DefaultQueue, "Mon-Fri 08:00-18:00 UTC")
		h.clock.Set(utc("2026-11-28T03:00:00Z"))
		h.observe("voice", app.Waiting, 30)
		if got := h.sent(); len(got) != 0 {
			t.Errorf("sent %v outside the default hours", got)
		}
	})
	t.Run("new hours close an open alert at once", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		h.set(queue, app.Waiting, 10, 0)
		h.clock.Set(utc("2026-11-28T03:00:00Z"))
		h.observe("voice", app.Waiting, 30)
		h.sent()
		h.setHours(queue, "Mon-Fri 08:00-18:00 UTC")
		if got := h.sent(); !equal(got, []string{"update:resolved#1"}) {
			t.Errorf("setting hours sent %v, want the open alert resolved quietly", got)
		}
		if got := h.at("2026-11-30T08:00:00Z"); !equal(got, []string{"post:firing#2"}) {
			t.Errorf("at opening sent %v, want the breach posted again", got)
		}
	})
	t.Run("history records the change", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		h.setHours(queue, "Mon-Fri 08:00-18:00 Europe/London")
		h.setHours(queue, "always")
		hist, err := h.store.History(h.ctx, queue, 5)
		if err != nil || len(hist) != 2 || hist[0].Detail != "Mon-Fri 08:00-18:00 Europe/London → always" || hist[1].Action != "hours" {
			t.Errorf("history = %+v, %v", hist, err)
		}
	})
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
