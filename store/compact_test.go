package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
)

// twin commits the same changes to two stores on one Redis: one whose
// history is compacted, one never compacted (the reference).
type twin struct {
	compacted, plain *store.Redis
	prior            map[string]map[string]float64
}

func (w *twin) commit(t *testing.T, queue string, at time.Time, latest map[string]float64) {
	t.Helper()
	for _, s := range []*store.Redis{w.compacted, w.plain} {
		if err := s.Commit(context.Background(), app.Change{QueueID: queue, Latest: latest, Prior: w.prior[queue], At: at}); err != nil {
			t.Fatal(err)
		}
	}
	w.prior[queue] = latest
}

// worst is what a coarse point holds: the worst value of its minutes.
func worst(m app.Metric, vs []float64) float64 {
	w := math.NaN()
	for _, v := range vs {
		switch {
		case math.IsNaN(v):
		case math.IsNaN(w), m.BreachesBelow() && v < w, !m.BreachesBelow() && v > w:
			w = v
		}
	}
	return w
}

// checkTwin compares the compacted store's history with the reference's:
// the same value every minute of yesterday and today (UTC), the worst of
// each 5 minutes before.
func checkTwin(t *testing.T, w *twin, queues []string, metrics []app.Metric, now time.Time) {
	t.Helper()
	ctx := context.Background()
	fine := now.Truncate(24 * time.Hour).Add(-24 * time.Hour)
	for _, q := range queues {
		for _, m := range metrics {
			got, err := w.compacted.MetricHistory(ctx, q, m, now)
			if err != nil {
				t.Fatal(err)
			}
			want, err := w.plain.MetricHistory(ctx, q, m, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s %s at %v: %d series, want %d", q, m, now, len(got), len(want))
			}
			for i := range want {
				g, r := got[i], want[i]
				if g.MediaType != r.MediaType || !g.Start.Equal(r.Start) || g.Step != r.Step || len(g.Values) != len(r.Values) {
					t.Fatalf("%s %s: series %d shaped differently", q, m, i)
				}
				for j, v := range r.Values {
					at := r.Start.Add(time.Duration(j) * time.Minute)
					if !at.Before(fine) {
						if !same(g.Values[j], v) {
							t.Fatalf("%s %s at %v: minute %v = %v, want %v as uncompacted", q, m, now, at, g.Values[j], v)
						}
						continue
					}
					b0 := at.Truncate(5 * time.Minute)
					lo := max(0, int(b0.Sub(r.Start)/time.Minute))
					hi := min(len(r.Values), int(b0.Add(5*time.Minute).Sub(r.Start)/time.Minute))
					// The bucket's minutes before the window start are
					// not in the reference: compare whole buckets only.
					if b0.Before(r.Start) {
						continue
					}
					if wv := worst(m, r.Values[lo:hi]); !same(g.Values[j], wv) {
						t.Fatalf("%s %s at %v: minute %v = %v, want %v (the worst of its 5 minutes)", q, m, now, at, g.Values[j], wv)
					}
				}
			}
		}
	}
}

func same(a, b float64) bool { return math.IsNaN(a) && math.IsNaN(b) || a == b }

// Compaction changes nothing /sla preview reads of yesterday and today,
// and keeps the worst value of every 5 minutes before: checked against a
// store that is never compacted, over 10 days of business-hours traffic
// with gaps, quiet nights and weekends, flat series and days of silence,
// with compaction passes at random moments (a value's carry window still
// open at some of them).
func TestCompactHistoryMatchesRaw(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b rawBackend) {
		w := &twin{compacted: b.s, plain: openStore(t, b.url, b.prefix+"ref:"), prior: map[string]map[string]float64{}}
		rng := rand.New(rand.NewPCG(11, 12))
		queues := []string{q, "3f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a11", "4f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a12"}
		keys := []string{app.LatestKey("voice", app.LongestWait), app.LatestKey("voice", app.ServiceLevel), app.LatestKey("", app.Agents)}
		metrics := []app.Metric{app.LongestWait, app.ServiceLevel, app.Agents}
		start := time.Date(2026, 11, 13, 0, 0, 0, 0, time.UTC) // a Friday
		at := start
		ctx := context.Background()
		var passes, compacted int
		for at.Before(start.Add(10 * 24 * time.Hour)) {
			at = at.Add(time.Duration(1+rng.IntN(90)) * time.Minute)
			h, wd := at.Hour(), at.Weekday()
			business := h >= 8 && h < 20 && wd != time.Saturday && wd != time.Sunday
			if !business && rng.IntN(10) > 0 {
				continue // quiet: mostly nothing at night and at weekends
			}
			for i, queue := range queues {
				if i == 2 && at.Day() == 18 {
					continue // a day of silence for one queue
				}
				latest := map[string]float64{}
				for j, k := range keys {
					switch {
					case i == 1 && j == 2:
						latest[k] = 7 // a flat series
					case j == 1:
						latest[k] = math.Round(rng.Float64()*10000) / 100
					default:
						latest[k] = float64(rng.IntN(400))
					}
				}
				w.commit(t, queue, at, latest)
			}
			if rng.IntN(4) == 0 {
				now := at.Add(time.Duration(rng.IntN(300)) * time.Second)
				st, err := w.compacted.CompactHistory(ctx, now)
				if err != nil {
					t.Fatal(err)
				}
				passes++
				compacted += st.RawDays
				checkTwin(t, w, queues, metrics, now)
			}
		}
		t.Logf("%d passes, %d raw days compacted", passes, compacted)
		if compacted < 20 {
			t.Errorf("only %d raw days compacted in 10 days of 9 series", compacted)
		}
		// Later, with no traffic: the last days' carry windows close, and
		// everything before today gets compacted.
		for _, now := range []time.Time{at.Add(3 * time.Hour), at.Add(30 * time.Hour), at.Add(80 * time.Hour)} {
			if _, err := w.compacted.CompactHistory(ctx, now); err != nil {
				t.Fatal(err)
			}
			checkTwin(t, w, queues, metrics, now)
		}
		for _, k := range b.historyKeys(t) {
			if k[len(k)-2:] != ":c" {
				t.Errorf("raw day %s left after every carry window closed", k)
			}
		}
	})
}

// Yesterday's raw days go once compacted; what remains of a series is one
// compact string, of a size that is a fraction of the raw days'.
func TestCompactHistoryShrinks(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b rawBackend) {
		ctx := context.Background()
		day := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC) // a Monday
		var prior *float64
		rng := rand.New(rand.NewPCG(1, 1))
		for m := 8 * 60; m < 20*60; m++ {
			v := float64(rng.IntN(120))
			point(t, b.s, day.Add(time.Duration(m)*time.Minute), v, prior)
			prior = &v
		}
		raw := b.memory(t, b.dayKey(day))
		st, err := b.s.CompactHistory(ctx, day.Add(24*time.Hour+time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending != 1 || st.RawDays != 0 {
			t.Errorf("a minute after midnight: %+v, want the day pending (its carry window is open until 02:00)", st)
		}
		st, err = b.s.CompactHistory(ctx, day.Add(26*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if st.RawDays != 1 || st.Pending != 0 {
			t.Errorf("at 02:00: %+v, want the day compacted", st)
		}
		keys := b.historyKeys(t)
		if len(keys) != 1 {
			t.Fatalf("history keys %v, want one compact string", keys)
		}
		fine := b.memory(t, keys[0])
		if _, err := b.s.CompactHistory(ctx, day.Add(50*time.Hour)); err != nil {
			t.Fatal(err)
		}
		coarse := b.memory(t, keys[0])
		t.Logf("a business day of one point a minute: raw %d bytes, compact %d, coarse %d", raw, fine, coarse)
		if fine > raw*2/3 || coarse > fine/2 {
			t.Errorf("raw %d bytes, compact %d, coarse %d: want compact < 2/3 raw, coarse < compact/2", raw, fine, coarse)
		}
		st, err = b.s.CompactHistory(ctx, day.Add(50*time.Hour+time.Minute))
		if err != nil || !st.Skipped {
			t.Errorf("second pass of the day: %+v, %v; want skipped", st, err)
		}
		// The window's first minute is 02:01 of the next Tuesday: the day
		// and the 6 hours its last value was carried are out of it.
		series, err := b.s.MetricHistory(ctx, q, app.LongestWait, day.Add(8*24*time.Hour+2*time.Hour))
		if err != nil || len(series) != 0 {
			t.Errorf("8 days later: %d series, %v; want none", len(series), err)
		}
		series, err = b.s.MetricHistory(ctx, q, app.LongestWait, day.Add(8*24*time.Hour+time.Hour))
		if err != nil || len(series) != 1 {
			t.Errorf("8 days less an hour later: %d series, %v; want the carried value's", len(series), err)
		}
		if _, err := b.s.CompactHistory(ctx, day.Add(9*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if keys := b.historyKeys(t); len(keys) != 0 {
			t.Errorf("out of the window, history keys %v remain", keys)
		}
	})
}

// A value's carry over midnight: the day is compacted only once the carry
// window has closed, the compactor fills the carry (into today too) with
// the latest value, and the next point adds no second carry.
func TestCompactHistoryCarryOverMidnight(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b rawBackend) {
		ctx := context.Background()
		w := &twin{compacted: b.s, plain: openStore(t, b.url, b.prefix+"ref:"), prior: map[string]map[string]float64{}}
		k := app.LatestKey("voice", app.LongestWait)
		day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		w.commit(t, q, day.Add(22*time.Hour), map[string]float64{k: 40})
		w.commit(t, q, day.Add(23*time.Hour), map[string]float64{k: 70})
		st, err := b.s.CompactHistory(ctx, day.Add(28*time.Hour+59*time.Minute)) // 04:59: window open until 05:00
		if err != nil || st.Pending != 1 || st.RawDays != 0 {
			t.Fatalf("at 04:59: %+v, %v; want the day pending", st, err)
		}
		st, err = b.s.CompactHistory(ctx, day.Add(29*time.Hour+time.Minute))
		if err != nil || st.RawDays != 1 {
			t.Fatalf("at 05:01: %+v, %v; want the day compacted", st, err)
		}
		now := day.Add(30 * time.Hour)
		nan := math.NaN()
		got := valuesAt(t, b.s, now, day, 22*60, 23*60-1, 23*60, 23*60+1, 24*60, 29*60, 29*60+1, 30*60)
		want := []float64{40, 40, 70, 70, 70, 70, nan, nan}
		if !sameValues(got, want) {
			t.Errorf("after compaction: %v, want %v", got, want)
		}
		checkTwin(t, w, []string{q}, []app.Metric{app.LongestWait}, now)
		// The next point: no carry from the compacted day on top of the
		// compactor's.
		w.commit(t, q, day.Add(32*time.Hour), map[string]float64{k: 10})
		now = day.Add(32*time.Hour + time.Minute)
		got = valuesAt(t, b.s, now, day, 29*60, 29*60+1, 32*60-1, 32*60, 32*60+1)
		want = []float64{70, nan, nan, 10, 10}
		if !sameValues(got, want) {
			t.Errorf("after the next point: %v, want %v", got, want)
		}
		checkTwin(t, w, []string{q}, []app.Metric{app.LongestWait}, now)
	})
}

// A compact string that does not decode is left out of previews (which
// still answer from the raw days) and replaced by the next pass.
func TestCompactHistoryCorrupt(t *testing.T) {
	forEachRawBackend(t, func(t *testing.T, b rawBackend) {
		ctx := context.Background()
		day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		point(t, b.s, day.Add(9*time.Hour), 50, nil)
		ck := fmt.Sprintf("%s{%s}:h:%s:c", b.prefix, q, app.LatestKey("voice", app.LongestWait))
		if err := b.rdb.Set(ctx, ck, "\x01\x80garbage", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got := valuesAt(t, b.s, day.Add(10*time.Hour), day, 9*60); !sameValues(got, []float64{50}) {
			t.Errorf("with a corrupt compact string: %v, want [50] from the raw day", got)
		}
		if _, err := b.s.CompactHistory(ctx, day.Add(40*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := valuesAt(t, b.s, day.Add(40*time.Hour), day, 9*60, 9*60+1); !sameValues(got, []float64{50, 50}) {
			t.Errorf("after the pass: %v, want [50 50] (the point and its carry)", got)
		}
	})
}
