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
	unlock := e.storms.locks.lock([]string{channel})
	vd, err := e.loadDigest(ctx, id)
	if err == nil && len(vd.Digest.Leads) > 0 {
		// Linking commits each lead's alert, which takes the channel's
		// lock itself; the digest is read again once they are members.
		unlock()
		if err := e.linkLeads(ctx, vd.Digest); err != nil {
			return err
		}
		unlock = e.storms.locks.lock([]string{channel})
		vd, err = e.loadDigest(ctx, id)
	}
	defer unlock()
	if errors.Is(err, app.ErrNotFound) {
		return e.commitState(ctx, app.Change{Undue: []string{id}})
	}
	if err != nil {
		return err
	}
	d := vd.Digest
	d.Leads = nil // linked above, or no longer open
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

// linkLeads links the first alerts of d's storm, posted on their own
// before it was a storm, to d (Alert.Storm): from then on they stop
// reminding on their own (the digest reminds for them, once per interval)
// and their changes show in the digest. An episode that ended or was
// replaced meanwhile is left alone.
func (e *Engine) linkLeads(ctx context.Context, d app.Digest) error {
	for _, l := range d.Leads {
		if err := e.linkLead(ctx, d.ID, l); err != nil {
			return fmt.Errorf("link alert %s to storm digest %s: %w", l.AlertID, d.ID, err)
		}
	}
	return nil
}

func (e *Engine) linkLead(ctx context.Context, digestID string, l app.StormPost) error {
	queueID, _, _, err := app.ParseAlertID(l.AlertID)
	if err != nil {
		return nil // not an alert: nothing to link
	}
	for attempt := range maxAttempts {
		snap, err := e.store.Load(ctx, queueID, "", []string{l.AlertID})
		if err != nil {
			return err
		}
		va, ok := snap.Alerts[l.AlertID]
		if a := va.Alert; !ok || a.Episode != l.Episode || !a.State.Open() || app.StormOf(a) != "" {
			return nil
		}
		a, now := va.Alert, e.clock.Now()
		a.Storm, a.RemindAt = digestID, time.Time{}
		c := app.Change{QueueID: queueID, Alerts: []app.AlertWrite{{Alert: a, Version: va.Version, Due: e.due(a, snap, now)}}}
		_, _, err = e.commitOne(ctx, c, snap, now)
		if !errors.Is(err, app.ErrConflict) {
			return err
		}
		backoff(ctx, attempt)
	}
	return app.ErrConflict
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

// stormAlerts are the alert episodes of a digest's storm that may still
// be open: its open members, then the first alerts of the storm not yet
// linked to it (Digest.Leads), whose state only their own records know.
func stormAlerts(d app.Digest) []app.StormPost {
	var out []app.StormPost
	seen := make(map[app.StormPost]bool)
	add := func(id string, ep int) {
		if k := (app.StormPost{AlertID: id, Episode: ep}); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, m := range d.Members {
		if m.Open() {
			add(m.AlertID, m.Episode)
		}
	}
	for _, l := range d.Leads {
		add(l.AlertID, l.Episode)
	}
	return out
}

// AckDigest acknowledges every firing alert of a storm (its digest's
// Acknowledge all button): those the digest stands for and the storm's
// first alerts, posted on their own. Each is acknowledged as by its own
// button (a message of its own says who and when), so one acknowledged
// meanwhile is simply skipped; the digest shows the result. It fails with
// ErrStale when none was left to acknowledge.
func (e *Engine) AckDigest(ctx context.Context, digestID string, by app.Actor) ([]app.Alert, error) {
	d, err := e.Digest(ctx, digestID)
	if err != nil {
		return nil, err
	}
	firing := make(map[string]bool, len(d.Members))
	for _, m := range d.Members {
		firing[m.AlertID] = m.State == app.StateFiring
	}
	var acked []app.Alert
	for _, m := range stormAlerts(d) {
		if f, member := firing[m.AlertID]; member && !f {
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

// SnoozeDigest snoozes for dur every queue with an open alert in a storm
// (its digest's members and its first alerts, posted on their own: the
// digest's Snooze all menu) and returns when the snoozes end and which
// queues they cover. Each alert's message, if it has one, says who
// snoozed it until when. As with any snooze, a breach still going on when
// it ends is posted afresh.
func (e *Engine) SnoozeDigest(ctx context.Context, digestID string, dur time.Duration, by app.Actor) (time.Time, []string, error) {
	if err := validSnooze(dur); err != nil {
		return time.Time{}, nil, err
	}
	d, err := e.Digest(ctx, digestID)
	if err != nil {
		return time.Time{}, nil, err
	}
	var queues []string
	for _, m := range stormAlerts(d) {
		if q, _, _, err := app.ParseAlertID(m.AlertID); err == nil {
			queues = appendNew(queues, q)
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
