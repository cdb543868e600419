package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// markRig is two store clients (two replicas) on one Redis with the
// default window (1 h: buckets of 15 min), a raw client, and for the
// embedded backend its miniredis, whose clock a test can move.
type markRig struct {
	replicas [2]*store.Redis
	rdb      *redis.Client
	prefix   string
	mini     *miniredis.Miniredis // nil on a real redis-server
}

func forEachMarkBackend(t *testing.T, test func(t *testing.T, r markRig)) {
	for _, name := range []string{"redis", "embedded"} {
		t.Run(name, func(t *testing.T) {
			r := markRig{prefix: redistest.Prefix(t)}
			url := ""
			if name == "redis" {
				url = redistest.URL(t)
			} else {
				r.mini = miniredis.RunT(t)
				url = "redis://" + r.mini.Addr()
			}
			for i := range r.replicas {
				r.replicas[i] = openStore(t, url, r.prefix)
			}
			opt, err := redis.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			r.rdb = redis.NewClient(opt)
			t.Cleanup(func() { r.rdb.Close() })
			test(t, r)
		})
	}
}

// markKeys are the queue's mark sets' keys.
func (r markRig) markKeys(t *testing.T) []string {
	t.Helper()
	keys, err := r.rdb.Keys(context.Background(), r.prefix+"{"+q+"}:seen:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// t0 is a minute into a 15-minute bucket.
var t0 = time.Date(2026, 11, 20, 9, 1, 0, 0, time.UTC)

// event is a change recording the event key alone, sent at sentAt (zero:
// unstamped), evaluated at at.
func event(key string, sentAt, at time.Time) app.Change {
	return app.Change{QueueID: q, EventKey: key, EventSentAt: sentAt, At: at}
}

func seen(t *testing.T, s *store.Redis, key string, sentAt, at time.Time) bool {
	t.Helper()
	snaps, err := s.LoadMany(context.Background(), []app.LoadRequest{{QueueID: q, EventKey: key, EventSentAt: sentAt, At: at}})
	if err != nil {
		t.Fatal(err)
	}
	return snaps[0].Seen
}

// A stamped event's replay is a duplicate for the whole window, on
// either replica, whenever it arrives; another event of the same bucket
// is not.
func TestMarksStampedWithinWindow(t *testing.T) {
	forEachMarkBackend(t, func(t *testing.T, r markRig) {
		ctx := context.Background()
		a, b := r.replicas[0], r.replicas[1]
		if err := a.Commit(ctx, event("ev-1", t0, t0.Add(time.Second))); err != nil {
			t.Fatal(err)
		}
		for _, later := range []time.Duration{time.Second, 20 * time.Minute, 59 * time.Minute} {
			if err := b.Commit(ctx, event("ev-1", t0, t0.Add(later))); !errors.Is(err, app.ErrDuplicate) {
				t.Errorf("replay %s later on the other replica: err = %v, want ErrDuplicate", later, err)
			}
			if !seen(t, b, "ev-1", t0, t0.Add(later)) {
				t.Errorf("Load %s later: not seen", later)
			}
		}
		if seen(t, a, "ev-2", t0, t0) {
			t.Error("ev-2 seen before it was sent")
		}
		if err := b.Commit(ctx, event("ev-2", t0, t0)); err != nil {
			t.Errorf("another event of the same bucket: %v", err)
		}
		if n := len(r.markKeys(t)); n != 1 {
			t.Errorf("%d mark sets, want one for the bucket: %v", n, r.markKeys(t))
		}
	})
}

// An event without a stamp is marked in the bucket of its arrival and
// looked for in every bucket of the window: its replay is a duplicate
// in the next buckets too, and is forgotten once the window has passed.
func TestMarksUnstampedAcrossBuckets(t *testing.T) {
	forEachMarkBackend(t, func(t *testing.T, r markRig) {
		ctx := context.Background()
		a, b := r.replicas[0], r.replicas[1]
		if err := a.Commit(ctx, event("ev-u", time.Time{}, t0)); err != nil {
			t.Fatal(err)
		}
		for _, later := range []time.Duration{time.Minute, 15 * time.Minute, 44 * time.Minute, 60 * time.Minute} {
			at := t0.Add(later)
			if err := b.Commit(ctx, event("ev-u", time.Time{}, at)); !errors.Is(err, app.ErrDuplicate) {
				t.Errorf("replay %s later: err = %v, want ErrDuplicate", later, err)
			}
			if !seen(t, b, "ev-u", time.Time{}, at) {
				t.Errorf("Load %s later: not seen", later)
			}
		}
		// Once the window (and the 10 minutes of clock skew it allows)
		// has passed since its bucket, the key is no longer looked for.
		late := t0.Add(90 * time.Minute)
		if seen(t, a, "ev-u", time.Time{}, late) {
			t.Error("seen 90 minutes later, past the window")
		}
		if err := a.Commit(ctx, event("ev-u", time.Time{}, late)); err != nil {
			t.Errorf("90 minutes later: %v, want it applied again", err)
		}
		if n := len(r.markKeys(t)); n != 2 {
			t.Errorf("%d mark sets, want the two buckets of arrival: %v", n, r.markKeys(t))
		}
	})
}

// Two replicas committing the same event at once record it once.
func TestMarksAcrossReplicasConcurrently(t *testing.T) {
	forEachMarkBackend(t, func(t *testing.T, r markRig) {
		for _, sentAt := range []time.Time{t0, {}} {
			key := fmt.Sprintf("ev-%v", sentAt.IsZero())
			var wg sync.WaitGroup
			errs := make([]error, 16)
			for i := range errs {
				wg.Go(func() {
					c := event(key, sentAt, t0.Add(time.Duration(i)*time.Second)) // replicas' clocks a few seconds apart
					c.Latest = map[string]float64{app.LatestKey("voice", app.Waiting): float64(i)}
					errs[i] = r.replicas[i%2].Commit(context.Background(), c)
				})
			}
			wg.Wait()
			applied := 0
			for _, err := range errs {
				switch {
				case err == nil:
					applied++
				case !errors.Is(err, app.ErrDuplicate):
					t.Errorf("stamped %v: %v", !sentAt.IsZero(), err)
				}
			}
			if applied != 1 {
				t.Errorf("stamped %v: applied %d times, want once", !sentAt.IsZero(), applied)
			}
		}
	})
}

// A bucket's set expires on its own, one expiry for all its marks: on a
// real Redis its TTL covers the window past the bucket's end; once it
// expires (the embedded Redis's clock moved past it), the event is new
// again.
func TestMarksExpire(t *testing.T) {
	forEachMarkBackend(t, func(t *testing.T, r markRig) {
		ctx := context.Background()
		s := r.replicas[0]
		for i := range 3 {
			if err := s.Commit(ctx, event(fmt.Sprint("ev-", i), t0, t0)); err != nil {
				t.Fatal(err)
			}
		}
		keys := r.markKeys(t)
		if len(keys) != 1 {
			t.Fatalf("mark sets %v, want one", keys)
		}
		ttl, err := r.rdb.TTL(ctx, keys[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		// At least the window (1 h) past the bucket's end (14 min after
		// t0), at most the window, the bucket and twice the 10 minutes
		// of skew allowed.
		if min, most := 75*time.Minute, 95*time.Minute; ttl < min || ttl > most || s.MarkTTL() != most {
			t.Errorf("TTL %s (MarkTTL %s), want %s to %s", ttl, s.MarkTTL(), min, most)
		}
		if r.mini == nil {
			return
		}
		r.mini.FastForward(ttl + time.Second)
		if n := len(r.markKeys(t)); n != 0 {
			t.Fatalf("%d mark sets left after their TTL", n)
		}
		if err := s.Commit(ctx, event("ev-1", t0, t0)); err != nil {
			t.Errorf("after expiry: %v, want the event applied again", err)
		}
	})
}

// A bucket's set stops at its size and spills to sets named by the
// hash's hex digits: every mark is still found, by either replica, and no
// set grows past the size.
func TestMarksSpill(t *testing.T) {
	forEachMarkBackend(t, func(t *testing.T, r markRig) {
		ctx := context.Background()
		for _, s := range r.replicas {
			s.SetMarkSetSize(4)
		}
		commitAll(t, r.replicas[0], 300, nil)
		commitAll(t, r.replicas[1], 300, app.ErrDuplicate)
		if seen(t, r.replicas[1], "ev-new", t0, t0) {
			t.Error("an event never sent is seen")
		}
		keys := r.markKeys(t)
		if len(keys) < 300/4 {
			t.Errorf("%d mark sets for 300 marks of at most 4", len(keys))
		}
		total := int64(0)
		for _, k := range keys {
			n, err := r.rdb.SCard(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n > 4 {
				t.Errorf("set %s holds %d marks, more than 4", k, n)
			}
			total += n
		}
		if total != 300 {
			t.Errorf("%d marks in all, want 300", total)
		}
	})
}

// At the real size a bucket's set stays an intset (8 bytes a mark): 600
// marks in one bucket fill the first set to 511 and spill the rest, all
// of them intsets, and every replay is found.
func TestMarksSpillKeepsIntsets(t *testing.T) {
	forEachMarkBackend(t, func(t *testing.T, r markRig) {
		ctx := context.Background()
		commitAll(t, r.replicas[0], 600, nil)
		commitAll(t, r.replicas[1], 600, app.ErrDuplicate)
		keys := r.markKeys(t)
		if len(keys) < 2 {
			t.Fatalf("mark sets %v: 600 marks did not spill", keys)
		}
		for _, k := range keys {
			n, _ := r.rdb.SCard(ctx, k).Result()
			if n > 511 {
				t.Errorf("%s holds %d marks", k, n)
			}
			if r.mini != nil {
				continue // miniredis has no encodings
			}
			if enc, err := r.rdb.ObjectEncoding(ctx, k).Result(); err != nil || enc != "intset" {
				t.Errorf("%s (%d marks) encoded %q (%v), want intset", k, n, enc, err)
			}
		}
	})
}

// commitAll commits n events stamped t0 (one bucket) through s, in
// batches of 50 as a webhook would (one call of hundreds can outlast the
// client's read timeout on a busy machine, and go-redis's retry of the
// pipeline then finds the first attempt's marks), and checks each
// commit's error is want.
func commitAll(t *testing.T, s *store.Redis, n int, want error) {
	t.Helper()
	const batch = 50
	for from := 0; from < n; from += batch {
		cs := make([]app.Change, 0, batch)
		for i := from; i < n && i < from+batch; i++ {
			cs = append(cs, event(fmt.Sprint("ev-", i), t0, t0))
		}
		for i, err := range s.CommitMany(context.Background(), cs) {
			if !errors.Is(err, want) || (want == nil && err != nil) {
				t.Fatalf("event %d: err = %v, want %v", from+i, err, want)
			}
		}
	}
}
