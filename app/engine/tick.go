package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slabot/slabot/app"
)

// Tick runs the time-driven half of DESIGN §5 for every alert that is due:
// pending alerts whose for-duration has elapsed fire even if Genesys sends
// nothing new, snoozes that ended post their breaches afresh, reminders and
// coalesced updates go out. A lost race means another
// replica did the work; the alert is simply skipped.
func (e *Engine) Tick(ctx context.Context) error {
	now := e.clock.Now()
	ids, err := e.store.Due(ctx, now, 200)
	if err != nil {
		return fmt.Errorf("due alerts: %w", err)
	}
	for _, id := range ids {
		advance := e.advance
		if app.IsDigestID(id) {
			advance = e.advanceDigest
		}
		if err := advance(ctx, id, now); err != nil && !errors.Is(err, app.ErrConflict) {
			return err
		}
	}
	return nil
}

func (e *Engine) advance(ctx context.Context, id string, now time.Time) error {
	queueID, _, _, err := app.ParseAlertID(id)
	if err != nil {
		return nil // not ours to interpret; the store drops unknown entries
	}
	snap, err := e.store.Load(ctx, queueID, "", []string{id})
	if err != nil {
		return fmt.Errorf("load alert %s: %w", id, err)
	}
	va, ok := snap.Alerts[id]
	if !ok {
		return e.commitState(ctx, app.Change{QueueID: queueID, Undue: []string{id}})
	}
	w := &working{alert: va.Alert, version: va.Version, changed: true}
	a := &w.alert
	var notes []app.Notification
	th, hasThreshold := e.threshold(snap, a.MediaType, a.Metric)
	q := snap.Queue
	q.SnoozedUntil, q.SnoozedBy = snap.Snooze()
	sched := e.zones.Schedule(snap.Hours())
	active := a.State == app.StatePending || a.State.Open()
	switch {
	case active && !sched.Open(now):
		notes = e.closeForHours(a, sched, now, notes)
	case !active && !a.RearmAt.IsZero() && !now.Before(a.RearmAt):
		// Business hours opened: look at the queue afresh, since Genesys
		// may send nothing new for a breach that began while closed.
		a.RearmAt = time.Time{}
		k := app.LatestKey(a.MediaType, a.Metric)
		if v, ok := q.Latest[k]; ok {
			// The value may be hours old: it is shown with when it was seen.
			notes = e.observe(w, q, v, q.LatestAt[k], th, hasThreshold, sched, now, notes)
		}
	case a.State == app.StatePending && (!hasThreshold || !th.Breached(a.Value)):
		a.State, a.PendingSince = app.StateResolved, time.Time{}
	case a.State == app.StatePending && now.Sub(a.PendingSince) >= th.For:
		setContext(a, q)
		notes = e.fire(a, q, now, notes)
	case a.State.Open() && a.Muted && !now.Before(q.SnoozedUntil):
		setContext(a, q)
		notes = e.snoozeEnded(a, th, hasThreshold, now, notes)
	case a.State.Open():
		setContext(a, q)
		if a.Dirty {
			notes = e.refresh(a, now, notes)
		}
		notes = e.remind(a, now, notes)
	}
	c := app.Change{QueueID: queueID, Notifications: notes,
		Alerts: []app.AlertWrite{{Alert: *a, Version: w.version, Due: e.due(*a, snap, now)}}}
	c, diverted, err := e.commitOne(ctx, c, snap, now)
	if err != nil {
		return fmt.Errorf("advance alert %s: %w", id, err)
	}
	e.logCommitted(c, diverted)
	return nil
}
