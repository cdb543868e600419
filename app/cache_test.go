package app_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// countingStore counts the reads an engine makes, to show which events
// are evaluated on the engine's cached snapshot.
type countingStore struct {
	app.Store
	loads, storms atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, queueID, eventKey string, alertIDs []string) (app.Snapshot, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, queueID, eventKey, alertIDs)
}

func (s *countingStore) Storms(ctx context.Context, channels, digestIDs []string) (map[string]app.VersionedStorm, map[string]app.VersionedDigest, error) {
	s.storms.Add(1)
	return s.Store.Storms(ctx, channels, digestIDs)
}

func TestCachedSnapshotOneReadPerQueue(t *testing.T) {
	h := newHarness(t, app.EngineOptions{})
	counting := &countingStore{Store: h.store}
	e := app.NewEngine(counting, h.clock, app.EngineOptions{Channel: "C1"})
	h.set(queue, app.Waiting, 10, 0)
	for i, v := range []float64{3, 12, 13, 14, 2, 1, 11} {
		h.clock.Advance(time.Minute)
		h.observeQueue(e, queue, app.Waiting, v)
		if i == 0 && counting.loads.Load() != 1 {
			t.Fatalf("first event: %d loads, want 1", counting.loads.Load())
		}
	}
	if n := counting.loads.Load(); n != 1 {
		t.Errorf("7 events of one queue made %d loads, want 1 (the rest evaluated on the cached snapshot)", n)
	}
	want := []string{"post:firing#1", "update:firing#1", "update:firing#1", "update:resolved#1", "reply:resolved#1:resolved",
		"post:firing#2"}
	if got := h.sent(); !equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
}

// A cached snapshot is only a guess: whatever another replica, a button or
// a threshold change moved is seen before the next event is evaluated.
func TestCachedSnapshotNeverActsOnStaleState(t *testing.T) {
	h := newHarness(t, app.EngineOptions{})
	counting := &countingStore{Store: h.store}
	a := app.NewEngine(counting, h.clock, app.EngineOptions{Channel: "C1"})
	b := app.NewEngine(h.store, h.clock, app.EngineOptions{Channel: "C1"})
	h.set(queue, app.Waiting, 10, 0)

	h.observeQueue(a, queue, app.Waiting, 12) // a fires and caches the firing alert
	h.observeQueue(b, queue, app.Waiting, 2)  // b resolves it
	h.observeQueue(a, queue, app.Waiting, 13) // a must open episode 2, not update episode 1
	if got, want := h.sent(), []string{"post:firing#1", "update:resolved#1", "reply:resolved#1:resolved", "post:firing#2"}; !equal(got, want) {
		t.Fatalf("after a replica resolved the alert: sent %v, want %v", got, want)
	}

	// A threshold raised behind a's back applies to a's next event.
	h.set(queue, app.Waiting, 50, 0)
	h.observeQueue(a, queue, app.Waiting, 20)
	if got, want := h.sent(), []string{"update:resolved#2", "reply:resolved#2:resolved"}; !equal(got, want) {
		t.Fatalf("after the threshold moved to 50, waiting 20: sent %v, want %v", got, want)
	}

	// An acknowledgement by another replica is kept by a's next update.
	h.set(queue, app.Waiting, 10, 0)
	h.observeQueue(a, queue, app.Waiting, 30)
	h.sent()
	id := app.AlertID(queue, "voice", app.Waiting)
	if _, err := b.Ack(h.ctx, id, 0, app.Actor{UserID: "U1", Via: "button"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	h.observeQueue(a, queue, app.Waiting, 31)
	snap, err := h.store.Load(h.ctx, queue, "", []string{id})
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Alerts[id].Alert; got.State != app.StateAcknowledged || got.AckedBy != "U1" || got.Value != 31 {
		t.Errorf("after b's ack and a's next event: state %s by %q value %v, want acknowledged by U1 at 31", got.State, got.AckedBy, got.Value)
	}
	if counting.loads.Load() < 4 {
		t.Errorf("a made %d loads; each change behind its back needs one", counting.loads.Load())
	}
}

// Storm state is cached too: a storm in one channel reads its storm record
// once, not once per alert.
func TestCachedStormState(t *testing.T) {
	h := newHarness(t, app.EngineOptions{})
	counting := &countingStore{Store: h.store}
	e := app.NewEngine(counting, h.clock, app.EngineOptions{Channel: "C1", StormThreshold: 3})
	for i := range 12 {
		q := fmt.Sprintf("storm-%02d", i)
		h.set(q, app.Waiting, 10, 0)
		h.observeQueue(e, q, app.Waiting, 20)
	}
	if n := counting.storms.Load(); n != 1 {
		t.Errorf("12 alerts in one channel read storm state %d times, want 1", n)
	}
	ns := h.stormSent()
	if got := newMessages(ns); got != 3 {
		t.Errorf("12 alerts, storm threshold 3: %d new messages, want 3 (2 alerts and 1 digest): %v", got, ns)
	}
}
