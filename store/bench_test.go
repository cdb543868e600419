package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// redisMicros is the CPU time Redis spent in EVALSHA (nested calls
// included) since the last CONFIG RESETSTAT.
func redisMicros(b *testing.B, rdb *redis.Client) (calls, usec float64) {
	b.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for f := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "calls":
				calls, _ = strconv.ParseFloat(v, 64)
			case "usec":
				usec, _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return calls, usec
}

// BenchmarkCommit measures the commit of one webhook event on a cached
// snapshot, as the engine makes it: "observe" changes only the queue's
// latest value, "alert" also rewrites its firing alert. Besides Go's
// figures it reports the Redis CPU time of each commit (redis-µs/op), the
// part every replica shares.
func BenchmarkCommit(b *testing.B) {
	// reference is the harness baseline's script (bench/baseline), run the
	// same way: the floor any commit is measured against.
	reference := redis.NewScript(`
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0`)
	for _, kind := range []string{"reference", "observe", "alert"} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			url := redistest.URL(b)
			s, err := store.New(ctx, url, store.Options{Prefix: redistest.Prefix(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			opt, _ := redis.ParseURL(url)
			rdb := redis.NewClient(opt)
			defer rdb.Close()

			const queues = 1000
			versions := make([]int64, queues)
			alertVersions := make([]int64, queues)
			at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
			commit := func(i int) {
				qi := i % queues
				qid := fmt.Sprintf("q-%04d", qi)
				if kind == "reference" {
					q := "bench:{" + qid + "}"
					if err := reference.Run(ctx, rdb, []string{q + ":seen:" + strconv.Itoa(i), q + ":queue"}, 86400, "waiting", 300+i%7).Err(); err != nil {
						b.Fatal(err)
					}
					return
				}
				c := app.Change{QueueID: qid, EventKey: "ev-" + strconv.Itoa(i), Known: versions[qi] > 0,
					Expect: &app.Versions{Queue: versions[qi]}, At: at,
					Latest: map[string]float64{app.LatestKey("voice", app.LongestWait): float64(300 + i%7)}}
				if kind == "alert" {
					a := app.Alert{ID: app.AlertID(qid, "voice", app.LongestWait), QueueID: qid, QueueName: "Queue " + qid,
						MediaType: "voice", Metric: app.LongestWait, State: app.StateFiring, Value: float64(300 + i%7),
						Threshold: 300, Episode: 1, Channel: "C1", FiredAt: at, NotifiedAt: at, Dirty: true}
					c.Alerts = []app.AlertWrite{{Alert: a, Version: alertVersions[qi], Due: at.Add(30 * time.Second)}}
				}
				if err := s.Commit(ctx, c); err != nil {
					b.Fatal(err)
				}
				versions[qi]++
				alertVersions[qi]++
			}
			for i := range queues { // every queue known, every series written this minute
				commit(i)
			}
			if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				commit(queues + i)
			}
			b.StopTimer()
			calls, usec := redisMicros(b, rdb)
			if calls > 0 {
				b.ReportMetric(usec/calls, "redis-µs/op")
			}
		})
	}
}

// BenchmarkHistoryWrite measures the commit script's history write late in
// a day, when today's string already holds 18 hours of points: each commit
// is a queue's first event of a new minute, so it writes one point. It
// reports the Redis CPU time of each commit (redis-µs/op).
func BenchmarkHistoryWrite(b *testing.B) {
	const queues = 200
	ctx := context.Background()
	url := redistest.URL(b)
	s, err := store.New(ctx, url, store.Options{Prefix: "bench:"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	k := app.LatestKey("voice", app.LongestWait)
	full := make([]byte, 2*18*60)
	for i := range full {
		full[i] = 1
	}
	for qi := range queues {
		key := fmt.Sprintf("bench:{q-%04d}:h:%s:%d", qi, k, day.Unix()/86400)
		if err := rdb.Set(ctx, key, full, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	_ = rdb.ConfigResetStat(ctx).Err()
	b.ResetTimer()
	for i := range b.N {
		minute := 18*60 + i/queues
		if minute >= 24*60 {
			b.Fatal("past the day: use -benchtime at most 200000x")
		}
		c := app.Change{QueueID: fmt.Sprintf("q-%04d", i%queues), At: day.Add(time.Duration(minute) * time.Minute),
			Latest: map[string]float64{k: float64(i % 600)}, Prior: map[string]float64{k: 1}}
		if err := s.Commit(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	calls, usec := redisMicros(b, rdb)
	if calls > 0 {
		b.ReportMetric(usec/calls, "redis-µs/op")
	}
}
