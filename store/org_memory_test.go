package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// TestMeasureOrgMemory measures Redis's used_memory for an organisation of
// 200 queues with three media types (voice, chat, email: 15 series a
// queue, 3,000 in all) after a simulated week of the synthetic history
// (histsim_test.go) compacted as slabot does, with 3 thresholds a queue,
// 150 open alerts, 1,000 alerts resolved within the week (kept 7 days)
// and their outbox entries delivered. Then it adds the idempotency marks
// of 10 and of 100 webhook events a second over the default 1 h window at
// their peak (TestMeasureSeenMemory) and reports the worst moment with
// them against the plan and the memory guard's 80 %. Run with:
//
//	SLABOT_MEASURE_HISTORY=1 go test ./store -run MeasureOrgMemory -v
func TestMeasureOrgMemory(t *testing.T) {
	if os.Getenv("SLABOT_MEASURE_HISTORY") == "" {
		t.Skip("set SLABOT_MEASURE_HISTORY=1 to measure")
	}
	const queues = 200
	media := []string{"voice", "chat", "email"}
	ctx := context.Background()
	srv := redistest.Start(t)
	opt, _ := redis.ParseURL(srv.URL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	s, err := store.New(ctx, srv.URL, store.Options{Prefix: "slabot:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	empty := usedMemory(t, rdb)
	start := time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC) // a Monday
	h := simHistory{keys: simKeysOf(media...), rdb: rdb, s: s, prefix: "slabot:", queues: queues}
	h.register(t, start)
	for i := range queues {
		for _, th := range []app.Threshold{{Metric: app.LongestWait, Value: 120}, {Metric: app.ServiceLevel, Value: 80},
			{Metric: app.Waiting, Value: 10, For: 5 * time.Minute}} {
			th.QueueID, th.SetBy, th.SetAt = simQueueID(i), "U0123456789", start
			if err := s.SetThreshold(ctx, th); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Alerts: 1,000 resolved during the week, 150 open at its end, each
	// posted through the outbox and delivered.
	at := start.Add(7 * 24 * time.Hour)
	for n := range 1150 {
		q := simQueueID(n % queues)
		m := media[n/queues%len(media)]
		metric := []app.Metric{app.LongestWait, app.ServiceLevel, app.Waiting}[n/(queues*len(media))%3]
		a := app.Alert{ID: app.AlertID(q, m, metric), QueueID: q, MediaType: m, Metric: metric, State: app.StateFiring,
			Value: 300, Threshold: 120, Episode: 1, Channel: "C0123456789", FiredAt: at}
		if n < 1000 {
			a.State = app.StateResolved
		}
		c := app.Change{QueueID: q, Alerts: []app.AlertWrite{{Alert: a}},
			Notifications: []app.Notification{{Kind: app.KindPost, Channel: a.Channel, Alert: a}}}
		if err := s.Commit(ctx, c); err != nil {
			t.Fatalf("alert %d: %v", n, err)
		}
		if err := s.SetMessageTS(ctx, a.ID, 1, "1700000000.000100"); err != nil {
			t.Fatal(err)
		}
	}
	for {
		dels, err := s.Receive(ctx, "c1", 500, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(dels) == 0 {
			break
		}
		for _, d := range dels {
			if err := s.Done(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := usedMemory(t, rdb) - empty
	t.Logf("empty store: used_memory %.2f MiB; queues, thresholds, alerts, delivered outbox: +%.2f MiB", mib(empty), mib(state))

	series := float64(queues * len(h.keys))
	var worstTotal, worstHist int64
	h.measure = func(now time.Time) {
		raw, compact := historyMemory(t, rdb, "slabot:")
		used := usedMemory(t, rdb)
		worstTotal, worstHist = max(worstTotal, used), max(worstHist, raw+compact)
		t.Logf("%s %s: history %.2f MiB (%.3f byte per series-minute), used_memory %.2f MiB",
			now.Weekday().String()[:3], now.Format("15:04"), mib(raw+compact), float64(raw+compact)/series/(7*24*60), mib(used))
	}
	moments := []time.Duration{2*time.Hour + 5*time.Minute, 12 * time.Hour, 24*time.Hour - time.Minute}
	h.run(t, start, start.Add(12*24*time.Hour), moments, start.Add(7*24*time.Hour))
	const plan = 25 << 20
	t.Logf("worst moment: used_memory %.2f MiB (history %.2f MiB) of a 25 MB plan (%.0f MiB); %.2f MiB left, %.2f MiB below the 80 %% guard",
		mib(worstTotal), mib(worstHist), mib(plan), mib(plan-worstTotal), mib(plan*8/10-worstTotal))
	// Idempotency marks at a steady webhook rate, default window (1 h),
	// at their peak (TestMeasureSeenMemory): 10 events/s, then 90 more
	// (100 in all) into the same buckets.
	end := usedMemory(t, rdb)
	total := 0.0
	for _, phase := range []struct {
		rate float64
		tag  string
	}{{10, "a"}, {90, "b"}} {
		total += phase.rate
		fillMarks(t, s, queues, phase.rate, markPeakSpan(s), phase.tag)
		m := markMemory(t, rdb, "slabot:")
		marks := usedMemory(t, rdb) - end
		with := worstTotal + marks
		verdict := "below"
		if with > plan*8/10 {
			verdict = "OVER"
		}
		t.Logf("marks at %.0f events/s (window %s): %d marks in %d sets, used_memory +%.2f MiB (MEMORY USAGE %.2f MiB); "+
			"worst moment with them %.2f MiB: %.0f %% of 25 MB, %s the guard's 80 %% (%.0f MiB) by %.2f MiB",
			total, s.DedupWindow(), m.marks, m.sets, mib(marks), mib(m.usage), mib(with), 100*float64(with)/plan,
			verdict, mib(plan*8/10), mib(abs(plan*8/10-with)))
	}
}

func abs(n int64) int64 { return max(n, -n) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }
