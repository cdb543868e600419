package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// point commits one observation of q's voice longest wait at t, with the
// value it replaces.
func point(t *testing.T, s *store.Redis, at time.Time, v float64, prior *float64) {
	t.Helper()
	k := app.LatestKey("voice", app.LongestWait)
	c := app.Change{QueueID: q, Latest: map[string]float64{k: v}, At: at}
	if prior != nil {
		c.Prior = map[string]float64{k: *prior}
	}
	if err := s.Commit(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}

// valuesAt reads the history at the given minutes after start.
func valuesAt(t *testing.T, s *store.Redis, now, start time.Time, minutes ...int) []float64 {
	t.Helper()
	series, err := s.MetricHistory(context.Background(), q, app.LongestWait, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || series[0].MediaType != "voice" || series[0].Step != time.Minute || len(series[0].Values) != 7*24*60 {
		t.Fatalf("series = %d, want one voice series of 7 days of minutes", len(series))
	}
	sr := series[0]
	out := make([]float64, len(minutes))
	for i, m := range minutes {
		out[i] = sr.Values[int(start.Add(time.Duration(m)*time.Minute).Sub(sr.Start)/time.Minute)]
	}
	return out
}

func sameValues(got, want []float64) bool {
	for i := range got {
		if math.IsNaN(want[i]) != math.IsNaN(got[i]) || !math.IsNaN(want[i]) && got[i] != want[i] {
			return false
		}
	}
	return len(got) == len(want)
}

func f(v float64) *float64 { return &v }

func TestMetricHistory(t *testing.T) {
	nan := math.NaN()
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		point(t, s, start.Add(10*time.Second), 60, nil)
		point(t, s, start.Add(40*time.Second), 99, f(60)) // same minute: the first value stays
		point(t, s, start.Add(5*time.Minute), 400, f(99)) // minutes 1-4 held 99
		point(t, s, start.Add(7*time.Minute+30*time.Second), 120.4, f(400))
		now := start.Add(9 * time.Minute)
		got := valuesAt(t, s, now, start, -1, 0, 1, 4, 5, 6, 7, 8, 9)
		// Minutes 8 and 9: nothing written, the latest value held.
		want := []float64{nan, 60, 99, 99, 400, 400, 120, 120.4, 120.4}
		if !sameValues(got, want) {
			t.Errorf("history = %v, want %v", got, want)
		}

		// A 10-hour gap: the value is assumed to hold 6 hours, no longer.
		later := start.Add(7*time.Minute + 10*time.Hour)
		point(t, s, later, 30, f(120.4))
		got = valuesAt(t, s, later, start, 8, 7+360, 7+361, 7+599, 7+600)
		want = []float64{120, 120, nan, nan, 30}
		if !sameValues(got, want) {
			t.Errorf("after a gap: %v, want %v", got, want)
		}

		// Eight days on, the ring holds nothing older than 7 days.
		much := later.Add(8 * 24 * time.Hour)
		point(t, s, much, 45, nil)
		series, err := s.MetricHistory(context.Background(), q, app.LongestWait, much)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range series[0].Values {
			if !math.IsNaN(v) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d points after 8 days without data, want only the new one", n)
		}
	})
}

func TestMetricHistoryEncoding(t *testing.T) {
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		metric app.Metric
		in     float64
		want   float64
	}{
		{app.LongestWait, 312.6, 313},
		{app.LongestWait, 200000, 65534}, // capped at 18 h: far past any threshold
		{app.Waiting, 14, 14},
		{app.ServiceLevel, 61.904, 61.9},
		{app.ServiceLevel, 100, 100},
		{app.AbandonRate, 12.345, 12.35},
		{app.Agents, 0, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.metric, tt.in), func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, s *store.Redis) {
				k := app.LatestKey("voice", tt.metric)
				if err := s.Commit(context.Background(), app.Change{QueueID: q, Latest: map[string]float64{k: tt.in}, At: start}); err != nil {
					t.Fatal(err)
				}
				series, err := s.MetricHistory(context.Background(), q, tt.metric, start)
				if err != nil || len(series) != 1 {
					t.Fatalf("MetricHistory = %v, %v", series, err)
				}
				if got := series[0].Values[len(series[0].Values)-1]; math.Abs(got-tt.want) > 1e-9 {
					t.Errorf("stored %v, read back %v, want %v", tt.in, got, tt.want)
				}
			})
		})
	}
}

func TestMetricHistoryNone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		series, err := s.MetricHistory(context.Background(), q, app.Waiting, time.Now())
		if err != nil || len(series) != 0 {
			t.Errorf("MetricHistory of an unknown queue = %v, %v", series, err)
		}
		// A change without a time (an action) records no history.
		if err := s.Commit(context.Background(), app.Change{QueueID: q, Latest: map[string]float64{app.LatestKey("", app.Waiting): 3}}); err != nil {
			t.Fatal(err)
		}
		series, err = s.MetricHistory(context.Background(), q, app.Waiting, time.Now())
		if err != nil || len(series) != 0 {
			t.Errorf("history without At = %v, %v", series, err)
		}
	})
}

// rawBackend is a store with a client of its own on the same Redis, to
// look at the keys the store writes.
type rawBackend struct {
	s      *store.Redis
	rdb    *redis.Client
	url    string
	prefix string
}

// forEachRawBackend runs test against a real redis-server and against
// miniredis (what the embedded store runs on), each seen through a raw
// client too.
func forEachRawBackend(t *testing.T, test func(t *testing.T, b rawBackend)) {
	urls := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"redis", func(t *testing.T) string { return redistest.URL(t) }},
		{"embedded", func(t *testing.T) string { return "redis://" + miniredis.RunT(t).Addr() }},
	}
	for _, u := range urls {
		t.Run(u.name, func(t *testing.T) {
			b := rawBackend{url: u.url(t), prefix: redistest.Prefix(t)}
			b.s = openStore(t, b.url, b.prefix)
			opt, err := redis.ParseURL(b.url)
			if err != nil {
				t.Fatal(err)
			}
			b.rdb = redis.NewClient(opt)
			t.Cleanup(func() { b.rdb.Close() })
			test(t, b)
		})
	}
}

func openStore(t *testing.T, url, prefix string) *store.Redis {
	t.Helper()
	s, err := store.New(context.Background(), url, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// historyKeys are the Redis keys of q's metric history.
func (b rawBackend) historyKeys(t *testing.T) []string {
	t.Helper()
	keys, err := b.rdb.Keys(context.Background(), b.prefix+"{"+q+"}:h:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// dayKey is the key of the day of at in q's voice longest-wait series.
func (b rawBackend) dayKey(at time.Time) string {
	return fmt.Sprintf("%s{%s}:h:%s:%d", b.prefix, q, app.LatestKey("voice", app.LongestWait), at.Unix()/86400)
}

func (b rawBackend) strlen(t *testing.T, key string) int64 {
	t.Helper()
	n, err := b.rdb.StrLen(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (b rawBackend) memory(t *testing.T, key string) int64 {
	t.Helper()
	n, err := b.rdb.MemoryUsage(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A series costs what it holds: one point at minute 10 of a day is one
// small string, not a week of padding.
func TestMetricHistoryMemory(t *testing.T) {
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	forEachRawBackend(t, func(t *testing.T, b rawBackend) {
		ctx := context.Background()
		point(t, b.s, day.Add(10*time.Minute), 60, nil)
		keys := b.historyKeys(t)
		if len(keys) != 1 || keys[0] != b.dayKey(day) {
			t.Fatalf("history keys = %q, want only %q", keys, b.dayKey(day))
		}
		if got, want := b.strlen(t, keys[0]), int64(2*11); got != want {
			t.Errorf("STRLEN = %d, want %d (minutes 0-10 of the day)", got, want)
		}
		if got := b.memory(t, keys[0]); got > 300 {
			t.Errorf("MEMORY USAGE = %d bytes, want under 300", got)
		}
		ttl, err := b.rdb.TTL(ctx, keys[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		// Kept until 06:00 eight days on: the first minutes of a 7-day
		// window may still be carried from the day's last point.
		if want := 8*24*time.Hour + 6*time.Hour - 10*time.Minute; ttl < want-time.Minute || ttl > want {
			t.Errorf("TTL = %v, want %v", ttl, want)
		}

		// A full day, grown by SETRANGE, is rewritten at its exact size
		// once the next day starts.
		for h := 6; h <= 24; h += 6 {
			point(t, b.s, day.Add(time.Duration(h)*time.Hour-time.Duration(h/24)*time.Minute), 60, f(60))
		}
		point(t, b.s, day.Add(24*time.Hour+time.Minute), 60, f(60))
		if got := b.strlen(t, keys[0]); got != 2*24*60 {
			t.Errorf("full day: STRLEN = %d, want %d", got, 2*24*60)
		}
		if got := b.memory(t, keys[0]); got > 3300 {
			t.Errorf("full day: MEMORY USAGE = %d bytes, want at most 3,300", got)
		}
	})
}

// Fills cross midnight, and past a day with no data at all.
func TestMetricHistoryAcrossDays(t *testing.T) {
	nan := math.NaN()
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, time.UTC) }
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		point(t, s, at(20, 22, 0), 60, nil)
		point(t, s, at(21, 3, 0), 90, f(60))  // 5 hours held 60, over midnight
		point(t, s, at(21, 23, 0), 30, f(90)) // 20 hours: 90 held 6
		point(t, s, at(23, 2, 0), 50, f(30))  // 27 hours, all of the 22nd without an event
		now := at(23, 2, 5)
		tests := []struct {
			at   time.Time
			want float64
		}{
			{at(20, 21, 59), nan},
			{at(20, 22, 0), 60},
			{at(20, 23, 59), 60},
			{at(21, 0, 0), 60},
			{at(21, 2, 59), 60},
			{at(21, 3, 0), 90},
			{at(21, 9, 0), 90},
			{at(21, 9, 1), nan},
			{at(21, 22, 59), nan},
			{at(21, 23, 0), 30},
			{at(21, 23, 59), 30},
			{at(22, 0, 0), 30},
			{at(22, 5, 0), 30},
			{at(22, 5, 1), nan},
			{at(23, 1, 59), nan},
			{at(23, 2, 0), 50},
			{at(23, 2, 5), 50}, // no point yet: the latest value holds
		}
		start := at(20, 0, 0)
		minutes := make([]int, len(tests))
		want := make([]float64, len(tests))
		for i, tt := range tests {
			minutes[i], want[i] = int(tt.at.Sub(start)/time.Minute), tt.want
		}
		if got := valuesAt(t, s, now, start, minutes...); !sameValues(got, want) {
			t.Errorf("history = %v, want %v", got, want)
		}
	})
}

// Seven days of minutes up to now span eight day strings, the first and
// last in part.
func TestMetricHistorySevenDays(t *testing.T) {
	d0 := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		point(t, s, d0.Add(12*time.Hour), 9, nil) // a minute too old
		point(t, s, d0.Add(18*time.Hour), 10, nil)
		for k := 1; k <= 7; k++ {
			point(t, s, d0.Add(time.Duration(24*k+12)*time.Hour), float64(10+k), nil)
		}
		now := d0.Add(7*24*time.Hour + 12*time.Hour)
		series, err := s.MetricHistory(context.Background(), q, app.LongestWait, now)
		if err != nil || len(series) != 1 {
			t.Fatalf("MetricHistory = %v, %v", series, err)
		}
		sr := series[0]
		if want := d0.Add(12*time.Hour + time.Minute); !sr.Start.Equal(want) || len(sr.Values) != 7*24*60 {
			t.Fatalf("series from %v, %d values; want from %v, %d", sr.Start, len(sr.Values), want, 7*24*60)
		}
		var got []float64
		var at []time.Time
		for i, v := range sr.Values {
			if !math.IsNaN(v) {
				got, at = append(got, v), append(at, sr.Start.Add(time.Duration(i)*time.Minute))
			}
		}
		want := []float64{10, 11, 12, 13, 14, 15, 16, 17}
		if !sameValues(got, want) || !at[0].Equal(d0.Add(18*time.Hour)) || !at[7].Equal(now) {
			t.Errorf("points %v at %v, want %v from %v to %v", got, at, want, d0.Add(18*time.Hour), now)
		}
	})
}

// The last point, a day before the window, still carries into its first
// minutes.
func TestMetricHistoryCarryIntoWindow(t *testing.T) {
	nan := math.NaN()
	last := time.Date(2026, 11, 12, 23, 0, 0, 0, time.UTC)
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		point(t, s, last, 5, nil)
		now := last.Add(7*24*time.Hour + 90*time.Minute) // the window opens at 00:31
		got := valuesAt(t, s, now, last, 91, 360, 361, 7*24*60+90)
		if want := []float64{5, 5, nan, nan}; !sameValues(got, want) {
			t.Errorf("history = %v, want %v", got, want)
		}
	})
}

// A process sends a series at most once a minute: the script would only
// find it written. Only a commit that succeeded counts.
func TestMetricHistoryOncePerMinute(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	forEachRawBackend(t, func(t *testing.T, b rawBackend) {
		ctx := context.Background()
		k := app.LatestKey("voice", app.LongestWait)
		key := b.dayKey(at)
		commit := func(s *store.Redis, event string, at time.Time, v float64) error {
			return s.Commit(ctx, app.Change{QueueID: q, EventKey: event, Latest: map[string]float64{k: v}, At: at})
		}
		if err := commit(b.s, "e1", at.Add(10*time.Second), 60); err != nil {
			t.Fatal(err)
		}
		// Deleted behind the store's back, the series is not written again
		// this minute: the second commit sends no history.
		if err := b.rdb.Del(ctx, b.historyKeys(t)...).Err(); err != nil {
			t.Fatal(err)
		}
		if err := commit(b.s, "e2", at.Add(40*time.Second), 99); err != nil {
			t.Fatal(err)
		}
		if keys := b.historyKeys(t); len(keys) != 0 {
			t.Errorf("second commit of the minute wrote history: %q", keys)
		}
		if err := commit(b.s, "e3", at.Add(time.Minute), 70); err != nil {
			t.Fatal(err)
		}
		if got, want := b.strlen(t, key), int64(2*(9*60+2)); got != want {
			t.Errorf("next minute: STRLEN = %d, want %d", got, want)
		}

		// A duplicate writes nothing, so the minute is still to write.
		if err := commit(b.s, "e3", at.Add(2*time.Minute), 80); !errors.Is(err, app.ErrDuplicate) {
			t.Fatalf("replayed event: err = %v, want ErrDuplicate", err)
		}
		if err := commit(b.s, "e4", at.Add(2*time.Minute+30*time.Second), 81); err != nil {
			t.Fatal(err)
		}
		if got, want := b.strlen(t, key), int64(2*(9*60+3)); got != want {
			t.Errorf("after a duplicate: STRLEN = %d, want %d", got, want)
		}

		// Another replica sends the series, but the minute keeps its first
		// value. (Minute 0 went with the deleted key.)
		other := openStore(t, b.url, b.prefix)
		if err := commit(other, "e5", at.Add(2*time.Minute+50*time.Second), 82); err != nil {
			t.Fatal(err)
		}
		got := valuesAt(t, b.s, at.Add(3*time.Minute), at, 0, 1, 2, 3)
		if want := []float64{math.NaN(), 70, 81, 82}; !sameValues(got, want) {
			t.Errorf("history = %v, want %v", got, want)
		}
	})
}

// Commits of many queues at once share the store's record of what it wrote.
func TestMetricHistoryConcurrent(t *testing.T) {
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		k := app.LatestKey("voice", app.Waiting)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				id := fmt.Sprintf("%s-%d", q, g)
				for i := range 30 {
					minute := float64(i / 3)
					c := app.Change{QueueID: id, Latest: map[string]float64{k: minute + float64(i%3)/10},
						Prior: map[string]float64{k: minute - 1}, At: at.Add(time.Duration(i) * 20 * time.Second)}
					if err := s.Commit(ctx, c); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for g := range 8 {
			series, err := s.MetricHistory(ctx, fmt.Sprintf("%s-%d", q, g), app.Waiting, at.Add(9*time.Minute))
			if err != nil || len(series) != 1 {
				t.Fatalf("MetricHistory = %v, %v", series, err)
			}
			v := series[0].Values
			for i, want := range []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
				if got := v[len(v)-10+i]; got != want {
					t.Errorf("queue %d minute %d: %v, want %v", g, i, got, want)
				}
			}
		}
	})
}
