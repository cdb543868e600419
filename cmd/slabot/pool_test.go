package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// The real binary opens at most REDIS_POOL_SIZE connections to Redis, and
// at most 10 (store.DefaultPoolSize) without it, however many webhooks
// arrive at once and however slow Redis is: 64 senders post webhooks
// without pause and 8 health checkers poll /readyz (a Redis PING each)
// while the test pauses Redis (CLIENT PAUSE, 150 ms at a time) so that
// commands pile up, each waiting on a connection of its own if the pool
// lets it. slabot has no Redis connection outside its pool (no pub/sub;
// the outbox consumer's blocking XREADGROUP takes a pool connection), so
// the bound is the pool size itself. Connections are counted with CLIENT
// LIST, the test's own left out.
func TestRedisPoolSizeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, c := range []struct {
		name, size string // REDIS_POOL_SIZE; "" unset
		most       int
	}{{"REDIS_POOL_SIZE=4", "4", 4}, {"default", "", store.DefaultPoolSize}} {
		t.Run(c.name, func(t *testing.T) {
			most, p := poolPeak(t, c.size)
			t.Logf("at most %d connections (REDIS_POOL_SIZE %q)", most, c.size)
			if most > c.most {
				t.Errorf("slabot held %d connections to Redis, want at most %d (REDIS_POOL_SIZE %q)\n%s", most, c.most, c.size, p.out.String())
			}
			if most < 2 {
				t.Errorf("only %d connections seen: the load did not reach Redis", most)
			}
		})
	}
}

// poolPeak runs slabot with REDIS_POOL_SIZE size ("" unset) against a
// private redis-server under the load described above, and returns the
// most connections it held at once.
func poolPeak(t *testing.T, size string) (int, *process) {
	t.Helper()
	slack := newFakeSlack(t)
	rs := redistest.Start(t)
	vars := map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s", "SLACK_CHANNEL_ID": "C0ALERTS",
		"SLACK_API_URL": slack.URL + "/", "REDIS_URL": rs.URL, "GENESYS_WEBHOOK_TOKEN": "hook", "LOG_LEVEL": "warn",
	}
	if size != "" {
		vars["REDIS_POOL_SIZE"] = size
	}
	p := startSlabot(t, vars)

	opt, err := redis.ParseURL(rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	opt.PoolSize, opt.MaxActiveConns = 1, 1 // the sampler: one connection, left out of the count
	sampler := redis.NewClient(opt)
	t.Cleanup(func() { sampler.Close() })
	ctx := context.Background()
	self, err := sampler.ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	conns := func() int {
		list, err := sampler.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for line := range strings.SplitSeq(strings.TrimSpace(list), "\n") {
			if line != "" && !strings.HasPrefix(line, fmt.Sprintf("id=%d ", self)) {
				n++
			}
		}
		return n
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[int]int{}
	load := func(do func(client *http.Client, n int) (*http.Response, error)) {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := do(client, n)
				if err != nil {
					continue
				}
				resp.Body.Close()
				mu.Lock()
				answers[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	for s := range 64 {
		load(func(client *http.Client, n int) (*http.Response, error) {
			q := fmt.Sprintf("q-%d-%d", s, n%20)
			body := fmt.Sprintf(`{"id":"ev-%d-%d","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":%q,"metric":"waiting","value":%d}}`, s, n, q, n%30)
			req, _ := http.NewRequest(http.MethodPost, p.url+"/webhook/genesys", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer hook")
			return client.Do(req)
		})
	}
	for range 8 {
		load(func(client *http.Client, _ int) (*http.Response, error) { return client.Get(p.url + "/readyz") })
	}
	most := 0
	for range 30 {
		most = max(most, conns())
		// Commands pile up during the pause; CLIENT LIST runs in it, or
		// (if Redis pauses the sampler too) just after it, and counts
		// every connection opened meanwhile.
		if err := sampler.ClientPause(ctx, 150*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		most = max(most, conns())
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("answers by status: %v", answers)
	if answers[http.StatusOK] == 0 {
		t.Fatalf("no request answered 200: the load did not run\n%s", p.out.String())
	}
	return most, p
}
