package engine_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// countingStore counts the reads an engine makes, to show which events
// are evaluated on the engine's cached snapshot.
type countingStore struct {
	engine.Store
	loads, storms, commits atomic.Int64
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
	h := newHarness(t, engine.Options{})
	counting := &countingStore{Store: h.store}
	e := engine.New(counting, h.clock, engine.Options{Channel: "C1"})
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
	want := []string{"post:firing#1", "update:firing#1", "update:firing#1", "update:resolved#1", "reply:resolved#1:resolved", "chart:resolved#1",
		"post:firing#2"}
	if got := h.sent(); !equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
}

// A cached snapshot is only a guess: whatever another replica, a button or
// a threshold change moved is seen before the next event is evaluated.
func TestCachedSnapshotNeverActsOnStaleState(t *testing.T) {
	h := newHarness(t, engine.Options{})
	counting := &countingStore{Store: h.store}
	a := engine.New(counting, h.clock, engine.Options{Channel: "C1"})
	b := engine.New(h.store, h.clock, engine.Options{Channel: "C1"})
	h.set(queue, app.Waiting, 10, 0)

	h.observeQueue(a, queue, app.Waiting, 12) // a fires and caches the firing alert
	h.observeQueue(b, queue, app.Waiting, 2)  // b resolves it
	h.observeQueue(a, queue, app.Waiting, 13) // a must open episode 2, not update episode 1
	if got, want := h.sent(), []string{"post:firing#1", "update:resolved#1", "reply:resolved#1:resolved", "chart:resolved#1", "post:firing#2"}; !equal(got, want) {
		t.Fatalf("after a replica resolved the alert: sent %v, want %v", got, want)
	}

	// A threshold raised behind a's back applies to a's next event.
	h.set(queue, app.Waiting, 50, 0)
	h.observeQueue(a, queue, app.Waiting, 20)
	if got, want := h.sent(), []string{"update:resolved#2", "reply:resolved#2:resolved", "chart:resolved#2"}; !equal(got, want) {
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
	h := newHarness(t, engine.Options{})
	counting := &countingStore{Store: h.store}
	e := engine.New(counting, h.clock, engine.Options{Channel: "C1", StormThreshold: 3})
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

func (s *countingStore) LoadMany(ctx context.Context, reqs []app.LoadRequest) ([]app.Snapshot, error) {
	s.loads.Add(1)
	return s.Store.LoadMany(ctx, reqs)
}

func (s *countingStore) CommitMany(ctx context.Context, cs []app.Change) []error {
	s.commits.Add(1)
	return s.Store.CommitMany(ctx, cs)
}

func (s *countingStore) Commit(ctx context.Context, c app.Change) error {
	s.commits.Add(1)
	return s.Store.Commit(ctx, c)
}

// IngestMany must decide for each queue exactly what Ingest decides, in
// a few round trips: the same events fed one by one to one store and in
// batches to another leave each alert the same notifications, and each
// event the same outcome. (Across queues a batch has no order: storm
// digests, which depend on it, are tested apart.)
func TestIngestManyMatchesIngest(t *testing.T) {
	one := newHarness(t, engine.Options{})
	many := newHarness(t, engine.Options{})
	counting := &countingStore{Store: many.store}
	batcher := engine.New(counting, many.clock, engine.Options{Channel: "C1"})
	for _, h := range []*harness{one, many} {
		for q := range 6 {
			h.set(fmt.Sprintf("q-%d", q), app.Waiting, 10, 0)
		}
		h.set("q-5", app.Waiting, 10, 30*time.Second) // pending first
	}
	// Each queue appears up to 3 times per batch, in order, with values
	// that fire, update and resolve.
	vals := []float64{12, 20, 3, 15, 15, 2, 11, 40}
	var batches [][]app.Event
	seq := 0
	for round := range 8 {
		var batch []app.Event
		for step := range 3 {
			for q := range 6 {
				if (q+round+step)%4 == 0 {
					continue
				}
				seq++
				qid := fmt.Sprintf("q-%d", q)
				batch = append(batch, app.Event{Key: fmt.Sprintf("ev-%d", seq), QueueID: qid, QueueName: "Queue " + qid,
					Observations: []app.Observation{{QueueID: qid, MediaType: "voice", Metric: app.Waiting, Value: vals[(seq+q)%len(vals)]}}})
			}
		}
		batch = append(batch, batch[0])                                // a replay within the batch
		batch = append(batch, app.Event{Key: "empty", QueueID: "q-0"}) // nothing to evaluate
		batches = append(batches, batch)
	}

	var wantOut, gotOut []app.Outcome
	for b, batch := range batches {
		for _, h := range []*harness{one, many} {
			h.clock.Advance(20 * time.Second)
		}
		for _, ev := range batch {
			o, err := one.engine.Ingest(one.ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			wantOut = append(wantOut, o)
		}
		loads, commits := counting.loads.Load(), counting.commits.Load()
		got, err := batcher.IngestMany(many.ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		gotOut = append(gotOut, got...)
		if n := counting.commits.Load() - commits; n > 4 {
			t.Errorf("batch %d: %d events, at most 4 of a queue (one a replay): %d commit round trips, want ≤ 4", b, len(batch), n)
		}
		if n := counting.loads.Load() - loads; b == 0 && n != 1 {
			t.Errorf("first batch: %d read round trips, want 1 for all its queues", n)
		}
		one.tick()
		many.tick()
	}
	if fmt.Sprint(gotOut) != fmt.Sprint(wantOut) {
		t.Errorf("outcomes:\nIngestMany %v\nIngest     %v", gotOut, wantOut)
	}
	got, want := byQueue(many.stormSent()), byQueue(one.stormSent())
	if len(want) < 6 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("notifications:\nIngestMany %v\nIngest     %v", got, want)
	}
}

// byQueue groups notifications by queue, in order.
func byQueue(ns []stormNote) map[string][]string {
	out := make(map[string][]string)
	for _, n := range ns {
		out[n.queue] = append(out[n.queue], n.String())
	}
	return out
}

// A batch that is a storm makes a digest, as the same events one by one do.
func TestIngestManyStorm(t *testing.T) {
	h := newHarness(t, engine.Options{StormThreshold: 4})
	var batch []app.Event
	for q := range 10 {
		qid := stormQueue(q)
		h.set(qid, app.Waiting, 10, 0)
		batch = append(batch, app.Event{Key: "ev-" + qid, QueueID: qid,
			Observations: []app.Observation{{QueueID: qid, MediaType: "voice", Metric: app.Waiting, Value: 20}}})
	}
	if _, err := h.engine.IngestMany(h.ctx, batch); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(10 * time.Second)
	h.tick() // the digest's coalesced update
	ns := h.stormSent()
	posts, digests, updates := ofKind(ns, app.KindPost), ofKind(ns, app.KindDigestPost), ofKind(ns, app.KindDigestUpdate)
	if len(posts) != 3 || len(digests) != 1 || len(updates) != 1 || updates[0].members != 10 || updates[0].counts.Firing != 10 {
		t.Errorf("10 alerts at once, storm threshold 4: %v, want 3 posts and one digest, updated to all 10 firing (3 posted on their own)", ns)
	}
}

// gatedStore holds the first commit until the gate opens.
type gatedStore struct {
	*countingStore
	gate chan struct{}
	once sync.Once
}

func (s *gatedStore) wait() { s.once.Do(func() { <-s.gate }) }

func (s *gatedStore) Commit(ctx context.Context, c app.Change) error {
	s.wait()
	return s.countingStore.Commit(ctx, c)
}

func (s *gatedStore) CommitMany(ctx context.Context, cs []app.Change) []error {
	s.wait()
	return s.countingStore.CommitMany(ctx, cs)
}

// In a storm, the alerts waiting for their channel are committed together
// by whichever gets the channel next: one round trip, not one each.
func TestStormGroupCommit(t *testing.T) {
	h := newHarness(t, engine.Options{})
	st := &gatedStore{countingStore: &countingStore{Store: h.store}, gate: make(chan struct{})}
	e := engine.New(st, h.clock, engine.Options{Channel: "C1", StormThreshold: 5})
	const n = 30
	for q := range n {
		h.set(stormQueue(q), app.Waiting, 10, 0)
	}
	var wg sync.WaitGroup
	for q := range n {
		wg.Go(func() { h.observeQueue(e, stormQueue(q), app.Waiting, 20) })
	}
	// The first alert holds the channel, its commit held at the gate; let
	// it go once every other alert waits for the channel.
	deadline := time.Now().Add(time.Minute)
	for e.StormWaiting() < n-1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d alerts wait for the channel after a minute", e.StormWaiting(), n-1)
		}
		time.Sleep(time.Millisecond)
	}
	close(st.gate)
	wg.Wait()
	if got := st.commits.Load(); got != 2 {
		t.Errorf("%d alerts of one storm took %d commit round trips, want them grouped (2: the first, then all that waited)", n, got)
	}
	h.clock.Advance(10 * time.Second)
	h.tick()
	ns := h.stormSent()
	posts, updates := ofKind(ns, app.KindPost), ofKind(ns, app.KindDigestUpdate)
	if len(posts) != 4 || len(ofKind(ns, app.KindDigestPost)) != 1 || len(updates) != 1 || updates[0].counts.Firing != n {
		t.Errorf("%d alerts, storm threshold 5: %v, want 4 posts and one digest of all %d (4 posted on their own)", n, ns, n)
	}
}
