package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// The synthetic week of metric history that the memory target is measured
// on. Queues are of three kinds:
//
//   - polled (40 %): slabot polls Genesys every minute, so every series
//     has a point every minute of the day: noisy values in business hours
//     (08:00–20:00 UTC, Monday to Friday), zeros (and 100 % service level)
//     outside them.
//   - evented (50 %): webhook notifications only: a point every minute of
//     business hours (values change, or the script carries them), the
//     last value carried 6 hours into the evening, nothing else.
//   - flat (10 %): evented, but every value stays the same all week (an
//     idle queue: waiting 0, service level 100 %, the same agents).
//
// Each queue has the five metrics of one media type. Business-hours
// values: waiting a random walk of ±2 in 0–15; longest wait growing 60 s a
// minute while calls wait, and jumping to a new oldest caller when one is
// answered; service level a random walk of ±1.5 points in 40–100 %;
// abandon rate ±0.5 points in 0–30 %; agents on queue 10–25, changing by
// one about every 10 minutes. Values are what the raw day strings hold
// (codes of encodePoint), written as the commit script leaves them.
const (
	simPolled = iota
	simEvented
	simFlat
)

var simKeys = simKeysOf("voice")

// simKeysOf are the series of a queue with these media types: five each.
func simKeysOf(media ...string) []string {
	var out []string
	for _, m := range media {
		out = append(out, app.LatestKey(m, app.LongestWait), app.LatestKey(m, app.Waiting),
			app.LatestKey(m, app.ServiceLevel), app.LatestKey(m, app.AbandonRate), app.LatestKey(m, app.Agents))
	}
	return out
}

func simKind(i int) int {
	switch i % 10 {
	case 0, 1, 2, 3:
		return simPolled
	case 9:
		return simFlat
	}
	return simEvented
}

// simDay is one day of the five series of queue i: points[k][minute],
// 0 where the raw string has no point.
func simDay(i int, day time.Time) [][]uint16 {
	rng := rand.New(rand.NewPCG(uint64(i), uint64(day.Unix())))
	out := make([][]uint16, len(simKeys))
	for k := range out {
		out[k] = make([]uint16, 24*60)
	}
	kind := simKind(i)
	weekday := day.Weekday() != time.Saturday && day.Weekday() != time.Sunday
	waiting, wait, sl, ab, agents := 2, 0, 9000, 300, 10+rng.IntN(15)
	for m := range 24 * 60 {
		business := weekday && m >= 8*60 && m < 20*60
		switch {
		case kind == simFlat:
			if business || weekday && m >= 20*60 && m < 26*60 {
				for k, v := range []int{1, 1, 10001, 1, 13} {
					out[k][m] = uint16(v)
				}
			}
			continue
		case !business && kind == simPolled:
			for k, v := range []int{1, 1, 10001, 1, 1} {
				out[k][m] = uint16(v)
			}
			continue
		case !business:
			// Evented: the evening carry of the day's last values (the
			// morning's is the day before's, written into this day).
			if weekday && m >= 20*60 && m < 24*60 || m < 2*60 && day.Add(-time.Hour).Weekday() != time.Saturday && day.Add(-time.Hour).Weekday() != time.Sunday {
				for k, v := range []int{1, 1, sl + 1, ab + 1, agents + 1} {
					out[k][m] = uint16(v)
				}
			}
			continue
		}
		waiting = max(0, min(15, waiting+rng.IntN(5)-2))
		switch {
		case waiting == 0:
			wait = 0
		case rng.IntN(3) == 0:
			wait = rng.IntN(max(1, wait))
		default:
			wait += 60
		}
		sl = max(4000, min(10000, sl+rng.IntN(301)-150))
		ab = max(0, min(3000, ab+rng.IntN(101)-50))
		if rng.IntN(10) == 0 {
			agents = max(10, min(25, agents+rng.IntN(3)-1))
		}
		for k, v := range []int{min(wait, 65000), waiting, sl, ab, agents} {
			out[k][m] = uint16(v + 1)
		}
	}
	return out
}

// rawString is what the commit script leaves of a day's points up to
// minute upto: 2 bytes a minute up to its last point.
func rawString(pts []uint16, upto int) []byte {
	last := -1
	for m := 0; m < upto && m < len(pts); m++ {
		if pts[m] != 0 {
			last = m
		}
	}
	b := make([]byte, 2*(last+1))
	for m := 0; m <= last; m++ {
		b[2*m], b[2*m+1] = byte(pts[m]>>8), byte(pts[m])
	}
	return b
}

func simQueueID(i int) string { return fmt.Sprintf("%08d-0000-4000-8000-000000000000", i) }

// simHistory fills Redis with queues' history as the commit script and a
// compactor running every minute would leave it, day by day from start
// to end; at each moment of measure (if any) it calls measure.
type simHistory struct {
	keys    []string // default simKeys; five a media type, as simKeysOf
	rdb     *redis.Client
	s       *store.Redis
	prefix  string
	queues  int
	measure func(now time.Time)
}

func (h simHistory) seriesKey(i, k int) string {
	return h.prefix + "{" + simQueueID(i) + "}:h:" + h.seriesKeys()[k]
}

func (h simHistory) seriesKeys() []string {
	if h.keys == nil {
		return simKeys
	}
	return h.keys
}

// points is a day of queue i's series, in the order of seriesKeys.
func (h simHistory) points(i int, day time.Time) [][]uint16 {
	var out [][]uint16
	for m := range len(h.seriesKeys()) / len(simKeys) {
		out = append(out, simDay(i+m*100_003, day)...)
	}
	return out
}

// register makes the queues known, with latest values, as events do.
func (h simHistory) register(t testing.TB, at time.Time) {
	t.Helper()
	for i := range h.queues {
		latest := make(map[string]float64, len(h.seriesKeys()))
		for _, k := range h.seriesKeys() {
			latest[k] = 0
		}
		// No At: the commit writes no history point.
		if err := h.s.Commit(context.Background(), app.Change{QueueID: simQueueID(i), Latest: latest}); err != nil {
			t.Fatal(err)
		}
	}
	_ = at
}

// run simulates the days from start to end (exclusive), compacting every
// hour and at each moment in moments (offsets into a day).
func (h simHistory) run(t testing.TB, start, end time.Time, moments []time.Duration, measureFrom time.Time) {
	t.Helper()
	ctx := context.Background()
	for day := start; day.Before(end); day = day.Add(24 * time.Hour) {
		dayNum := day.Unix() / 86400
		points := make([][][]uint16, h.queues)
		for i := range h.queues {
			points[i] = h.points(i, day)
		}
		// Today's strings grow a quarter hour at a time, each rewritten
		// whole as the script does.
		written := make([][]int, h.queues)
		for i := range written {
			written[i] = make([]int, len(h.seriesKeys()))
		}
		grow := func(upto int) {
			pipe := h.rdb.Pipeline()
			for i := range h.queues {
				for k := range h.seriesKeys() {
					b := rawString(points[i][k], upto)
					if len(b) > written[i][k] {
						key := fmt.Sprintf("%s:%d", h.seriesKey(i, k), dayNum)
						pipe.Set(ctx, key, b, 9*24*time.Hour)
						written[i][k] = len(b)
					}
				}
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		next := 0
		for m := 15; m <= 24*60; m += 15 {
			grow(m)
			now := day.Add(time.Duration(m)*time.Minute - time.Second)
			if m%60 == 0 || m == 15 {
				if _, err := h.s.CompactHistory(ctx, now); err != nil {
					t.Fatal(err)
				}
			}
			for next < len(moments) && time.Duration(m)*time.Minute >= moments[next] {
				if h.measure != nil && !day.Before(measureFrom) {
					at := day.Add(moments[next])
					if _, err := h.s.CompactHistory(ctx, at); err != nil {
						t.Fatal(err)
					}
					h.measure(at)
				}
				next++
			}
		}
		// The day's string complete (the carry of the next day's first
		// write included).
		pipe := h.rdb.Pipeline()
		for i := range h.queues {
			for k := range h.seriesKeys() {
				key := fmt.Sprintf("%s:%d", h.seriesKey(i, k), dayNum)
				if written[i][k] > 0 {
					pipe.Set(ctx, key, rawString(points[i][k], 24*60), 9*24*time.Hour)
				}
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// historyMemory sums MEMORY USAGE over every history key.
func historyMemory(t testing.TB, rdb *redis.Client, prefix string) (raw, compact int64) {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"{*}:h:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	pipe := rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.MemoryUsage(ctx, k, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if strings.HasSuffix(k, ":c") {
			compact += cmds[i].Val()
		} else {
			raw += cmds[i].Val()
		}
	}
	return raw, compact
}

// TestMeasureCompactHistory measures, on a private redis-server, the
// memory of a week of the synthetic history above (SIM_QUEUES queues,
// default 200: 1,000 series), compacted by CompactHistory as it runs in
// slabot, at six moments of each day of the second week (after a first
// week that fills the window). It reports bytes per series-minute of the
// 7-day window. Run with:
//
//	SLABOT_MEASURE_HISTORY=1 go test ./store -run MeasureCompactHistory -v
func TestMeasureCompactHistory(t *testing.T) {
	if os.Getenv("SLABOT_MEASURE_HISTORY") == "" {
		t.Skip("set SLABOT_MEASURE_HISTORY=1 to measure")
	}
	queues := 200
	if n, err := fmt.Sscan(os.Getenv("SIM_QUEUES"), &queues); n == 1 && err == nil {
		t.Logf("%d queues", queues)
	}
	srv := redistest.Start(t)
	opt, _ := redis.ParseURL(srv.URL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	s, err := store.New(context.Background(), srv.URL, store.Options{Prefix: "slabot:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC) // a Monday
	series := float64(queues * len(simKeys))
	var worst, sum float64
	var n int
	h := simHistory{rdb: rdb, s: s, prefix: "slabot:", queues: queues}
	h.register(t, start)
	h.measure = func(now time.Time) {
		raw, compact := historyMemory(t, rdb, "slabot:")
		per := float64(raw+compact) / series / (7 * 24 * 60)
		worst, sum, n = max(worst, per), sum+per, n+1
		t.Logf("%s %s: raw days %7.1f KiB, compact %7.1f KiB: %.3f byte per series-minute",
			now.Weekday().String()[:3], now.Format("15:04"), float64(raw)/1024, float64(compact)/1024, per)
	}
	moments := []time.Duration{time.Minute, 2*time.Hour + 5*time.Minute, 6 * time.Hour, 12 * time.Hour, 20 * time.Hour, 24*time.Hour - time.Minute}
	h.run(t, start, start.Add(14*24*time.Hour), moments, start.Add(7*24*time.Hour))
	t.Logf("over %d moments of the week: mean %.3f, worst %.3f byte per series-minute (%d series)", n, sum/float64(n), worst, int(series))
	if worst > 0.5 {
		t.Errorf("worst %.3f byte per series-minute, want at most 0.5", worst)
	}
}

// BenchmarkMetricHistoryWeek reads and decodes a week of history of 1,000
// series (200 queues × 5 metrics of the synthetic week above, compacted as
// slabot keeps it, at 23:59 on a Friday: today's raw string the longest),
// one MetricHistory call per queue and metric as /sla preview makes them.
// It reports the time for all 1,000 (ms/1000-series); the target is under
// 1 s. Preview of the default rule reads at most 100 queues.
//
//	go test ./store -run '^$' -bench MetricHistoryWeek -benchtime 5x
func BenchmarkMetricHistoryWeek(b *testing.B) {
	const queues = 200
	srv := redistest.Start(b)
	opt, _ := redis.ParseURL(srv.URL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	s, err := store.New(ctx, srv.URL, store.Options{Prefix: "slabot:"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC) // a Monday
	h := simHistory{rdb: rdb, s: s, prefix: "slabot:", queues: queues}
	h.register(b, start)
	h.run(b, start, start.Add(12*24*time.Hour), nil, start)
	now := start.Add(12*24*time.Hour - time.Minute) // Friday 23:59
	metrics := []app.Metric{app.LongestWait, app.Waiting, app.ServiceLevel, app.AbandonRate, app.Agents}
	var points int
	b.ResetTimer()
	for b.Loop() {
		points = 0
		for i := range queues {
			for _, m := range metrics {
				series, err := s.MetricHistory(ctx, simQueueID(i), m, now)
				if err != nil {
					b.Fatal(err)
				}
				for _, sr := range series {
					points += len(sr.Values)
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/1000-series")
	if points != queues*len(metrics)*7*24*60 {
		b.Fatalf("%d points read, want %d", points, queues*len(metrics)*7*24*60)
	}
}
