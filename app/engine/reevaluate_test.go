package engine_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// observeAt ingests one observation of queueID, stamped now, as a new
// event: the value a rule change may act on.
func (h *harness) observeAt(queueID string, m app.Metric, v float64) {
	h.t.Helper()
	h.mu.Lock()
	h.seq++
	key := fmt.Sprintf("ev-at-%d", h.seq)
	h.mu.Unlock()
	_, err := h.engine.Ingest(h.ctx, app.Event{Key: key, QueueID: queueID, QueueName: "Queue " + queueID, At: h.clock.Now(),
		Observations: []app.Observation{{QueueID: queueID, MediaType: "voice", Metric: m, Value: v}}})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) command(t app.Threshold) {
	h.t.Helper()
	if _, err := h.engine.SetThreshold(h.ctx, t, steve); err != nil {
		h.t.Fatal(err)
	}
}

// TestRuleChangeActsAtOnce: a threshold set on a queue that already
// breaches it posts the alert at once, without waiting for an event
// (Genesys sends none while the value holds); raising it resolves the
// alert at once; removing a rule ends the episode naming who removed it.
func TestRuleChangeActsAtOnce(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.observeAt(queue, app.Waiting, 5)
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("no rule yet, sent %v", got)
	}
	h.clock.Advance(time.Minute)
	h.command(app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 0})
	if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
		t.Fatalf("set waiting 0 on a queue with 5 waiting sent %v, want the alert posted", got)
	}
	id := app.AlertID(queue, "voice", app.Waiting)
	if a := h.alert(id); a.Value != 5 || a.Threshold != 0 || !a.ValueAt.Equal(h.clock.Now().Add(-time.Minute)) {
		t.Errorf("alert value %v at %v (threshold %v), want 5 seen a minute ago against 0", a.Value, a.ValueAt, a.Threshold)
	}

	// A new threshold still breached: the message shows it at once.
	h.command(app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 2})
	if got := h.sent(); !equal(got, []string{"update:firing#1"}) {
		t.Errorf("threshold 0 → 2 with 5 waiting sent %v, want the message updated", got)
	}
	if a := h.alert(id); a.Threshold != 2 || a.State != app.StateFiring {
		t.Errorf("alert %s against %v, want firing against 2", a.State, a.Threshold)
	}

	// Raised above the value: resolved at once.
	h.command(app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 10})
	if got := h.sent(); !equal(got, []string{"update:resolved#1", "reply:resolved#1:resolved", "chart:resolved#1"}) {
		t.Errorf("threshold raised above the value sent %v, want the alert resolved", got)
	}

	// Lowered again (a new episode), then removed: closed, naming who.
	h.command(app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 1})
	if got := h.sent(); !equal(got, []string{"post:firing#2"}) {
		t.Errorf("threshold lowered again sent %v, want a new episode posted", got)
	}
	if _, err := h.engine.UnsetThreshold(h.ctx, queue, "", app.Waiting, steve); err != nil {
		t.Fatal(err)
	}
	if got := h.sent(); !equal(got, []string{"update:resolved#2", "reply:resolved#2:resolved", "chart:resolved#2"}) {
		t.Errorf("unset sent %v, want the alert closed", got)
	}
	if a := h.alert(id); !a.RuleRemoved || a.RuleRemovedBy != steve.UserID {
		t.Errorf("closed alert: rule removed %v by %q, want by %s", a.RuleRemoved, a.RuleRemovedBy, steve.UserID)
	}
}

// TestRuleChangeStaleValue: a value observed longer ago than the
// stale-data window is not acted on; StaleValues names it, and the next
// fresh observation fires as usual. Within the window it is acted on.
func TestRuleChangeStaleValue(t *testing.T) {
	h := newHarness(t, engine.Options{StaleAfter: 10 * time.Minute})
	h.observeAt(queue, app.Waiting, 5)
	h.clock.Advance(11 * time.Minute)
	h.command(app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 0})
	if got := h.sent(); len(got) != 0 {
		t.Errorf("a rule change acted on an 11-minute-old value: %v", got)
	}
	stale, err := h.engine.StaleValues(h.ctx, queue)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 || stale[0].QueueID != queue || stale[0].Value != 5 || !stale[0].SeenAt.Equal(h.clock.Now().Add(-11*time.Minute)) {
		t.Errorf("stale values %+v, want the queue's waiting 5 seen 11 minutes ago", stale)
	}
	h.observeAt(queue, app.Waiting, 6)
	if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
		t.Errorf("the next fresh value sent %v, want the alert", got)
	}
	if stale, _ := h.engine.StaleValues(h.ctx, queue); len(stale) != 0 {
		t.Errorf("after a fresh value, stale values %+v", stale)
	}

	t.Run("within the window", func(t *testing.T) {
		h := newHarness(t, engine.Options{StaleAfter: 10 * time.Minute})
		h.observeAt(queue, app.Waiting, 5)
		h.clock.Advance(9 * time.Minute)
		h.command(app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 0})
		if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
			t.Errorf("a 9-minute-old value sent %v, want the alert", got)
		}
	})
}

// TestHoursClosedAndBack: a breach pending its "for" wait is closed when
// the hours are set closed, and picked up again at once when they are
// set back (it used to wait for an event that never came, and the
// re-arm time of the closed hours, for good): it fires once its "for"
// wait has passed since the hours opened.
func TestHoursClosedAndBack(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.LongestWait, 300, 10*time.Minute)
	h.observeAt(queue, app.LongestWait, 330) // Friday 10:00 UTC
	h.clock.Advance(5*time.Minute + 30*time.Second)
	h.tick()
	id := app.AlertID(queue, "voice", app.LongestWait)
	if a := h.alert(id); a.State != app.StatePending {
		t.Fatalf("alert %s, want pending", a.State)
	}
	h.setHours(queue, "Sat 08:00-18:00 UTC") // closed now
	if a := h.alert(id); a.State != app.StateResolved || !a.OffHours {
		t.Fatalf("hours closed: alert %s (off hours %v), want closed for the hours", a.State, a.OffHours)
	}
	if _, err := h.engine.SetHours(h.ctx, queue, app.Hours{}, steve); err != nil { // hours Support default
		t.Fatal(err)
	}
	if a := h.alert(id); a.State != app.StatePending {
		t.Fatalf("hours back: alert %s, want pending again at once", a.State)
	}
	if got := h.sent(); len(got) != 0 {
		t.Errorf("a pending breach sent %v", got)
	}
	h.clock.Advance(10 * time.Minute)
	h.tick()
	if got := h.sent(); !equal(got, []string{"post:firing#2"}) {
		t.Errorf("10 minutes after the hours came back sent %v, want the breach posted", got)
	}
}

// TestDefaultRuleStorm: a default rule that 12 queues breach at once goes
// through the storm digest as a burst of events would: 4 alerts, then one
// digest for the rest.
func TestDefaultRuleStorm(t *testing.T) {
	h := newHarness(t, storms)
	for i := range 12 {
		h.observeAt(stormQueue(i), app.Waiting, 20)
	}
	h.command(app.Threshold{QueueID: app.DefaultQueue, Metric: app.Waiting, Value: 10})
	var posts, digests []string
	for _, n := range h.stormSent() {
		switch n.kind {
		case app.KindPost:
			posts = append(posts, n.queue)
		case app.KindDigestPost:
			digests = append(digests, n.String())
		}
	}
	if len(posts) != engine.DefaultStormThreshold-1 || len(digests) != 1 {
		t.Errorf("a default rule breached by 12 queues posted %d alerts and %d digests (%v), want %d and 1",
			len(posts), len(digests), digests, engine.DefaultStormThreshold-1)
	}
	open, err := h.store.OpenAlerts(h.ctx)
	if err != nil || len(open) != 12 {
		t.Errorf("%d open alerts (%v), want 12", len(open), err)
	}
}

// TestRuleChangeTwoReplicas: two engines on one store act on the same rule
// change at once: one message.
func TestRuleChangeTwoReplicas(t *testing.T) {
	h := newHarness(t, engine.Options{})
	other := engine.New(h.store, h.clock, engine.Options{Channel: "C1"})
	h.observeAt(queue, app.Waiting, 5)
	rule := app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 0}
	var wg sync.WaitGroup
	for _, e := range []*engine.Engine{h.engine, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.SetThreshold(h.ctx, rule, steve); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
		t.Errorf("two replicas acting on one rule change sent %v, want one post", got)
	}
}

// TestRuleChangeVolumeGate: latest values keep no volume, so a rule with a
// volume gate ("min 20") does not start a breach on them when it is set;
// the next observation, which carries its volume, decides.
func TestRuleChangeVolumeGate(t *testing.T) {
	h := newHarness(t, engine.Options{})
	observe := func(v, volume float64) {
		t.Helper()
		h.mu.Lock()
		h.seq++
		key := fmt.Sprintf("ev-gate-%d", h.seq)
		h.mu.Unlock()
		_, err := h.engine.Ingest(h.ctx, app.Event{Key: key, QueueID: queue, At: h.clock.Now(),
			Observations: []app.Observation{{QueueID: queue, MediaType: "voice", Metric: app.ServiceLevel, Value: v, Volume: volume}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	observe(50, 8) // 8 calls: under the gate about to be set
	h.command(app.Threshold{QueueID: queue, Metric: app.ServiceLevel, Value: 80, MinVolume: 20})
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("setting sl 80 min 20 on 50 %% of 8 calls sent %v, want nothing", got)
	}
	h.clock.Advance(time.Minute)
	observe(50, 40) // enough calls now
	if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
		t.Errorf("50 %% of 40 calls sent %v, want the alert posted", got)
	}
}
