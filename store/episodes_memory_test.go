package store_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// TestMeasureEpisodeMemory measures, on a private redis-server, what the
// weekly report's breach episodes cost when they are kept for
// store.EpisodeDays (35) days: 1,000 queues (Genesys queue IDs), each
// breaching 4 times a day, every day, through the commit script (a commit
// that fires the alert and one that resolves it, as the engine writes
// them). Episodes last 5 to 59 minutes; half are acknowledged, one in five
// is snoozed. That is 140,000 episodes, a busy contact centre's month and
// more: real deployments breach less. It also times the read behind
// /sla report 30d (every episode of 30 days, decoded). Run with:
//
//	SLABOT_MEASURE_HISTORY=1 go test ./store -run MeasureEpisodeMemory -v
func TestMeasureEpisodeMemory(t *testing.T) {
	if os.Getenv("SLABOT_MEASURE_HISTORY") == "" {
		t.Skip("set SLABOT_MEASURE_HISTORY=1 to measure")
	}
	const queues, perDay = 1000, 4
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

	metrics := []app.Metric{app.LongestWait, app.Waiting, app.ServiceLevel}
	alerts := make([]app.Alert, queues)
	for i := range alerts {
		m := metrics[i%len(metrics)]
		alerts[i] = app.Alert{ID: app.AlertID(simQueueID(i), "voice", m), QueueID: simQueueID(i), MediaType: "voice", Metric: m}
	}
	// The last day ends now, so every day key's expiry is the one slabot
	// gives it.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -store.EpisodeDays+1)
	before := usedMemory(t, rdb)
	began := time.Now()
	commit := func(cs []app.Change) {
		t.Helper()
		for i := 0; i < len(cs); i += 500 {
			for _, err := range s.CommitMany(ctx, cs[i:min(i+500, len(cs))]) {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	episodes := 0
	for day := first; !day.After(today); day = day.AddDate(0, 0, 1) {
		for slot := range perDay {
			fires := make([]app.Change, 0, queues)
			resolves := make([]app.Change, 0, queues)
			for i := range alerts {
				a := &alerts[i]
				n := episodes/queues + 1 // this alert's episode number
				start := day.Add(time.Duration(2+5*slot)*time.Hour + time.Duration(i%60)*time.Minute)
				a.Episode, a.State, a.FiredAt, a.ResolvedAt = n, app.StateFiring, start, time.Time{}
				a.StartEpisodeMarks()
				a.Peak, a.Value, a.Threshold = nil, float64(300+i%500), 300
				a.NotePeak()
				if (i+slot)%2 == 0 {
					a.NoteAck(fmt.Sprintf("U0LEAD%03d", i%40), start.Add(time.Duration(1+i%9)*time.Minute))
				}
				if (i+slot)%5 == 0 {
					a.NoteSnooze(fmt.Sprintf("U0LEAD%03d", i%40), start.Add(time.Hour))
				}
				fires = append(fires, app.Change{QueueID: a.QueueID, Alerts: []app.AlertWrite{{Alert: *a, Version: int64(2 * (n - 1))}}})
				a.State, a.ResolvedAt = app.StateResolved, start.Add(time.Duration(5+(i*7+slot)%55)*time.Minute)
				resolves = append(resolves, app.Change{QueueID: a.QueueID, Alerts: []app.AlertWrite{{Alert: *a, Version: int64(2*n - 1)}}})
				episodes++
			}
			commit(fires)
			commit(resolves)
		}
	}
	t.Logf("committed %d episodes (%d queues × %d a day × %d days) in %v", episodes, queues, perDay, store.EpisodeDays,
		time.Since(began).Round(time.Second))

	var sum, lines int64
	keys, err := rdb.Keys(ctx, "slabot:episodes:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		b, err := rdb.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := rdb.LLen(ctx, k).Result()
		sum, lines = sum+b, lines+n
	}
	if lines != int64(episodes) {
		t.Fatalf("%d episode lines in %d day lists, want %d", lines, len(keys), episodes)
	}
	sample, _ := rdb.LIndex(ctx, keys[0], 0).Result()
	after := usedMemory(t, rdb)
	t.Logf("episode lists: %d days, MEMORY USAGE %.2f MiB, %.1f bytes an episode (a line is %d bytes: %s)",
		len(keys), float64(sum)/(1<<20), float64(sum)/float64(lines), len(sample), sample)
	t.Logf("used_memory +%.2f MiB in all (the episodes and %d alert records)", float64(after-before)/(1<<20), queues)
	t.Logf("per queue breaching %d times a day: %.1f KiB for 35 days; 1,000 queues at 1 a day: %.2f MiB",
		perDay, float64(sum)/queues/1024, float64(sum)/perDay/(1<<20))

	// The read behind /sla report 30d, at the end of the last day.
	now := today.Add(24*time.Hour - time.Second)
	for range 2 { // the first read warms the connection pool
		began = time.Now()
		eps, err := s.Episodes(ctx, now.AddDate(0, 0, -30), now)
		if err != nil {
			t.Fatal(err)
		}
		read := time.Since(began)
		began = time.Now()
		rep := app.BuildReport(eps, now.AddDate(0, 0, -30), now, time.UTC, nil)
		t.Logf("/sla report 30d: read %d episodes in %v, report of %d rows built in %v", len(eps), read.Round(time.Millisecond),
			len(rep.Rows), time.Since(began).Round(time.Millisecond))
	}
}
