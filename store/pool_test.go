package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// A replica opens at most PoolSize connections, however many goroutines
// use the store at once: commits, loads, single commands, and outbox
// consumers blocked in XREADGROUP.
func TestPoolSize(t *testing.T) {
	const size = 5
	srv := redistest.Start(t)
	ctx := context.Background()
	s, err := store.New(ctx, srv.URL, store.Options{Prefix: "slabot:", PoolSize: size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	opt, _ := redis.ParseURL(srv.URL)
	rdb := redis.NewClient(opt) // the sampler: one connection of its own
	t.Cleanup(func() { rdb.Close() })
	clients := func() int {
		info, err := rdb.Info(ctx, "clients").Result()
		if err != nil {
			t.Error(err)
			return 0
		}
		for line := range strings.SplitSeq(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
				n, _ := strconv.Atoi(v)
				return n - 1
			}
		}
		return 0
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = s.Receive(ctx, fmt.Sprintf("c%d", i), 10, 200*time.Millisecond)
			}
		})
	}
	for i := range 40 {
		wg.Go(func() {
			id := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				c := app.Change{QueueID: id, Latest: map[string]float64{app.LatestKey("voice", app.Waiting): float64(n)},
					At: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)}
				_ = s.Commit(ctx, c)
				_, _ = s.Load(ctx, id, "", nil)
				_ = s.Ping(ctx)
				_, _ = s.MetricHistory(ctx, id, app.Waiting, c.At)
			}
		})
	}
	most := 0
	for range 100 {
		most = max(most, clients())
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("at most %d connections with PoolSize %d, 40 busy goroutines and 3 blocked consumers", most, size)
	if most > size {
		t.Errorf("%d connections open, want at most %d", most, size)
	}
	if most < 3 {
		t.Errorf("only %d connections seen: the load did not run", most)
	}
}
