package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// backends runs each store test against a real redis-server and against
// the embedded store, which must behave the same.
var backends = []struct {
	name string
	open func(t *testing.T) *store.Redis
}{
	{"redis", func(t *testing.T) *store.Redis {
		s, err := store.New(context.Background(), redistest.URL(t), store.Options{Prefix: redistest.Prefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"embedded", func(t *testing.T) *store.Redis {
		s, err := store.NewEmbedded(context.Background(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

func forEachBackend(t *testing.T, test func(t *testing.T, s *store.Redis)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t)) })
	}
}

const q = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"

func firing(episode int) app.Alert {
	return app.Alert{ID: app.AlertID(q, "voice", app.Waiting), QueueID: q, MediaType: "voice",
		Metric: app.Waiting, State: app.StateFiring, Value: 17, Threshold: 10, Episode: episode, Channel: "C1"}
}

func TestCommitAndLoad(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		a := firing(1)
		c := app.Change{QueueID: q, EventKey: "ev-1", QueueName: "Support",
			Latest:        map[string]float64{app.LatestKey("voice", app.Waiting): 17},
			Alerts:        []app.AlertWrite{{Alert: a, Version: 0, Due: time.UnixMilli(5000)}},
			Notifications: []app.Notification{{Kind: app.KindPost, Channel: "C1", Alert: a}}}
		if err := s.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
		snap, err := s.Load(ctx, q, "ev-1", []string{a.ID})
		if err != nil {
			t.Fatal(err)
		}
		if !snap.Seen {
			t.Error("event key not recorded")
		}
		got := snap.Alerts[a.ID]
		if got.Version != 1 || got.Alert.State != app.StateFiring || got.Alert.Value != 17 {
			t.Errorf("alert = %+v", got)
		}
		if snap.Queue.Name != "Support" || snap.Queue.Latest["voice/waiting"] != 17 {
			t.Errorf("queue = %+v", snap.Queue)
		}
		if err := s.Commit(ctx, c); !errors.Is(err, app.ErrDuplicate) {
			t.Errorf("replayed commit: err = %v, want ErrDuplicate", err)
		}
		c.EventKey = "ev-2"
		if err := s.Commit(ctx, c); !errors.Is(err, app.ErrConflict) {
			t.Errorf("stale version: err = %v, want ErrConflict", err)
		}
		due, err := s.Due(ctx, time.UnixMilli(6000), 10)
		if err != nil || len(due) != 1 || due[0] != a.ID {
			t.Errorf("Due = %v, %v", due, err)
		}
		if due, _ := s.Due(ctx, time.UnixMilli(4000), 10); len(due) != 0 {
			t.Errorf("Due before its time = %v", due)
		}
		names, err := s.KnownQueues(ctx)
		if err != nil || names[q] != "Support" {
			t.Errorf("KnownQueues = %v, %v", names, err)
		}
		// The conflicting commits wrote nothing: exactly one notification.
		dels, err := s.Receive(ctx, "c1", 10, 10*time.Millisecond)
		if err != nil || len(dels) != 1 || dels[0].Notification.Alert.ID != a.ID {
			t.Fatalf("Receive = %v, %v", dels, err)
		}
	})
}

func TestUndueAndResolvedTTL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		a := firing(1)
		if err := s.Commit(ctx, app.Change{QueueID: q, Alerts: []app.AlertWrite{{Alert: a, Due: time.UnixMilli(1)}}}); err != nil {
			t.Fatal(err)
		}
		a.State = app.StateResolved
		if err := s.Commit(ctx, app.Change{QueueID: q, Alerts: []app.AlertWrite{{Alert: a, Version: 1}}}); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.Due(ctx, time.UnixMilli(10), 10); len(due) != 0 {
			t.Errorf("resolved alert still due: %v", due)
		}
		if err := s.Commit(ctx, app.Change{QueueID: q, Alerts: []app.AlertWrite{{Alert: a, Version: 2, Due: time.UnixMilli(1)}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, app.Change{QueueID: q, Undue: []string{a.ID}}); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.Due(ctx, time.UnixMilli(10), 10); len(due) != 0 {
			t.Errorf("undue alert still due: %v", due)
		}
	})
}

func TestOutboxLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		var notes []app.Notification
		for i := 1; i <= 3; i++ {
			notes = append(notes, app.Notification{Kind: app.KindPost, Channel: "C1", Alert: firing(i)})
		}
		if err := s.Commit(ctx, app.Change{QueueID: q, Notifications: notes}); err != nil {
			t.Fatal(err)
		}
		first, err := s.Receive(ctx, "dead", 2, 10*time.Millisecond)
		if err != nil || len(first) != 2 {
			t.Fatalf("Receive = %v, %v", first, err)
		}
		if first[0].Notification.Alert.Episode != 1 || first[1].Notification.Alert.Episode != 2 {
			t.Errorf("out of order: %v", first)
		}
		rest, err := s.Receive(ctx, "live", 10, 10*time.Millisecond)
		if err != nil || len(rest) != 1 {
			t.Fatalf("second consumer Receive = %v, %v", rest, err)
		}
		if err := s.Done(ctx, rest[0].ID); err != nil {
			t.Fatal(err)
		}
		// Entries held by a live consumer that keeps them are not reclaimed.
		// Idle times are Redis's wall clock: the sleep only has to outlast
		// the idle limit, and Keep to Reclaim (two round trips) has 500 ms,
		// which a busy machine still meets.
		const idle = 500 * time.Millisecond
		time.Sleep(idle + 50*time.Millisecond)
		if err := s.Keep(ctx, "dead", []string{first[0].ID}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Reclaim(ctx, "live", idle, 10)
		if err != nil || len(got) != 1 || got[0].ID != first[1].ID {
			t.Fatalf("Reclaim = %v, %v; want only %s", got, err, first[1].ID)
		}
		if !got[0].Reclaimed {
			t.Error("reclaimed entry not marked Reclaimed: its dead holder may have sent it")
		}
		if first[0].Reclaimed || rest[0].Reclaimed {
			t.Error("entries read with Receive marked Reclaimed")
		}
		if n, _, err := s.OutboxDepth(ctx); err != nil || n != 2 {
			t.Errorf("OutboxDepth = %d, %v; want 2", n, err)
		}
	})
}

func TestMessageTS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		a := firing(3)
		if err := s.SetMessageTS(ctx, a.ID, 3, "1.1"); err != nil {
			t.Fatal(err)
		}
		if ts, _ := s.MessageTS(ctx, a.ID, 3); ts != "" {
			t.Errorf("ts recorded for a missing alert: %q", ts)
		}
		if err := s.Commit(ctx, app.Change{QueueID: q, Alerts: []app.AlertWrite{{Alert: a}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetMessageTS(ctx, a.ID, 3, "1700000000.000100"); err != nil {
			t.Fatal(err)
		}
		if ts, err := s.MessageTS(ctx, a.ID, 3); err != nil || ts != "1700000000.000100" {
			t.Errorf("MessageTS = %q, %v", ts, err)
		}
		if ts, _ := s.MessageTS(ctx, a.ID, 2); ts != "" {
			t.Errorf("other episode ts = %q", ts)
		}
		if _, err := s.Load(ctx, q, "", []string{a.ID}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestThresholds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		for _, th := range []app.Threshold{
			{QueueID: q, Metric: app.ServiceLevel, Value: 80},
			{QueueID: q, Metric: app.LongestWait, Value: 300, For: time.Minute},
			{QueueID: app.DefaultQueue, Metric: app.Waiting, Value: 10},
		} {
			if err := s.SetThreshold(ctx, th); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.Thresholds(ctx)
		if err != nil || len(list) != 3 {
			t.Fatalf("Thresholds = %v, %v", list, err)
		}
		if list[0].QueueID != app.DefaultQueue || list[1].Metric != app.LongestWait || list[1].For != time.Minute {
			t.Errorf("order or content wrong: %v", list)
		}
		snap, err := s.Load(ctx, q, "", nil)
		if err != nil || snap.Thresholds[string(app.ServiceLevel)].Value != 80 || snap.Defaults[string(app.Waiting)].Value != 10 {
			t.Errorf("Load thresholds = %v / %v, %v", snap.Thresholds, snap.Defaults, err)
		}
		removed, err := s.DeleteThreshold(ctx, q, "", "")
		if err != nil || len(removed) != 2 {
			t.Errorf("DeleteThreshold = %v, %v", removed, err)
		}
		if list, _ := s.Thresholds(ctx); len(list) != 1 {
			t.Errorf("after delete: %v", list)
		}
	})
}

// TestOldRulesKeepMeaning: a rule stored before media types (no "media"
// in its JSON, under the metric's field) applies to every media type, sits
// beside a media rule of the same metric, and is what "unset <queue>
// <metric>" without a media type removes.
func TestOldRulesKeepMeaning(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		if err := s.SetRawThreshold(ctx, q, "waiting", `{"queue_id":"`+q+`","metric":"waiting","value":10,"set_by":"U1"}`); err != nil {
			t.Fatal(err)
		}
		if err := s.SetThreshold(ctx, app.Threshold{QueueID: q, MediaType: app.Email, Metric: app.Waiting, Value: 50}); err != nil {
			t.Fatal(err)
		}
		snap, err := s.Load(ctx, q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		for media, want := range map[string]float64{app.Voice: 10, app.Chat: 10, "": 10, app.Email: 50} {
			if th, ok := app.Rule(snap.Thresholds, snap.Defaults, nil, media, app.Waiting); !ok || th.Value != want {
				t.Errorf("rule for %q = %v, %v; want %v", media, th.Value, ok, want)
			}
		}
		list, err := s.Thresholds(ctx)
		if err != nil || len(list) != 2 || list[0].MediaType != "" || list[1].MediaType != app.Email {
			t.Fatalf("Thresholds = %+v, %v", list, err)
		}
		removed, err := s.DeleteThreshold(ctx, q, "", app.Waiting)
		if err != nil || len(removed) != 1 || removed[0].Value != 10 {
			t.Fatalf("DeleteThreshold = %+v, %v", removed, err)
		}
		if list, _ := s.Thresholds(ctx); len(list) != 1 || list[0].MediaType != app.Email {
			t.Errorf("after unsetting the old rule: %+v", list)
		}
		if removed, err := s.DeleteThreshold(ctx, q, app.Email, ""); err != nil || len(removed) != 1 {
			t.Errorf("DeleteThreshold(email) = %+v, %v", removed, err)
		}
	})
}

func TestLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		ok := func(name, holder string, ttl time.Duration) bool {
			t.Helper()
			got, err := s.AcquireLease(ctx, name, holder, ttl)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if !ok("poll", "a", time.Minute) {
			t.Fatal("holder cannot take a free lease")
		}
		if !ok("poll", "a", time.Minute) {
			t.Fatal("holder cannot renew its lease")
		}
		if ok("poll", "b", time.Minute) {
			t.Fatal("second holder took a live lease")
		}
		if err := s.ReleaseLease(ctx, "poll", "b"); err != nil {
			t.Fatal(err)
		}
		if ok("poll", "b", time.Minute) {
			t.Fatal("release by a non-holder freed the lease")
		}
		if err := s.ReleaseLease(ctx, "poll", "a"); err != nil {
			t.Fatal(err)
		}
		if !ok("poll", "b", 50*time.Millisecond) {
			t.Fatal("released lease not free")
		}
		time.Sleep(150 * time.Millisecond)
		if !ok("poll", "a", time.Minute) {
			t.Fatal("expired lease not free")
		}
	})
}

func TestDirectory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		qs := []app.QueueInfo{{ID: "q2", Name: "Support"}, {ID: "q1", Name: "Billing EU",
			ServiceLevels: map[string]app.ServiceLevelTarget{"call": {Percent: 90, Within: 15 * time.Second}}}}
		if err := s.SaveQueues(ctx, qs); err != nil {
			t.Fatal(err)
		}
		got, err := s.Queues(ctx)
		if err != nil || len(got) != 2 || got[0].Name != "Billing EU" || got[0].ServiceLevels["call"].Within != 15*time.Second {
			t.Errorf("Queues = %+v, %v", got, err)
		}
		names, _ := s.KnownQueues(ctx)
		if names["q2"] != "Support" {
			t.Errorf("KnownQueues = %v", names)
		}
	})
}

func TestUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	s, err := store.New(context.Background(), srv.URL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv.Stop()
	if _, err := s.Load(context.Background(), q, "k", nil); !errors.Is(err, app.ErrUnavailable) {
		t.Errorf("Load with Redis down: err = %v, want ErrUnavailable", err)
	}
	if err := s.Ping(context.Background()); !errors.Is(err, app.ErrUnavailable) {
		t.Errorf("Ping with Redis down: err = %v", err)
	}
}

func TestBadURL(t *testing.T) {
	_, err := store.New(context.Background(), "redis://user:hunter2@[::1", store.Options{})
	if err == nil {
		t.Fatal("bad URL accepted")
	}
	if got := err.Error(); strings.Contains(got, "hunter2") {
		t.Errorf("error leaks the password: %s", got)
	}
}

// Fetch reads entries a consumer holds again, by ID, except those done.
func TestFetch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		for _, ch := range []string{"C1", "C2", "C3"} {
			if err := s.Enqueue(ctx, app.Notification{Kind: app.KindAnnounce, Channel: ch, Text: "hello " + ch}); err != nil {
				t.Fatal(err)
			}
		}
		dels, err := s.Receive(ctx, "c1", 10, 10*time.Millisecond)
		if err != nil || len(dels) != 3 {
			t.Fatalf("Receive = %v, %v", dels, err)
		}
		if err := s.Done(ctx, dels[1].ID); err != nil {
			t.Fatal(err)
		}
		got, err := s.Fetch(ctx, "c1", []string{dels[0].ID, dels[1].ID, dels[2].ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != dels[0].ID || got[0].Notification.Text != "hello C1" ||
			got[1].ID != dels[2].ID || got[1].Notification.Channel != "C3" {
			t.Errorf("Fetch = %+v, want the entries of C1 and C3", got)
		}
	})
}
