package store_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
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
