package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// TestMeasureHistoryMemory measures, on a private redis-server, the memory
// of 7 days of metric history for 1,000 queues with one media type each
// (5 series a queue: longest wait, waiting, service level and abandon rate
// for voice, agents on queue). Every series gets a point every 6 hours
// through the commit script, which carries each value over the minutes in
// between: a full week of one point a minute. It takes a minute or so, so
// it runs only with SLABOT_MEASURE_HISTORY=1:
//
//	SLABOT_MEASURE_HISTORY=1 go test ./store -run MeasureHistoryMemory -v
func TestMeasureHistoryMemory(t *testing.T) {
	if os.Getenv("SLABOT_MEASURE_HISTORY") == "" {
		t.Skip("set SLABOT_MEASURE_HISTORY=1 to measure")
	}
	const queues = 1000
	ctx := context.Background()
	srv := redistest.Start(t)
	s, err := store.New(ctx, srv.URL, store.Options{Prefix: "slabot:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opt, _ := redis.ParseURL(srv.URL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()

	before := usedMemory(t, rdb)
	start := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	end := start.Add(7 * 24 * time.Hour)
	keys := []string{app.LatestKey("voice", app.LongestWait), app.LatestKey("voice", app.Waiting),
		app.LatestKey("voice", app.ServiceLevel), app.LatestKey("voice", app.AbandonRate), app.LatestKey("", app.Agents)}
	began := time.Now()
	for i := range queues {
		id := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
		var prior map[string]float64
		for at := start; at.Before(end); at = at.Add(6 * time.Hour) {
			latest := make(map[string]float64, len(keys))
			for j, k := range keys {
				latest[k] = float64((i+j+int(at.Unix()/3600))%90) + 10
			}
			if err := s.Commit(ctx, app.Change{QueueID: id, Latest: latest, Prior: prior, At: at}); err != nil {
				t.Fatal(err)
			}
			prior = latest
		}
	}
	t.Logf("wrote 7 days of history for %d queues × %d series in %v", queues, len(keys), time.Since(began).Round(time.Second))

	var sum, n int64
	series := make(map[string]int) // day keys of each series
	iter := rdb.Scan(ctx, 0, "slabot:{*}:h:*", 1000).Iterator()
	for iter.Next(ctx) {
		b, err := rdb.MemoryUsage(ctx, iter.Val(), 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		sum += b
		n++
		series[iter.Val()[:strings.LastIndexByte(iter.Val(), ':')]]++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	after := usedMemory(t, rdb)
	version, _ := rdb.InfoMap(ctx, "server").Result()
	t.Logf("redis-server %s", version["Server"]["redis_version"])
	t.Logf("history keys: %d (%d series); MEMORY USAGE sum: %d bytes (%.1f MiB), %d bytes a series, %.1f KiB a queue",
		n, len(series), sum, float64(sum)/(1<<20), sum/int64(max(len(series), 1)), float64(sum)/queues/1024)
	t.Logf("used_memory: %d → %d bytes (+%.1f MiB, queue hashes and names included)", before, after, float64(after-before)/(1<<20))
	if len(series) != queues*len(keys) {
		t.Errorf("%d history series, want %d", len(series), queues*len(keys))
	}
	for s, days := range series {
		if days > 8 {
			t.Errorf("series %s has %d day keys, want at most 8", s, days)
			break
		}
	}
}

func usedMemory(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("INFO memory has no used_memory")
	return 0
}
