package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

var steve = app.Actor{UserID: "U2147483697", Via: "button"}

func firingAlert(t *testing.T, h *harness) string {
	t.Helper()
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
		t.Fatalf("setup sent %v", got)
	}
	return app.AlertID(queue, "voice", app.Waiting)
}

func TestAck(t *testing.T) {
	h := newHarness(t, engine.Options{})
	id := firingAlert(t, h)
	a, err := h.engine.Ack(h.ctx, id, 1, steve)
	if err != nil || a.State != app.StateAcknowledged || a.AckedBy != steve.UserID {
		t.Fatalf("Ack = %+v, %v", a, err)
	}
	if got := h.sent(); !equal(got, []string{"update:acknowledged#1"}) {
		t.Errorf("sent %v", got)
	}
	if _, err := h.engine.Ack(h.ctx, id, 1, steve); !errors.Is(err, app.ErrStale) {
		t.Errorf("double ack: err = %v, want ErrStale", err)
	}
	if _, err := h.engine.Ack(h.ctx, id, 7, steve); !errors.Is(err, app.ErrStale) {
		t.Errorf("ack of another episode: err = %v, want ErrStale", err)
	}
	if got := h.sent(); len(got) != 0 {
		t.Errorf("refused acks sent %v", got)
	}
	hist, err := h.store.History(h.ctx, queue, 10)
	if err != nil || len(hist) != 1 || hist[0].Action != "ack" || hist[0].By != steve.UserID || hist[0].Via != "button" {
		t.Errorf("history = %+v, %v", hist, err)
	}
}

func TestResolveByHand(t *testing.T) {
	h := newHarness(t, engine.Options{})
	id := firingAlert(t, h)
	a, err := h.engine.Resolve(h.ctx, id, 1, steve)
	if err != nil || a.State != app.StateResolved || a.ResolvedBy != steve.UserID {
		t.Fatalf("Resolve = %+v, %v", a, err)
	}
	if got, want := h.sent(), []string{"update:resolved#1", "reply:resolved#1:resolved", "chart:resolved#1"}; !equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if _, err := h.engine.Resolve(h.ctx, id, 1, steve); !errors.Is(err, app.ErrStale) {
		t.Errorf("second resolve: err = %v", err)
	}
}

func TestSnooze(t *testing.T) {
	h := newHarness(t, engine.Options{})
	firingAlert(t, h)
	until, err := h.engine.Snooze(h.ctx, queue, time.Hour, steve)
	if err != nil || !until.Equal(h.clock.Now().Add(time.Hour)) {
		t.Fatalf("Snooze = %v, %v", until, err)
	}
	if got := h.sent(); !equal(got, []string{"update:firing#1"}) {
		t.Errorf("snooze sent %v, want the message updated", got)
	}
	// While snoozed, breaches of other media post nothing.
	h.observe("chat", app.Waiting, 40)
	h.clock.Advance(10 * time.Minute)
	h.tick()
	if got := h.sent(); len(got) != 0 {
		t.Errorf("snoozed queue sent %v", got)
	}
	// The snooze ends with both still breaching: fresh alerts.
	h.clock.Advance(51 * time.Minute)
	h.tick()
	// Both alerts start a new episode: voice's first was posted before
	// the snooze, chat's first was muted.
	if got := h.sent(); !equal(got, []string{"post:firing#2", "close:firing#1→2", "post:firing#2"}) {
		t.Errorf("after snooze sent %v, want a fresh post for each breach, and voice's old message closed", got)
	}
}

func TestUnsnoozeWhenNotSnoozed(t *testing.T) {
	h := newHarness(t, engine.Options{})
	if err := h.engine.Unsnooze(h.ctx, queue, steve); !errors.Is(err, app.ErrStale) {
		t.Errorf("err = %v, want ErrStale", err)
	}
}

func TestSnoozeAll(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	if _, err := h.engine.Snooze(h.ctx, app.AllQueues, 30*time.Minute, steve); err != nil {
		t.Fatal(err)
	}
	h.observe("voice", app.Waiting, 15)
	if got := h.sent(); len(got) != 0 {
		t.Errorf("all-queues snooze still sent %v", got)
	}
	if err := h.engine.Unsnooze(h.ctx, app.AllQueues, steve); err != nil {
		t.Fatal(err)
	}
	if got := h.sent(); !equal(got, []string{"post:firing#2"}) {
		t.Errorf("unsnooze sent %v, want the muted breach posted", got)
	}
}

func TestRouteAndThresholdHistory(t *testing.T) {
	h := newHarness(t, engine.Options{})
	if err := h.engine.Route(h.ctx, queue, "C0ROUTED", steve); err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.SetThreshold(h.ctx, app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 10}, steve); err != nil {
		t.Fatal(err)
	}
	old, err := h.engine.SetThreshold(h.ctx, app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 20}, steve)
	if err != nil || old == nil || old.Value != 10 {
		t.Fatalf("SetThreshold old = %v, %v", old, err)
	}
	h.observe("voice", app.Waiting, 25)
	dels, _ := h.store.Receive(h.ctx, "x", 10, time.Millisecond)
	if len(dels) != 1 || dels[0].Notification.Channel != "C0ROUTED" {
		t.Errorf("routed alert went to %+v", dels)
	}
	if _, err := h.engine.UnsetThreshold(h.ctx, queue, "", app.LongestWait, steve); !errors.Is(err, app.ErrStale) {
		t.Errorf("unset of a missing threshold: err = %v", err)
	}
	hist, _ := h.store.History(h.ctx, "", 10)
	var actions []string
	for _, e := range hist {
		actions = append(actions, e.Action)
	}
	if !equal(actions, []string{"set", "set", "route"}) {
		t.Errorf("history actions = %v", actions)
	}
}

func TestReminders(t *testing.T) {
	h := newHarness(t, engine.Options{RemindAfter: 15 * time.Minute})
	id := firingAlert(t, h)
	h.clock.Advance(14 * time.Minute)
	h.tick()
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("reminded early: %v", got)
	}
	for i := range 2 {
		h.clock.Advance(time.Minute)
		h.tick()
		h.tick() // a second pass (another replica) must not remind twice
		if got := h.sent(); !equal(got, []string{"reply:firing#1:reminder"}) {
			t.Fatalf("reminder %d: sent %v", i+1, got)
		}
		h.clock.Advance(14 * time.Minute)
		h.tick()
		if got := h.sent(); len(got) != 0 {
			t.Fatalf("reminded between intervals: %v", got)
		}
	}
	if _, err := h.engine.Ack(h.ctx, id, 1, steve); err != nil {
		t.Fatal(err)
	}
	h.sent()
	h.clock.Advance(2 * time.Hour)
	h.tick()
	if got := h.sent(); len(got) != 0 {
		t.Errorf("reminded after ack: %v", got)
	}
}
