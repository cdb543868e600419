package store_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// TestMeasureSeenMemory measures, on a private redis-server, the memory of
// the idempotency marks (seen.go) that webhook events leave at 100 events
// a second spread over 200 queues, for the default 1 h window, a 30 min
// one and a 24 h one (SLABOT_DEDUP_WINDOW), at the marks' peak: just
// before the oldest bucket's set expires, when the sets hold a TTL's worth
// of events (see fillMarks). The 30 min and 1 h cases commit all 200
// queues' events; the 24 h case commits 4 queues' (a queue's sets do not
// depend on the others) and scales by 50. It reports bytes a mark by
// used_memory and by MEMORY USAGE of every mark set. (Before the marks, a
// key of its own per event for 24 h cost 184 bytes: BENCHMARKS.md keeps
// the figure.) Run with:
//
//	SLABOT_MEASURE_HISTORY=1 go test ./store -run MeasureSeenMemory -v
func TestMeasureSeenMemory(t *testing.T) {
	if os.Getenv("SLABOT_MEASURE_HISTORY") == "" {
		t.Skip("set SLABOT_MEASURE_HISTORY=1 to measure")
	}
	const queues, rate = 200, 100.0
	for _, c := range []struct {
		window   time.Duration
		simulate int // queues committed; the rest scaled
	}{{30 * time.Minute, queues}, {time.Hour, queues}, {24 * time.Hour, 4}} {
		t.Run(c.window.String(), func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.Start(t)
			opt, _ := redis.ParseURL(srv.URL)
			rdb := redis.NewClient(opt)
			defer rdb.Close()
			s, err := store.New(ctx, srv.URL, store.Options{Prefix: "slabot:", DedupWindow: c.window})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			registerQueues(t, s, c.simulate)
			before := usedMemory(t, rdb)
			perQueue := rate / queues
			events := fillMarks(t, s, c.simulate, perQueue*float64(c.simulate), markPeakSpan(s), "a")
			used := usedMemory(t, rdb) - before
			m := markMemory(t, rdb, "slabot:")
			scale := float64(queues) / float64(c.simulate)
			t.Logf("window %s (buckets of %s, sets kept %s): %d events in %d queues, %d marks in %d sets (%v)",
				c.window, c.window/4, s.MarkTTL(), events, c.simulate, m.marks, m.sets, m.encodings)
			t.Logf("  used_memory +%d bytes: %.2f bytes a mark; MEMORY USAGE of the sets %d bytes: %.2f bytes a mark",
				used, float64(used)/float64(m.marks), m.usage, float64(m.usage)/float64(m.marks))
			t.Logf("  at %.0f events/s over %d queues, peak: %.2f MiB (used_memory), %.2f MiB (MEMORY USAGE); %.0f marks",
				rate, queues, mib(int64(float64(used)*scale)), mib(int64(float64(m.usage)*scale)), float64(m.marks)*scale)
		})
	}
}

// registerQueues makes n queues known (as their first events do) before a
// measure, so that the marks' measure counts marks alone.
func registerQueues(t *testing.T, s *store.Redis, n int) {
	t.Helper()
	for i := range n {
		if err := s.Commit(context.Background(), app.Change{QueueID: simQueueID(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

// markPeakSpan is the span of event stamps whose marks are all kept at
// once at their peak: a set is created when its bucket starts and kept
// MarkTTL, so just before the oldest set expires the sets hold the events
// of the last MarkTTL (the window, a bucket and the skew allowance); just
// after, a bucket fewer.
func markPeakSpan(s *store.Redis) time.Duration { return s.MarkTTL() }

// markStart is a moment at the start of a bucket for every window (a UTC
// midnight): stamps from it fill whole buckets.
var markStart = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// fillMarks commits, as the webhook does, rate events a second stamped
// evenly over span from markStart, each with a UUID-shaped id of its own
// (starting with tag, one hex digit) and for queue i mod queues. It returns how many.
func fillMarks(t *testing.T, s *store.Redis, queues int, rate float64, span time.Duration, tag string) int {
	t.Helper()
	n := int(rate * span.Seconds())
	changes := make([]app.Change, 0, 500)
	for i := range n {
		at := markStart.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		changes = append(changes, app.Change{QueueID: simQueueID(i % queues), At: at, EventSentAt: at,
			EventKey: fmt.Sprintf("%s%07x-0000-4000-8000-%012x", tag, i, i*7919)})
		if len(changes) == cap(changes) || i == n-1 {
			for j, err := range s.CommitMany(context.Background(), changes) {
				if err != nil {
					t.Fatalf("event %d: %v", i-len(changes)+1+j, err)
				}
			}
			changes = changes[:0]
		}
	}
	return n
}

// markSets is what the mark sets hold and cost.
type markSets struct {
	sets, marks, usage int64
	encodings          map[string]int
}

// markMemory sums SCARD and MEMORY USAGE over every mark set.
func markMemory(t *testing.T, rdb *redis.Client, prefix string) markSets {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"{*}:seen:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	m := markSets{sets: int64(len(keys)), encodings: map[string]int{}}
	for i := 0; i < len(keys); i += 1000 {
		batch := keys[i:min(i+1000, len(keys))]
		pipe := rdb.Pipeline()
		usage := make([]*redis.IntCmd, len(batch))
		card := make([]*redis.IntCmd, len(batch))
		enc := make([]*redis.StringCmd, len(batch))
		for j, k := range batch {
			usage[j], card[j], enc[j] = pipe.MemoryUsage(ctx, k, 0), pipe.SCard(ctx, k), pipe.ObjectEncoding(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for j := range batch {
			m.usage += usage[j].Val()
			m.marks += card[j].Val()
			m.encodings[enc[j].Val()]++
		}
	}
	return m
}
