package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// Queues that nobody configured and that sent no data for QueueIdleFor
// are forgotten (issue 14, finding 7); queues with a rule, a route,
// business hours, a snooze, an open alert or recent data are kept.
func TestExpireQueues(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, redistest.URL(t), redistest.Prefix(t))
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	old := now.Add(-store.QueueIdleFor - time.Hour)
	data := func(q string, at time.Time) {
		t.Helper()
		if err := s.Commit(ctx, app.Change{QueueID: q, At: at, Latest: map[string]float64{app.LatestKey("voice", app.Waiting): 1}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"idle-1", "idle-2", "fresh", "ruled", "routed", "open", "snoozed"} {
		data(q, old)
	}
	data("fresh", now.Add(-time.Hour))
	if err := s.SetThreshold(ctx, app.Threshold{QueueID: "ruled", Metric: app.Waiting, Value: 5}); err != nil {
		t.Fatal(err)
	}
	route := "C0ROUTE"
	if err := s.Commit(ctx, app.Change{QueueID: "routed", Route: &route}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, app.Change{QueueID: "snoozed", Snooze: &app.Snooze{QueueID: "snoozed", Until: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	id := app.AlertID("open", "voice", app.Waiting)
	if err := s.Commit(ctx, app.Change{QueueID: "open", Alerts: []app.AlertWrite{{Alert: app.Alert{ID: id, QueueID: "open",
		MediaType: "voice", Metric: app.Waiting, State: app.StateFiring, Episode: 1}}}}); err != nil {
		t.Fatal(err)
	}

	n, err := s.ExpireQueues(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	known, err := s.KnownQueues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for q := range known {
		left = append(left, q)
	}
	slices.Sort(left)
	if want := []string{"fresh", "open", "routed", "ruled", "snoozed"}; n != 2 || !slices.Equal(left, want) {
		t.Errorf("forgot %d queues, kept %v; want 2 forgotten and %v kept", n, left, want)
	}
	if qs, err := s.QueueStates(ctx, []string{"idle-1"}); err != nil || len(qs) == 1 && len(qs[0].Latest) > 0 {
		t.Errorf("forgotten queue's state = %+v, %v; want none", qs, err)
	}
	// A forgotten queue that sends data again is known again.
	data("idle-1", now)
	if known, _ := s.KnownQueues(ctx); !hasKey(known, "idle-1") {
		t.Errorf("known queues %v: idle-1 sent data again and is not known", known)
	}
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }
