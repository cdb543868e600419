package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// TestActionsByAlertState tries each action a supervisor can take on an
// alert against each state the alert can be in. An action that does not
// apply is refused with ErrStale and changes nothing: above all, an Ack on
// a resolved alert must not reopen it as acknowledged.
func TestActionsByAlertState(t *testing.T) {
	id := app.AlertID(queue, "voice", app.Waiting)
	// Each setup leaves the queue's voice waiting alert in one state.
	setups := map[string]func(h *harness){
		"pending": func(h *harness) {
			h.set(queue, app.Waiting, 10, 5*time.Minute)
			h.observe("voice", app.Waiting, 15)
		},
		"firing": func(h *harness) {
			h.set(queue, app.Waiting, 10, 0)
			h.observe("voice", app.Waiting, 15)
		},
		"acknowledged": func(h *harness) {
			h.set(queue, app.Waiting, 10, 0)
			h.observe("voice", app.Waiting, 15)
			if _, err := h.engine.Ack(h.ctx, id, 0, steve); err != nil {
				h.t.Fatal(err)
			}
		},
		"snoozed": func(h *harness) {
			h.set(queue, app.Waiting, 10, 0)
			h.observe("voice", app.Waiting, 15)
			if _, err := h.engine.Snooze(h.ctx, queue, time.Hour, steve); err != nil {
				h.t.Fatal(err)
			}
		},
		"resolved": func(h *harness) {
			h.set(queue, app.Waiting, 10, 0)
			h.observe("voice", app.Waiting, 15)
			h.observe("voice", app.Waiting, 2)
		},
	}
	ack := func(h *harness) error { _, err := h.engine.Ack(h.ctx, id, 0, steve); return err }
	resolve := func(h *harness) error { _, err := h.engine.Resolve(h.ctx, id, 0, steve); return err }
	actions := map[string]func(h *harness) error{"ack": ack, "resolve": resolve}

	// after is the alert's state once the action is done ("" when it is
	// no longer open); a refused action leaves the state it found.
	tests := []struct {
		action, state string
		refused       bool
		after         app.State
	}{
		{"ack", "pending", true, app.StatePending},
		{"ack", "firing", false, app.StateAcknowledged},
		{"ack", "acknowledged", true, app.StateAcknowledged},
		{"ack", "snoozed", false, app.StateAcknowledged},
		{"ack", "resolved", true, ""},
		{"resolve", "pending", true, app.StatePending},
		{"resolve", "firing", false, ""},
		{"resolve", "acknowledged", false, ""},
		{"resolve", "snoozed", false, ""},
		{"resolve", "resolved", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.action+" on "+tt.state, func(t *testing.T) {
			h := newHarness(t, engine.Options{})
			setups[tt.state](h)
			h.sent()
			err := actions[tt.action](h)
			if tt.refused != errors.Is(err, app.ErrStale) || (!tt.refused && err != nil) {
				t.Fatalf("%s on a %s alert: err = %v, want refused = %v", tt.action, tt.state, err, tt.refused)
			}
			if got := h.sent(); tt.refused && len(got) != 0 {
				t.Errorf("refused %s sent %v", tt.action, got)
			}
			open, err := h.store.OpenAlerts(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			var state app.State
			for _, a := range open {
				if a.ID == id {
					state = a.State
				}
			}
			if state != tt.after {
				t.Errorf("%s on a %s alert left it %q, want %q", tt.action, tt.state, state, tt.after)
			}
		})
	}
}
