package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store"
)

// Every change of a queue moves its version, so that a commit built on a
// cached snapshot (Change.Expect) fails instead of acting on stale state,
// and the failed commit writes nothing, not even its event key.
func TestQueueVersions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		id := app.AlertID(q, "voice", app.Waiting)
		load := func() app.Snapshot {
			t.Helper()
			snap, err := s.Load(ctx, q, "", []string{id})
			if err != nil {
				t.Fatal(err)
			}
			return snap
		}
		observe := func(key string, expect app.Versions) error {
			return s.Commit(ctx, app.Change{QueueID: q, EventKey: key, Expect: &expect,
				Latest: map[string]float64{app.LatestKey("voice", app.Waiting): 3}})
		}
		v0 := load().Versions
		if err := observe("ev-1", v0); err != nil {
			t.Fatalf("commit expecting the loaded versions: %v", err)
		}
		v1 := load().Versions
		if v1.Queue != v0.Queue+1 || v1.Default != v0.Default {
			t.Fatalf("versions after a commit = %+v, want queue +1 of %+v", v1, v0)
		}
		if !load().Queue.Known {
			t.Error("a committed queue is not Known")
		}
		if err := observe("ev-2", v0); !errors.Is(err, app.ErrConflict) {
			t.Fatalf("commit expecting the old version: err = %v, want ErrConflict", err)
		}
		if snap, _ := s.Load(ctx, q, "ev-2", nil); snap.Seen {
			t.Error("a conflicting commit recorded its event key")
		}
		if err := observe("ev-1", v0); !errors.Is(err, app.ErrDuplicate) {
			t.Errorf("replay expecting the old version: err = %v, want ErrDuplicate", err)
		}

		moves := []struct {
			name      string
			move      func() error
			ofQueue   bool // else the default queue's version moves
			unchanged bool
		}{
			{"threshold set", func() error {
				return s.SetThreshold(ctx, app.Threshold{QueueID: q, Metric: app.Waiting, Value: 10})
			}, true, false},
			{"threshold removed", func() error { _, err := s.DeleteThreshold(ctx, q, "", app.Waiting); return err }, true, false},
			{"renamed by the directory", func() error { return s.SaveQueues(ctx, []app.QueueInfo{{ID: q, Name: "Sales"}}) }, true, false},
			{"snoozed", func() error {
				return s.Commit(ctx, app.Change{QueueID: q, Snooze: &app.Snooze{Until: time.Now().Add(time.Hour), By: "U1"}})
			}, true, false},
			{"default threshold set", func() error {
				return s.SetThreshold(ctx, app.Threshold{QueueID: app.DefaultQueue, Metric: app.Waiting, Value: 10})
			}, false, false},
			{"all snoozed", func() error {
				return s.Commit(ctx, app.Change{QueueID: app.DefaultQueue, Snooze: &app.Snooze{Until: time.Now().Add(time.Hour)}})
			}, false, false},
			{"another queue changed", func() error {
				return s.SetThreshold(ctx, app.Threshold{QueueID: "other", Metric: app.Waiting, Value: 1})
			}, false, true},
		}
		for i, m := range moves {
			before := load().Versions
			if err := m.move(); err != nil {
				t.Fatalf("%s: %v", m.name, err)
			}
			after := load().Versions
			moved := after != before
			if moved == m.unchanged || (!m.unchanged && (after.Queue != before.Queue) != m.ofQueue) {
				t.Errorf("%s: versions %+v → %+v", m.name, before, after)
			}
			err := observe(fmt.Sprintf("move-%d", i), before)
			if m.unchanged != (err == nil) || (err != nil && !errors.Is(err, app.ErrConflict)) {
				t.Errorf("%s: commit expecting the versions before: err = %v", m.name, err)
			}
		}
	})
}

// CommitMany applies each change on its own terms, in one round trip, and
// survives a Redis that forgot the commit script (a restart).
func TestCommitMany(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		observe := func(queueID, key string, expect *app.Versions) app.Change {
			return app.Change{QueueID: queueID, EventKey: key, Expect: expect,
				Latest: map[string]float64{app.LatestKey("voice", app.Waiting): 4}}
		}
		if err := s.Commit(ctx, observe("q-a", "ev-1", nil)); err != nil {
			t.Fatal(err)
		}
		a, err := s.Load(ctx, "q-a", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		stale := app.Versions{Queue: 7} // q-c has never been committed: version 0
		errs := s.CommitMany(ctx, []app.Change{
			observe("q-a", "ev-2", &a.Versions),              // applies
			observe("q-b", "ev-1", nil),                      // applies: another queue's key space
			observe("q-a", "ev-1", nil),                      // a replay
			observe("q-c", "ev-1", &stale),                   // a stale snapshot
			{Latest: map[string]float64{"voice/waiting": 1}}, // names no queue
		})
		if len(errs) != 5 || errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], app.ErrDuplicate) ||
			!errors.Is(errs[3], app.ErrConflict) || !errors.Is(errs[4], app.ErrBadEvent) {
			t.Fatalf("CommitMany = %v, want nil, nil, ErrDuplicate, ErrConflict, ErrBadEvent", errs)
		}
		for q, seen := range map[string]string{"q-a": "ev-2", "q-b": "ev-1"} {
			if snap, err := s.Load(ctx, q, seen, nil); err != nil || !snap.Seen {
				t.Errorf("%s: event %s not recorded (%v)", q, seen, err)
			}
		}
		if snap, _ := s.Load(ctx, "q-c", "ev-1", nil); snap.Seen {
			t.Error("the conflicting change was recorded")
		}

		if err := s.FlushScripts(ctx); err != nil {
			t.Fatal(err)
		}
		if errs := s.CommitMany(ctx, []app.Change{observe("q-a", "ev-3", nil), observe("q-b", "ev-3", nil)}); errs[0] != nil || errs[1] != nil {
			t.Errorf("after SCRIPT FLUSH: CommitMany = %v", errs)
		}
	})
}

// An open alert is in the open set without a TTL, a resolved one has a
// TTL and is not, whether or not the change names the prior state (which
// lets the script skip what that state already did).
func TestAlertIndexes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *store.Redis) {
		ctx := context.Background()
		open, resolved := app.StateFiring, app.StateResolved
		a := firing(1)
		version := int64(0)
		steps := []struct {
			state app.State
			prior *app.State
		}{
			{app.StateFiring, &resolved}, // new
			{app.StateAcknowledged, &open},
			{app.StateResolved, &open},
			{app.StateResolved, &resolved},
			{app.StateFiring, &resolved},
			{app.StateResolved, nil}, // prior unknown
			{app.StateFiring, nil},
		}
		for i, st := range steps {
			a.State = st.state
			if err := s.Commit(ctx, app.Change{QueueID: q, Alerts: []app.AlertWrite{{Alert: a, Version: version, Prior: st.prior}}}); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			version++
			n, err := s.OpenAlertCount(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ttl, err := s.AlertTTL(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if isOpen := st.state.Open(); (n == 1) != isOpen || (ttl > 0) == isOpen {
				t.Errorf("step %d (%s, prior %v): open alerts %d, TTL %v", i, st.state, st.prior, n, ttl)
			}
		}
	})
}
