package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
)

// TestEpisodeWrittenOnceWhenItEnds: the commit that takes a fired alert
// out of the open set appends its episode; later writes of the closed
// alert (a re-arm time, say) and a replayed event add nothing.
func TestEpisodeWrittenOnceWhenItEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
		a := firing(1)
		a.FiredAt, a.Value = start, 17
		a.NotePeak()
		a.NoteAck("U1", start.Add(3*time.Minute))
		a.NoteSnooze("U2", start.Add(30*time.Minute))
		if err := s.Commit(ctx, app.Change{QueueID: q, EventKey: "ev-1", Alerts: []app.AlertWrite{{Alert: a}}}); err != nil {
			t.Fatal(err)
		}
		a.State, a.ResolvedAt, a.Value = app.StateResolved, start.Add(42*time.Minute), 3
		resolve := app.Change{QueueID: q, EventKey: "ev-2", Alerts: []app.AlertWrite{{Alert: a, Version: 1}}}
		if err := s.Commit(ctx, resolve); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, resolve); err == nil {
			t.Fatal("replayed resolution committed")
		}
		a.RearmAt = start.Add(time.Hour) // the closed alert written again, its prior state unknown
		if err := s.Commit(ctx, app.Change{QueueID: q, Alerts: []app.AlertWrite{{Alert: a, Version: 2}}}); err != nil {
			t.Fatal(err)
		}

		eps, err := s.Episodes(ctx, start.Add(-time.Hour), start.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(eps) != 1 {
			t.Fatalf("%d episodes, want 1: %+v", len(eps), eps)
		}
		want := app.Episode{QueueID: q, MediaType: "voice", Metric: app.Waiting, Start: start, End: start.Add(42 * time.Minute),
			AckedBy: "U1", AckedAt: start.Add(3 * time.Minute), Snoozes: []app.SnoozeMark{{By: "U2", Until: start.Add(30 * time.Minute)}},
			Peak: 17, Threshold: 10}
		if got := eps[0]; !sameEpisode(got, want) {
			t.Errorf("episode\n got %+v\nwant %+v", got, want)
		}
		// Ended episodes are read by the day they ended: a window that
		// ends before the episode began, or begins after it ended, has none.
		for _, w := range [][2]time.Time{{start.Add(-48 * time.Hour), start}, {start.Add(43 * time.Minute), start.Add(48 * time.Hour)}} {
			if eps, _ := s.Episodes(ctx, w[0], w[1]); len(eps) != 0 {
				t.Errorf("window %s – %s: %+v, want none", w[0], w[1], eps)
			}
		}
	})
}

// TestEpisodeKeptFor35Days: the list of a day's episodes expires
// store.EpisodeDays after that day ends.
func TestEpisodeKeptFor35Days(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		end := time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)
		a := firing(1)
		a.FiredAt = end.Add(-time.Hour)
		if err := s.Commit(ctx, app.Change{QueueID: q, Alerts: []app.AlertWrite{{Alert: a}}}); err != nil {
			t.Fatal(err)
		}
		a.State, a.ResolvedAt = app.StateResolved, end
		if err := s.Commit(ctx, app.Change{QueueID: q, Alerts: []app.AlertWrite{{Alert: a, Version: 1}}}); err != nil {
			t.Fatal(err)
		}
		ttl, err := s.EpisodesTTL(ctx, end)
		if err != nil {
			t.Fatal(err)
		}
		// From 18:00 to midnight, then 35 days.
		if want := 6*time.Hour + store.EpisodeDays*24*time.Hour; ttl > want || ttl < want-time.Minute {
			t.Errorf("episodes of %s kept %s, want %s", end.Format("2 Jan"), ttl, want)
		}
	})
}

func sameEpisode(a, b app.Episode) bool {
	if len(a.Snoozes) != len(b.Snoozes) {
		return false
	}
	for i := range a.Snoozes {
		if a.Snoozes[i].By != b.Snoozes[i].By || !a.Snoozes[i].Until.Equal(b.Snoozes[i].Until) {
			return false
		}
	}
	return a.QueueID == b.QueueID && a.MediaType == b.MediaType && a.Metric == b.Metric && a.Start.Equal(b.Start) &&
		a.End.Equal(b.End) && a.AckedBy == b.AckedBy && a.AckedAt.Equal(b.AckedAt) && a.ResolvedBy == b.ResolvedBy &&
		a.Peak == b.Peak && a.Threshold == b.Threshold
}

// TestEnqueueOnce: the first call enqueues and marks; a second with the
// same key enqueues nothing.
func TestEnqueueOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		n := app.Notification{Kind: app.KindAnnounce, Channel: "C1", Text: "report", At: time.Now()}
		for i, want := range []bool{true, false} {
			got, err := s.EnqueueOnce(ctx, "weekly-report:1", time.Hour, n)
			if err != nil || got != want {
				t.Fatalf("call %d: %v, %v; want %v", i+1, got, err, want)
			}
		}
		if marked, err := s.Marked(ctx, "weekly-report:1"); err != nil || !marked {
			t.Errorf("Marked = %v, %v; want true", marked, err)
		}
		ds, err := s.Receive(ctx, "test", 10, time.Millisecond)
		if err != nil || len(ds) != 1 || ds[0].Notification.Text != "report" {
			t.Errorf("outbox = %+v, %v; want the one report", ds, err)
		}
	})
}
