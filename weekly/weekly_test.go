package weekly_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
	"github.com/slabot/slabot/weekly"
)

const queue = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"

// replica is one slabot process's reporter on the shared Redis.
func replica(t *testing.T, st *store.Redis, clock app.Clock) *weekly.Reporter {
	t.Helper()
	s, err := app.ParseReportSchedule("Mon 09:00 Europe/London")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	return &weekly.Reporter{Schedule: s, Channel: "C0REPORTS", Source: st, Outbox: st, Clock: clock,
		Logger: slog.New(slog.DiscardHandler)}
}

// posted drains the outbox and returns the texts of the announcements;
// a report's chart job, which must follow its text, is returned as
// "chart: <title> of <first queue>".
func posted(t *testing.T, st *store.Redis) []string {
	t.Helper()
	ds, err := st.Receive(context.Background(), "test", 100, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		if d.Notification.Kind == app.KindAnnounce {
			if d.Notification.Channel != "C0REPORTS" {
				t.Errorf("report posted to %q, want C0REPORTS", d.Notification.Channel)
			}
			out = append(out, d.Notification.Text)
		}
		if n := d.Notification; n.Kind == app.KindChart {
			if n.Channel != "C0REPORTS" || n.Chart == nil || n.Chart.Report == nil || len(n.Chart.Report.Queues) == 0 || n.Chart.Report.Rows != nil {
				t.Fatalf("chart job %+v, want a report's chart, without rows, for C0REPORTS", n)
			}
			out = append(out, "chart: "+n.Chart.Title+" of "+n.Chart.Report.Queues[0].QueueName)
		}
		if err := st.Done(context.Background(), d.ID); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// breach commits one episode of Support on voice, from start for d, as
// the engine's commits do.
func breach(t *testing.T, st *store.Redis, start time.Time, d time.Duration, episode int) {
	t.Helper()
	ctx := context.Background()
	a := app.Alert{ID: app.AlertID(queue, "voice", app.Waiting), QueueID: queue, QueueName: "Support", MediaType: "voice",
		Metric: app.Waiting, State: app.StateFiring, Value: 14, Threshold: 10, Episode: episode, FiredAt: start}
	a.NotePeak()
	v := int64(2 * (episode - 1))
	if err := st.Commit(ctx, app.Change{QueueID: queue, QueueName: "Support", Alerts: []app.AlertWrite{{Alert: a, Version: v}}}); err != nil {
		t.Fatal(err)
	}
	a.State, a.ResolvedAt = app.StateResolved, start.Add(d)
	if err := st.Commit(ctx, app.Change{QueueID: queue, Alerts: []app.AlertWrite{{Alert: a, Version: v + 1}}}); err != nil {
		t.Fatal(err)
	}
}

// TestWeeklyReportOncePerPeriod: two replicas tick at the moment the
// report is due; one post and its chart go out, together through the
// outbox. A replica restarted
// within the week posts nothing; the next week's moment posts the next.
func TestWeeklyReportOncePerPeriod(t *testing.T) {
	ctx := context.Background()
	st, err := store.New(ctx, redistest.URL(t), store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Monday 30 November 2026, 09:00 in London is 09:00 UTC.
	due := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	breach(t, st, due.Add(-3*24*time.Hour), 25*time.Minute, 1) // Friday: in the week
	breach(t, st, due.Add(-8*24*time.Hour), 10*time.Minute, 2) // the week before
	clock := app.NewManualClock(due.Add(-24 * time.Hour))
	a, b := replica(t, st, clock), replica(t, st, clock)

	// Sunday: the latest moment is the previous Monday's; its report is
	// posted once (the replicas' first start, late).
	if err := a.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := posted(t, st); len(got) != 2 || !strings.Contains(got[0], "week to Mon 23 Nov") || !strings.Contains(got[0], "10m in breach") ||
		got[1] != "chart: SLA report, week to Mon 23 Nov of Support" {
		t.Fatalf("first start posted %q, want the week to Mon 23 Nov with its 10m breach, then its chart", got)
	}

	clock.Set(due)
	var wg sync.WaitGroup
	for _, r := range []*weekly.Reporter{a, b, a, b} {
		wg.Go(func() {
			if err := r.Tick(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := posted(t, st)
	if len(got) != 2 || got[1] != "chart: SLA report, week to Mon 30 Nov of Support" {
		t.Fatalf("two replicas posted %q, want one report and its chart", got)
	}
	want := "*SLA report, week to Mon 30 Nov* (Mon 23 Nov 09:00 – Mon 30 Nov 09:00 Europe/London)\n1 queue breached, 1 breach in all.\n" +
		"• *Support* voice: 1 breach, 25m in breach"
	if !strings.HasPrefix(got[0], want) {
		t.Errorf("report:\n%s\nwant it to start\n%s", got[0], want)
	}

	// A restart within the week: a new process, the same Redis.
	clock.Set(due.Add(26 * time.Hour))
	if err := replica(t, st, clock).Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := posted(t, st); len(got) != 0 {
		t.Errorf("restart within the week posted %q", got)
	}
	// The next Monday, a minute before and at 09:00.
	clock.Set(due.Add(7*24*time.Hour - time.Minute))
	if err := b.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := posted(t, st); len(got) != 0 {
		t.Errorf("a minute early posted %q", got)
	}
	clock.Advance(time.Minute)
	if err := b.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := posted(t, st); len(got) != 1 || !strings.Contains(got[0], "week to Mon 7 Dec") || !strings.Contains(got[0], "No queue breached") {
		t.Errorf("next week posted %q, want one quiet report", got)
	}
}
