package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
)

// DefaultStaleAfter is the stale-data window when Options.StaleAfter is
// unset: a rule change acts at once on a queue's last known value only if
// it was observed at most this long ago. Polling refreshes every value
// every 10 s and Genesys notifications come on every change, so a value
// older than this says more about a gap in the data than about the queue.
const DefaultStaleAfter = 10 * time.Minute

// staleAfter is the stale-data window in effect.
func (r *rules) staleAfter() time.Duration {
	if r.opts.StaleAfter > 0 {
		return r.opts.StaleAfter
	}
	return DefaultStaleAfter
}

// reaction is what bringing one alert in line with its queue's rules,
// hours and snooze as they now stand asks for.
type reaction int

const (
	reactNone        reaction = iota
	reactValue                // fire, resolve or start a breach: only on a value fresh enough to trust
	reactShow                 // the rule changed but not the state: record and show it
	reactRuleRemoved          // no rule applies any more: the episode ends, whatever the value
	reactClose                // the queue is outside its business hours: the episode ends quietly
)

// reaction classifies alert a, whose queue's last value of its metric is
// v, against rule th (has: any rule applies), the queue q's snooze and the
// schedule sched, at now.
func (r *rules) reaction(a app.Alert, v float64, th app.Threshold, has bool, q app.Queue, sched app.Schedule, now time.Time) reaction {
	active := a.State == app.StatePending || a.State.Open()
	switch {
	case !sched.Open(now) && active:
		return reactClose
	case !sched.Open(now):
		return reactShow // at most a re-arm at opening time, which acts on nothing now
	case active && !has:
		return reactRuleRemoved
	case a.State.Open() && a.Muted && !now.Before(q.SnoozedUntil):
		return reactNone // the snooze's end settles it (applySnooze, Tick)
	case a.State == app.StatePending && (!th.Breached(v) || now.Sub(a.PendingSince) >= th.For):
		return reactValue
	case a.State == app.StatePending:
		return reactShow // its "for" may have changed, and with it when it fires
	case a.State.Open() && !th.Holds(v):
		return reactValue
	case a.State.Open() && (a.Threshold != th.Value || !sameLevel(a.Clear, th.Clear)):
		return reactShow
	case !active && has && th.Breached(v) && th.MinVolume == 0:
		// Latest values keep no volume, so a rule's volume gate cannot be
		// checked on them: a gated rule's breach starts at the next
		// observation, which carries its volume.
		return reactValue
	}
	return reactNone
}

func sameLevel(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// reapply is the change that brings the alerts of snap's queue in line
// with its rules, business hours and snooze as they stand at now, on the
// queue's last known values, as if each had just been observed: a rule
// change then acts at once instead of at the queue's next event, which
// may never come while a breach holds steady. by is who changed the
// rules, named where an episode ends because its rule is gone.
//
// A value observed longer ago than the stale-data window (or at an
// unknown time) is not acted on: it is returned instead, so that the
// supervisor is told the queue waits for fresh data. Ending an episode
// for the hours or a removed rule needs no value and always happens.
func (r *rules) reapply(snap app.Snapshot, by string, now time.Time) (app.Change, []app.StaleValue) {
	q := snap.Queue
	q.SnoozedUntil, q.SnoozedBy = snap.Snooze()
	sched := r.zones.Schedule(snap.Hours())
	v := snap.Versions
	c := app.Change{QueueID: q.ID, At: now, Expect: &v, Known: q.Known}
	var stale []app.StaleValue
	for _, k := range slices.Sorted(maps.Keys(q.Latest)) {
		media, name, ok := strings.Cut(k, "/")
		m, err := app.ParseMetric(name)
		if !ok || err != nil || string(m) != name {
			continue
		}
		id := app.AlertID(q.ID, media, m)
		va := snap.Alerts[id]
		w := &working{alert: va.Alert, version: va.Version}
		if va.Version == 0 {
			w.alert = app.Alert{ID: id, QueueID: q.ID, MediaType: media, Metric: m}
		}
		a := &w.alert
		prior := a.State
		if va.Version == 0 {
			prior = app.StateResolved
		}
		val, seenAt := q.Latest[k], q.LatestAt[k]
		th, has := r.threshold(snap, media, m)
		act := r.reaction(*a, val, th, has, q, sched, now)
		fresh := !seenAt.IsZero() && now.Sub(seenAt) <= r.staleAfter()
		switch {
		case act == reactNone:
			continue
		case act == reactValue && !fresh:
			stale = append(stale, app.StaleValue{QueueID: q.ID, QueueName: q.Name, MediaType: media, Metric: m,
				Value: val, SeenAt: seenAt})
			continue
		case act == reactRuleRemoved:
			w.changed = true
			c.Notifications = r.ruleRemoved(a, by, now, c.Notifications)
		case act == reactClose:
			w.changed = true
			c.Notifications = r.closeForHours(a, sched, now, c.Notifications)
		default:
			if seenAt.IsZero() {
				seenAt = a.ValueAt // a rule shown anew; the value is the one already shown
			}
			n := len(c.Notifications)
			c.Notifications = r.observe(w, q, val, seenAt, th, has, sched, now, c.Notifications)
			if act == reactShow && len(c.Notifications) == n {
				c.Notifications = r.showRule(a, now, c.Notifications)
			}
		}
		if !w.changed {
			continue
		}
		c.Alerts = append(c.Alerts, app.AlertWrite{Alert: *a, Version: w.version, Due: r.due(*a, snap, now), Prior: &prior})
	}
	return c, stale
}

// showRule updates at once the message of an open, posted alert whose
// rule changed, rather than when the next update is due: the supervisor
// who changed it looks for it now.
func (r *rules) showRule(a *app.Alert, now time.Time, out []app.Notification) []app.Notification {
	if !a.State.Open() || a.Muted || a.NotifiedAt.IsZero() {
		return out
	}
	a.NotifiedAt, a.Dirty = now, false
	return append(out, app.Notification{Kind: app.KindUpdate, Channel: a.Channel, Alert: *a, At: now})
}

// reevaluate brings the alerts of queueIDs (DefaultQueue or AllQueues:
// every known queue) in line with their rules, hours and snooze at once
// (reapply), committing each queue's change as an event's is: conditional
// on the versions it was decided on, through the storm rules, so that a
// default rule that fires on many queues at once makes a digest, and two
// replicas doing the same make one message. It returns the values it did
// not act on for their age.
func (e *Engine) reevaluate(ctx context.Context, queueIDs []string, by string) ([]app.StaleValue, error) {
	ids, err := e.scope(ctx, queueIDs)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	defer e.queueLocks.lock(ids)()
	stale := make(map[string][]app.StaleValue, len(ids))
	todo := ids
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt == maxAttempts {
			return nil, fmt.Errorf("re-evaluate %d queues: %w after %d attempts", len(todo), app.ErrConflict, maxAttempts)
		}
		if attempt > 0 {
			backoff(ctx, attempt)
		}
		snaps, err := e.queueSnapshots(ctx, todo)
		if err != nil {
			return nil, err
		}
		now := e.clock.Now()
		var ps []*pending
		for _, snap := range snaps {
			c, s := e.reapply(snap, by, now)
			stale[snap.Queue.ID] = s
			if len(c.Alerts) > 0 {
				ps = append(ps, &pending{change: c, snap: snap, now: now, storms: e.stormKeys(c, snap)})
			}
		}
		e.commit(ctx, ps...)
		var retry []string
		for _, p := range ps {
			switch {
			case p.err == nil:
				e.logCommitted(p.change, p.diverted)
			case errors.Is(p.err, app.ErrConflict):
				retry = append(retry, p.change.QueueID)
			default:
				return nil, fmt.Errorf("re-evaluate queue %s: %w", p.change.QueueID, p.err)
			}
		}
		todo = retry
	}
	var out []app.StaleValue
	for _, id := range ids {
		out = append(out, stale[id]...)
	}
	return out, nil
}

// StaleValues lists the last known values of queueID (DefaultQueue or
// AllQueues: of every known queue) that its rules, hours and snooze would
// act on but that are too old to trust: the queues that wait for fresh
// data before a rule change shows on them. It changes nothing.
func (e *Engine) StaleValues(ctx context.Context, queueID string) ([]app.StaleValue, error) {
	ids, err := e.scope(ctx, []string{queueID})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	snaps, err := e.queueSnapshots(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := e.clock.Now()
	var out []app.StaleValue
	for _, snap := range snaps {
		_, s := e.reapply(snap, "", now)
		out = append(out, s...)
	}
	return out, nil
}

// scope expands DefaultQueue and AllQueues to every known queue, sorted.
func (e *Engine) scope(ctx context.Context, queueIDs []string) ([]string, error) {
	if !slices.Contains(queueIDs, app.DefaultQueue) && !slices.Contains(queueIDs, app.AllQueues) {
		return slices.Compact(slices.Sorted(slices.Values(queueIDs))), nil
	}
	known, err := e.records().KnownQueues(ctx)
	if err != nil {
		return nil, fmt.Errorf("known queues: %w", err)
	}
	return slices.Sorted(maps.Keys(known)), nil
}

// queueSnapshots reads the snapshots of ids with the alerts of every
// metric and media type each has a last value of: one round trip for the
// queues, one for their alerts.
func (e *Engine) queueSnapshots(ctx context.Context, ids []string) ([]app.Snapshot, error) {
	now := e.clock.Now()
	reqs := make([]app.LoadRequest, len(ids))
	for i, id := range ids {
		reqs[i] = app.LoadRequest{QueueID: id, At: now}
	}
	snaps, err := e.store.LoadMany(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("load %d queues: %w", len(ids), err)
	}
	for i, s := range snaps {
		for k := range s.Queue.Latest {
			if media, name, ok := strings.Cut(k, "/"); ok {
				reqs[i].AlertIDs = append(reqs[i].AlertIDs, app.AlertID(ids[i], media, app.Metric(name)))
			}
		}
	}
	if snaps, err = e.store.LoadMany(ctx, reqs); err != nil {
		return nil, fmt.Errorf("load %d queues: %w", len(ids), err)
	}
	for i := range snaps {
		snaps[i].Queue.ID = ids[i] // the store names it; make sure
	}
	return snaps, nil
}
