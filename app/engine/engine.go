package engine

import (
	"github.com/slabot/slabot/app"

	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"
)

// Storm digest defaults (issue 5): 5 or more alerts posting in one channel
// within 30 s are a storm. cmd applies them when STORM_THRESHOLD and
// STORM_WINDOW are unset.
const (
	DefaultStormThreshold = 5
	DefaultStormWindow    = 30 * time.Second
)

// Options configures an Engine. The zero value is usable: no default
// channel, 30 s update coalescing, the built-in default threshold, reminders
// and storm digests off.
type Options struct {
	// Channel receives alerts of queues without a route.
	Channel string
	// UpdateEvery bounds how often a breaching alert's message is updated.
	UpdateEvery time.Duration
	// RemindAfter is the reminder interval for unacknowledged alerts
	// (REMIND_AFTER); zero turns reminders off.
	RemindAfter time.Duration
	// StormThreshold is how many alerts posting in one channel within
	// StormWindow make a storm, which is collected in one digest message
	// instead of one message each (STORM_THRESHOLD, by default
	// DefaultStormThreshold). Below 2 (the zero value) digests are off.
	StormThreshold int
	// StormWindow is the storm's time span (STORM_WINDOW); zero means
	// DefaultStormWindow.
	StormWindow time.Duration
	// DigestEvery bounds how often a digest message is updated as its
	// members change; zero means 5 s.
	DigestEvery time.Duration
	// BuiltinDefault applies to queues with no threshold of that metric and
	// no stored default (DESIGN §4: default longest_wait 300s).
	BuiltinDefault *app.Threshold
	// Observer, when set, counts transitions (metrics).
	Observer TransitionObserver
	Logger   *slog.Logger
}

// TransitionObserver is told each alert transition: "fired", "updated",
// "resolved", "reminded", "acknowledged", "snoozed"…
type TransitionObserver interface {
	Transition(kind string)
}

// Engine evaluates observations against thresholds and records the
// resulting alert transitions and notifications. Its only state is a cache
// of what it last committed (stateCache), which every commit checks
// against the store, so any number of engines on one store act as one (it
// also orders its own work on a queue or a storm channel, see keyLocks).
type Engine struct {
	store Store
	clock app.Clock
	opts  Options
	log   *slog.Logger
	locks *keyLocks // of storm channels
	// queueLocks serialise this engine's evaluations of one queue.
	queueLocks *keyLocks
	// waiting are the storm changes waiting for their channels' locks.
	waiting *stormWaiters
	zones   *app.Zones
	cache   *stateCache
}

// New returns an engine on store, taking time from clock.
func New(store Store, clock app.Clock, opts Options) *Engine {
	if opts.UpdateEvery <= 0 {
		opts.UpdateEvery = 30 * time.Second
	}
	if opts.StormWindow <= 0 {
		opts.StormWindow = DefaultStormWindow
	}
	if opts.DigestEvery <= 0 {
		opts.DigestEvery = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{store: store, clock: clock, opts: opts, log: opts.Logger, locks: &keyLocks{}, queueLocks: &keyLocks{}, waiting: &stormWaiters{},
		zones: &app.Zones{}, cache: newStateCache()}
}

// maxAttempts bounds compare-and-set retries; losing this many races in a
// row means something is badly wrong and the caller should retry later.
// Storms make races likely: every post in a channel updates its storm
// record, so many queues breaching at once contend for it.
const maxAttempts = 16

// backoff waits a little before the next compare-and-set attempt, longer
// and at random after each lost race, so that contenders spread out.
func backoff(ctx context.Context, attempt int) {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 5))))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// commit applies the storm rules to c and commits it, then logs and
// counts its transitions. It returns the change as committed.
func (e *Engine) commit(ctx context.Context, c app.Change, snap app.Snapshot, now time.Time) (app.Change, error) {
	c, diverted, err := e.commitChange(ctx, c, snap, now)
	if err != nil {
		return c, err
	}
	e.logCommitted(c, diverted)
	return c, nil
}

// logCommitted logs and counts the transitions of committed change c, and
// of the alerts that fired into a digest (diverted).
func (e *Engine) logCommitted(c app.Change, diverted []app.Alert) {
	e.logTransitions(c)
	for _, a := range diverted {
		e.count("fired")
		e.log.Info("alert firing, in a storm digest", "queue_id", a.QueueID, "alert_id", a.ID, "digest_id", a.Digest,
			"channel_id", a.Channel, "metric", a.Metric, "value", a.Value, "threshold", a.Threshold)
	}
}

// commitStore commits c and keeps the cache true to it: what c wrote of
// storms and digests is cached, the queue's snapshot dropped (Ingest
// caches its own), and after a failure everything c was built on is
// dropped, since any of it may be what moved.
func (e *Engine) commitStore(ctx context.Context, c app.Change) error {
	if err := e.store.Commit(ctx, c); err != nil {
		e.cache.forget(c)
		return err
	}
	e.cache.stormsCommitted(c)
	if c.QueueID != "" {
		e.cache.forgetQueue(c.QueueID)
	}
	return nil
}

// Ingest evaluates one event's observations. It returns once every effect
// is durably recorded (or nothing is), so a Processed outcome never loses an
// alert.
//
// It evaluates on the queue's cached snapshot when it has one: the commit
// then costs the only Redis round trip, and fails with ErrConflict if the
// snapshot was stale, in which case the queue is read afresh.
func (e *Engine) Ingest(ctx context.Context, ev app.Event) (app.Outcome, error) {
	if len(ev.Observations) == 0 {
		return app.Ignored, nil
	}
	ids := eventAlertIDs(ev)
	defer e.queueLocks.lock([]string{ev.QueueID})()
	for attempt := range maxAttempts {
		snap, cached := e.cache.snapshot(ev.QueueID, ids)
		if !cached {
			snaps, err := e.load(ctx, []app.LoadRequest{{QueueID: ev.QueueID, EventKey: ev.Key, AlertIDs: ids}})
			if err != nil {
				return "", err
			}
			if snap = snaps[0]; snap.Seen {
				return app.Duplicate, nil
			}
		}
		now := e.clock.Now()
		c, err := e.commit(ctx, e.change(snap, ev, now), snap, now)
		var out app.Outcome
		settled, err := e.settle(snap, c, err, &out)
		switch {
		case err != nil:
			return "", err
		case settled:
			return out, nil
		case !cached:
			backoff(ctx, attempt) // a real race, not a stale cache
		}
	}
	return "", fmt.Errorf("ingest queue %s: %w after %d attempts", ev.QueueID, app.ErrConflict, maxAttempts)
}

// eventAlertIDs are the alerts an event's observations are about.
func eventAlertIDs(ev app.Event) []string {
	ids := make([]string, 0, len(ev.Observations))
	for _, o := range ev.Observations {
		ids = appendNew(ids, app.AlertID(ev.QueueID, o.MediaType, o.Metric))
	}
	return ids
}

// load reads the snapshots of queues not cached, in one round trip, each
// with the alerts already cached for its queue too (so that a queue whose
// events alternate media types stays cached), and caches those whose
// event key is new (a Seen snapshot is returned as read).
func (e *Engine) load(ctx context.Context, reqs []app.LoadRequest) ([]app.Snapshot, error) {
	for i := range reqs {
		reqs[i].AlertIDs = e.cache.cachedAlertIDs(reqs[i].QueueID, slices.Clone(reqs[i].AlertIDs))
	}
	snaps, err := e.store.LoadMany(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("load %d queues: %w", len(reqs), err)
	}
	for i, r := range reqs {
		if !snaps[i].Seen {
			snaps[i] = e.cache.loaded(r.QueueID, snaps[i], r.AlertIDs)
		}
	}
	return snaps, nil
}

// change is the change ev makes to snap, conditional on snap's versions.
func (e *Engine) change(snap app.Snapshot, ev app.Event, now time.Time) app.Change {
	c := e.apply(snap, ev, now)
	v := snap.Versions
	c.Expect, c.Known = &v, snap.Queue.Known
	return c
}

// threshold is the rule that applies to metric m of the snapshot's queue.
func (e *Engine) threshold(snap app.Snapshot, m app.Metric) (app.Threshold, bool) {
	if t, ok := snap.Thresholds[m]; ok {
		return t, true
	}
	if t, ok := snap.Defaults[m]; ok {
		return t, true
	}
	if b := e.opts.BuiltinDefault; b != nil && b.Metric == m {
		return *b, true
	}
	return app.Threshold{}, false
}

// working is one alert being changed within a step.
type working struct {
	alert   app.Alert
	version int64
	changed bool
}

func (e *Engine) apply(snap app.Snapshot, ev app.Event, now time.Time) app.Change {
	c := app.Change{QueueID: ev.QueueID, EventKey: ev.Key, Latest: make(map[string]float64, len(ev.Observations))}
	if ev.QueueName != "" && ev.QueueName != snap.Queue.Name {
		c.QueueName = ev.QueueName
		snap.Queue.Name = ev.QueueName
	}
	obs := e.evaluated(snap, ev.Observations)
	c.At, c.Prior = now, make(map[string]float64, len(obs))
	for _, o := range obs {
		k := app.LatestKey(o.MediaType, o.Metric)
		c.Latest[k] = o.Value
		if v, ok := snap.Queue.Latest[k]; ok {
			c.Prior[k] = v
		}
	}
	q := snap.Queue
	q.Latest = mergeLatest(q.Latest, c.Latest)
	q.SnoozedUntil = snap.SnoozedUntil()
	sched := e.zones.Schedule(snap.Hours())

	alerts := make(map[string]*working)
	var order []string
	for _, o := range obs {
		id := app.AlertID(ev.QueueID, o.MediaType, o.Metric)
		w, ok := alerts[id]
		if !ok {
			va := snap.Alerts[id]
			w = &working{alert: va.Alert, version: va.Version}
			if va.Version == 0 {
				w.alert = app.Alert{ID: id, QueueID: ev.QueueID, MediaType: o.MediaType, Metric: o.Metric}
			}
			alerts[id] = w
			order = append(order, id)
		}
		th, hasThreshold := e.threshold(snap, o.Metric)
		c.Notifications = e.observe(w, q, o.Value, th, hasThreshold, sched, now, c.Notifications)
	}
	for _, id := range order {
		if w := alerts[id]; w.changed {
			prior := snap.Alerts[id].Alert.State
			if w.version == 0 {
				prior = app.StateResolved
			}
			c.Alerts = append(c.Alerts, app.AlertWrite{Alert: w.alert, Version: w.version, Due: e.due(w.alert, snap, now),
				Prior: &prior})
		}
	}
	return c
}

// evaluated drops the observations their rule's volume gate ignores: they
// change nothing, not even the queue's latest values, so that a later
// time-driven evaluation never acts on them either.
func (e *Engine) evaluated(snap app.Snapshot, obs []app.Observation) []app.Observation {
	out := obs[:0:0]
	for _, o := range obs {
		if th, ok := e.threshold(snap, o.Metric); ok && th.Gates(o) {
			continue
		}
		out = append(out, o)
	}
	return out
}

func mergeLatest(old, fresh map[string]float64) map[string]float64 {
	m := make(map[string]float64, len(old)+len(fresh))
	for k, v := range old {
		m[k] = v
	}
	for k, v := range fresh {
		m[k] = v
	}
	return m
}

// observe applies one value to an alert: the event-driven half of DESIGN §5.
func (e *Engine) observe(w *working, q app.Queue, v float64, th app.Threshold, hasThreshold bool, sched app.Schedule, now time.Time, out []app.Notification) []app.Notification {
	if !sched.Open(now) {
		return e.offHours(w, v, th, hasThreshold, sched, now, out)
	}
	a := &w.alert
	active := a.State == app.StatePending || a.State.Open()
	if !active && (!hasThreshold || !th.Breached(v)) {
		return out // ok and staying ok: nothing to record
	}
	w.changed = true
	a.Value = v
	if q.Name != "" {
		a.QueueName = q.Name
	}
	setContext(a, q)
	if !hasThreshold {
		return e.resolve(a, now, out)
	}
	a.Threshold, a.Clear = th.Value, th.Clear
	breach := th.Breached(v)
	switch {
	case !active: // a new episode begins
		a.Episode++
		a.PendingSince, a.FiredAt, a.ResolvedAt, a.NotifiedAt = now, time.Time{}, time.Time{}, time.Time{}
		a.AckedBy, a.AckedAt, a.ResolvedBy, a.Dirty, a.Muted, a.Channel = "", time.Time{}, "", false, false, ""
		a.Digest, a.OffHours, a.RearmAt = "", false, time.Time{}
		if th.For > 0 {
			a.State = app.StatePending
			return out
		}
		return e.fire(a, q, now, out)
	case a.State == app.StatePending && breach:
		if now.Sub(a.PendingSince) >= th.For {
			return e.fire(a, q, now, out)
		}
		return out
	case a.State == app.StatePending:
		a.State, a.PendingSince = app.StateResolved, time.Time{} // never fired: nothing to tell
		return out
	case !th.Holds(v): // back at the clear level (the threshold without a band)
		return e.resolve(a, now, out)
	case a.Muted && !now.Before(q.SnoozedUntil):
		return e.snoozeEnded(a, th, true, now, out)
	default:
		a.Dirty = true
		return e.refresh(a, now, out)
	}
}
