package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// On a Redis as small as a managed plan's, with its noeviction policy:
// history fills it, the guard pauses history and drops its oldest day,
// alert state is still committed and its notification queued and its
// message ts recorded; and once Redis refuses writes, a commit fails as
// unavailable (the webhook answers 503, the sender retries) having
// written nothing.
func TestMemoryGuard(t *testing.T) {
	srv := redistest.StartWith(t, "--maxmemory", "8mb", "--maxmemory-policy", "noeviction")
	ctx := context.Background()
	opt, _ := redis.ParseURL(srv.URL)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	s := openStore(t, srv.URL, "slabot:")
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	today := now.Unix() / 86400

	// 60 queues, each 5 series with raw days strings of a full day each,
	// from 6 days back: more than 80 % of 8 MB.
	const queues = 60
	h := simHistory{rdb: rdb, s: s, prefix: "slabot:", queues: queues}
	h.register(t, now)
	full := make([]byte, 2*24*60)
	for i := range full {
		full[i] = 1
	}
	var warned []string
	var observed []store.MemoryStatus
	g := &store.MemoryGuard{Store: s, Now: func() time.Time { return now },
		Warn:    func(_ context.Context, text string) error { warned = append(warned, text); return nil },
		Observe: func(st store.MemoryStatus, paused bool) { observed = append(observed, st) }}
	ratio := func() float64 {
		st, err := s.Memory(ctx, 0)
		if err != nil || st.Max != 8<<20 {
			t.Fatalf("Memory = %+v, %v; want maxmemory 8 MB", st, err)
		}
		return st.Ratio()
	}
filling:
	for d := today - 6; d <= today; d++ {
		for i := range queues {
			for k := range simKeys {
				if err := rdb.Set(ctx, fmt.Sprintf("%s:%d", h.seriesKey(i, k), d), full, 0).Err(); err != nil {
					t.Fatalf("filling: %v", err)
				}
			}
			if ratio() >= 0.96 {
				break filling
			}
		}
	}
	before := ratio()
	if before < store.GuardShedAt {
		t.Fatalf("filled to %.2f only", before)
	}
	if err := g.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.HistoryPaused() {
		t.Errorf("at %.0f %%: history not paused", before*100)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "stopped recording metric history") {
		t.Errorf("warnings %q, want one", warned)
	}
	if len(observed) != 1 || observed[0].Used == 0 {
		t.Errorf("observed %+v", observed)
	}
	if n, _ := rdb.Exists(ctx, fmt.Sprintf("%s:%d", h.seriesKey(0, 0), today-6)).Result(); n != 0 {
		t.Errorf("the oldest day (6 days back) was not dropped")
	}
	if n, _ := rdb.Exists(ctx, fmt.Sprintf("%s:%d", h.seriesKey(0, 0), today-5)).Result(); n != 1 {
		t.Errorf("more than the oldest day was dropped at once")
	}
	after := ratio()
	t.Logf("memory %.0f %% → %.0f %% of 8 MB after the guard's first check", before*100, after*100)
	if after >= before {
		t.Errorf("memory %.2f → %.2f: nothing freed", before, after)
	}

	// Paused: commits write no history, alert state goes on.
	a := firing(1)
	c := app.Change{QueueID: q, EventKey: "ev-1", At: now, Latest: map[string]float64{app.LatestKey("voice", app.Waiting): 17},
		Alerts:        []app.AlertWrite{{Alert: a}},
		Notifications: []app.Notification{{Kind: app.KindPost, Channel: "C1", Alert: a}}}
	if err := s.Commit(ctx, c); err != nil {
		t.Fatalf("breach while history is paused: %v", err)
	}
	if keys, _ := rdb.Keys(ctx, "slabot:{"+q+"}:h:*").Result(); len(keys) != 0 {
		t.Errorf("history written while paused: %v", keys)
	}
	dels, err := s.Receive(ctx, "c1", 10, 10*time.Millisecond)
	if err != nil || len(dels) != 1 {
		t.Fatalf("Receive = %v, %v", dels, err)
	}
	if err := s.SetMessageTS(ctx, a.ID, 1, "1700000000.000100"); err != nil {
		t.Fatalf("recording the message ts: %v", err)
	}
	if err := s.Done(ctx, dels[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if len(warned) != 1 {
		t.Errorf("warned again: %q", warned)
	}

	// Full: Redis refuses writes. A commit is unavailable, and half of
	// it is nowhere.
	for _, size := range []int{64 << 10, 1 << 10, 16} {
		filler := strings.Repeat("x", size)
		for i := 0; ; i++ {
			if err := rdb.Set(ctx, fmt.Sprintf("filler:%d:%d", size, i), filler, 0).Err(); err != nil {
				if !strings.Contains(err.Error(), "OOM") {
					t.Fatalf("filling: %v", err)
				}
				break
			}
		}
	}
	b := firing(1)
	b.ID, b.Metric = app.AlertID(q, "voice", app.LongestWait), app.LongestWait
	c2 := app.Change{QueueID: q, EventKey: "ev-2", At: now, Latest: map[string]float64{app.LatestKey("voice", app.LongestWait): 900},
		Alerts:        []app.AlertWrite{{Alert: b}},
		Notifications: []app.Notification{{Kind: app.KindPost, Channel: "C1", Alert: b}}}
	err = s.Commit(ctx, c2)
	if !errors.Is(err, app.ErrUnavailable) {
		t.Fatalf("commit on a full Redis: %v, want ErrUnavailable", err)
	}
	// Load reads in MULTI, which a full Redis refuses too: free room.
	if _, err := s.Load(ctx, q, "ev-2", []string{b.ID}); !errors.Is(err, app.ErrUnavailable) {
		t.Logf("Load on a full Redis: %v", err)
	}
	fillers, _ := rdb.Keys(ctx, "filler:*").Result()
	if err := rdb.Del(ctx, fillers...).Err(); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Load(ctx, q, "ev-2", []string{b.ID})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Seen || len(snap.Alerts) != 0 || snap.Queue.Latest[app.LatestKey("voice", app.LongestWait)] == 900 {
		t.Errorf("refused commit left state behind: seen %v, alerts %v, latest %v", snap.Seen, snap.Alerts, snap.Queue.Latest)
	}
	if dels, _ := s.Receive(ctx, "c1", 10, 10*time.Millisecond); len(dels) != 0 {
		t.Errorf("refused commit queued %d notifications", len(dels))
	}

	// Room again (history deleted by hand): history resumes.
	hist, _ := rdb.Keys(ctx, "slabot:{*}:h:*").Result()
	if err := rdb.Del(ctx, hist...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if s.HistoryPaused() {
		t.Errorf("at %.0f %%: history still paused", ratio()*100)
	}
	c.EventKey, c.At = "ev-3", now.Add(time.Minute)
	c.Alerts, c.Notifications = nil, nil
	if err := s.Commit(ctx, c); err != nil {
		t.Fatal(err)
	}
	if keys, _ := rdb.Keys(ctx, "slabot:{"+q+"}:h:*").Result(); len(keys) != 1 {
		t.Errorf("history keys after resuming: %v, want today's", keys)
	}
}
