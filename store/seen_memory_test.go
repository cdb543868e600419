package store_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// TestMeasureSeenMemory measures the memory of idempotency keys (one
// "{queue}:seen:<event id>" string a webhook event, 24 h) on a private
// redis-server: 100,000 events' keys as commits write them, spread over
// 200 queues, and the same ids in the compact layout proposed for them
// (per queue and hour of arrival, one hash whose fields are the first 8
// bytes of the id's SHA-256, one expiry per hash). It extrapolates both to
// 100 events/s for 24 h (8.64 million keys). Run with:
//
//	SLABOT_MEASURE_HISTORY=1 go test ./store -run MeasureSeenMemory -v
func TestMeasureSeenMemory(t *testing.T) {
	if os.Getenv("SLABOT_MEASURE_HISTORY") == "" {
		t.Skip("set SLABOT_MEASURE_HISTORY=1 to measure")
	}
	const events, queues = 100_000, 200
	ctx := context.Background()
	srv := redistest.Start(t)
	opt, _ := redis.ParseURL(srv.URL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	s, err := store.New(ctx, srv.URL, store.Options{Prefix: "slabot:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := make([]string, events)
	for i := range ids {
		ids[i] = rand.Text()[:8] + "-" + rand.Text()[:4] + "-4" + rand.Text()[:3] + "-8" + rand.Text()[:3] + "-" + rand.Text()[:12] // a UUID's shape
	}
	// As commits write them: the commit script's SET NX EX.
	before := usedMemory(t, rdb)
	changes := make([]app.Change, 0, 500)
	for i, id := range ids {
		changes = append(changes, app.Change{QueueID: simQueueID(i % queues), EventKey: id})
		if len(changes) == cap(changes) || i == len(ids)-1 {
			for _, err := range s.CommitMany(ctx, changes) {
				if err != nil {
					t.Fatal(err)
				}
			}
			changes = changes[:0]
		}
	}
	keys, _ := rdb.Keys(ctx, "slabot:{*}:seen:*").Result()
	sample, _ := rdb.MemoryUsage(ctx, keys[0], 0).Result()
	perKey := float64(usedMemory(t, rdb)-before) / events
	t.Logf("seen keys today: %d keys, used_memory +%.0f bytes a key (MEMORY USAGE of one: %d bytes, e.g. %s)", len(keys), perKey, sample, keys[0])
	t.Logf("  at 100 events/s for 24 h: %.0f MiB", perKey*8.64e6/(1<<20))
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}

	// The proposed layout: 100 events/s over 200 queues is 1,800 an hour
	// per queue, so 100,000 events fill 200 queues' hashes for ~17 min.
	hour := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).Unix() / 3600
	pipe := rdb.Pipeline()
	for i, id := range ids {
		sum := sha256.Sum256([]byte(id))
		k := fmt.Sprintf("slabot:{%s}:seen:%d", simQueueID(i%queues), hour)
		pipe.HSet(ctx, k, sum[:8], "")
		pipe.Expire(ctx, k, 25*time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// MEMORY USAGE of one hash (500 fields: a listpack, at most
	// hash-max-listpack-entries, 512 by default): used_memory right after
	// the DEL above does not settle enough to tell 12 bytes an event.
	k0 := fmt.Sprintf("slabot:{%s}:seen:%d", simQueueID(0), hour)
	n, _ := rdb.HLen(ctx, k0).Result()
	mu, _ := rdb.MemoryUsage(ctx, k0, 0).Result()
	t.Logf("one queue-hour hash: %d fields, MEMORY USAGE %d bytes", n, mu)
	perEvent := float64(mu) / float64(max(n, 1))
	t.Logf("hashed per queue-hour: %.0f bytes an event; at 100 events/s for 24 h: %.0f MiB", perEvent, perEvent*8.64e6/(1<<20))
}
