package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/slabot/slabot/app"
)

// advanceDigest is the time-driven pass for one digest: its coalesced
// update and its reminders. A lost race means another replica did it.
func (e *Engine) advanceDigest(ctx context.Context, id string, now time.Time) error {
	channel, _, err := app.ParseDigestID(id)
	if err != nil {
		return e.commitState(ctx, app.Change{Undue: []string{id}})
	}
	defer e.storms.locks.lock([]string{channel})()
	vd, err := e.loadDigest(ctx, id)
	if errors.Is(err, app.ErrNotFound) {
		return e.commitState(ctx, app.Change{Undue: []string{id}})
	}
	if err != nil {
		return err
	}
	d := vd.Digest
	notes := e.settleDigest(&d, now, false)
	if e.opts.RemindAfter > 0 && !d.Closed() && !d.RemindAt.IsZero() && !now.Before(d.RemindAt) {
		d.RemindAt = now.Add(e.opts.RemindAfter)
		if slices.ContainsFunc(d.Members, unacknowledged) {
			d.Reminders++
			notes = append(notes, digestNote(app.KindDigestReply, d, "reminder", now))
		}
	}
	d.Members = nil // unchanged: only the digest's own fields are written
	c := app.Change{Notifications: notes, Digests: []app.DigestWrite{{Digest: d, Version: vd.Version, Due: e.digestDue(d, now)}}}
	if err := e.commitState(ctx, c); err != nil {
		return fmt.Errorf("advance digest %s: %w", id, err)
	}
	e.logTransitions(c)
	return nil
}

// unacknowledged reports whether a member still waits for someone: firing,
// not acknowledged, not snoozed.
func unacknowledged(m app.DigestMember) bool {
	return m.Open() && m.State == app.StateFiring && !m.Muted
}

// loadDigest loads a digest with its members.
func (e *Engine) loadDigest(ctx context.Context, id string) (app.VersionedDigest, error) {
	_, digests, err := e.store.Storms(ctx, nil, []string{id})
	if err != nil {
		return app.VersionedDigest{}, fmt.Errorf("load digest %s: %w", id, err)
	}
	vd, ok := digests[id]
	if !ok {
		return app.VersionedDigest{}, fmt.Errorf("%w: the storm digest no longer exists", app.ErrNotFound)
	}
	if vd.Digest.Members, err = e.store.DigestMembers(ctx, id); err != nil {
		return app.VersionedDigest{}, fmt.Errorf("load digest %s: %w", id, err)
	}
	app.SortMembers(vd.Digest.Members)
	return vd, nil
}

// Digest returns a storm digest as stored, for its buttons.
func (e *Engine) Digest(ctx context.Context, id string) (app.Digest, error) {
	if _, _, err := app.ParseDigestID(id); err != nil {
		return app.Digest{}, err
	}
	vd, err := e.loadDigest(ctx, id)
	return vd.Digest, err
}

// AckDigest acknowledges every firing alert a storm digest stands for (its
// Acknowledge all button). Each is acknowledged as by its own button, so a
// member acknowledged meanwhile is simply skipped; the digest shows the
// result. It fails with ErrStale when none was left to acknowledge.
func (e *Engine) AckDigest(ctx context.Context, digestID string, by app.Actor) ([]app.Alert, error) {
	d, err := e.Digest(ctx, digestID)
	if err != nil {
		return nil, err
	}
	var acked []app.Alert
	for _, m := range d.Members {
		if !m.Open() || m.State != app.StateFiring {
			continue
		}
		a, err := e.Ack(ctx, m.AlertID, m.Episode, by)
		if errors.Is(err, app.ErrStale) {
			continue
		}
		if err != nil {
			return acked, err
		}
		acked = append(acked, a)
	}
	if len(acked) == 0 {
		return nil, fmt.Errorf("%w: no alert of this storm is still firing unacknowledged", app.ErrStale)
	}
	return acked, nil
}

// SnoozeDigest snoozes every queue with an open alert in a storm digest for
// dur (its Snooze all menu) and returns when the snoozes end and which
// queues they cover. As with any snooze, a breach still going on when it
// ends is posted afresh.
func (e *Engine) SnoozeDigest(ctx context.Context, digestID string, dur time.Duration, by app.Actor) (time.Time, []string, error) {
	if err := validSnooze(dur); err != nil {
		return time.Time{}, nil, err
	}
	d, err := e.Digest(ctx, digestID)
	if err != nil {
		return time.Time{}, nil, err
	}
	var queues []string
	for _, m := range d.Members {
		if m.Open() {
			queues = appendNew(queues, m.QueueID)
		}
	}
	if len(queues) == 0 {
		return time.Time{}, nil, fmt.Errorf("%w: every alert of this storm has resolved", app.ErrStale)
	}
	until := e.clock.Now().Add(dur).Truncate(time.Second)
	detail := "until " + until.UTC().Format("15:04 MST") + " (" + app.FormatDuration(dur) + "), from a storm digest"
	if err := e.setSnoozes(ctx, queues, until, by, "snooze", detail); err != nil {
		return time.Time{}, nil, err
	}
	return until, queues, nil
}
