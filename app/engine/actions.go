package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
)

// Ack acknowledges an alert's current episode; episode 0 means whichever
// is current (from /sla ack). Acknowledging stops reminders.
func (e *Engine) Ack(ctx context.Context, alertID string, episode int, by app.Actor) (app.Alert, error) {
	return e.act(ctx, alertID, episode, func(a *app.Alert, now time.Time) ([]app.Notification, app.HistoryEntry, error) {
		switch {
		case a.State == app.StateAcknowledged:
			return nil, app.HistoryEntry{}, fmt.Errorf("%w: already acknowledged by <@%s>", app.ErrStale, a.AckedBy)
		case a.State != app.StateFiring:
			return nil, app.HistoryEntry{}, fmt.Errorf("%w: the alert is %s", app.ErrStale, stateWord(a.State))
		}
		a.State, a.AckedBy, a.AckedAt, a.RemindAt = app.StateAcknowledged, by.UserID, now, time.Time{}
		a.NoteAck(by.UserID, now)
		h := app.HistoryEntry{Action: "ack", Detail: fmt.Sprintf("%s %s", a.Metric.Label(), a.Metric.FormatValue(a.Value))}
		return e.messageUpdate(a, now), h, nil
	}, by)
}

// Resolve closes an alert's episode by hand. If the queue still breaches,
// its next observation opens a new episode; Snooze is the way to mute it.
func (e *Engine) Resolve(ctx context.Context, alertID string, episode int, by app.Actor) (app.Alert, error) {
	return e.act(ctx, alertID, episode, func(a *app.Alert, now time.Time) ([]app.Notification, app.HistoryEntry, error) {
		if !a.State.Open() {
			return nil, app.HistoryEntry{}, fmt.Errorf("%w: the alert is %s", app.ErrStale, stateWord(a.State))
		}
		a.ResolvedBy = by.UserID
		h := app.HistoryEntry{Action: "resolve", Detail: fmt.Sprintf("%s %s", a.Metric.Label(), a.Metric.FormatValue(a.Value))}
		return e.resolve(a, now, nil), h, nil
	}, by)
}

func stateWord(s app.State) string {
	switch s {
	case app.StatePending:
		return "not firing yet"
	case app.StateResolved, "":
		return "already resolved"
	}
	return string(s)
}

// messageUpdate is the update that shows an action on the alert's message
// at once (actions are not coalesced).
func (e *Engine) messageUpdate(a *app.Alert, now time.Time) []app.Notification {
	if a.NotifiedAt.IsZero() {
		return nil // never posted (muted): nothing to update
	}
	a.NotifiedAt, a.Dirty = now, false
	return []app.Notification{{Kind: app.KindUpdate, Channel: a.Channel, Alert: *a, At: now}}
}

type actFunc func(a *app.Alert, now time.Time) ([]app.Notification, app.HistoryEntry, error)

// act applies a supervisor action to one alert with compare-and-set, so a
// double click or two replicas handling two clicks change it once.
func (e *Engine) act(ctx context.Context, alertID string, episode int, f actFunc, by app.Actor) (app.Alert, error) {
	queueID, _, _, err := app.ParseAlertID(alertID)
	if err != nil {
		return app.Alert{}, err
	}
	for attempt := range maxAttempts {
		snap, err := e.store.Load(ctx, queueID, "", []string{alertID})
		if err != nil {
			return app.Alert{}, fmt.Errorf("load alert %s: %w", alertID, err)
		}
		va, ok := snap.Alerts[alertID]
		if !ok {
			return app.Alert{}, fmt.Errorf("%w: the alert no longer exists", app.ErrStale)
		}
		a := va.Alert
		if episode != 0 && a.Episode != episode {
			return a, fmt.Errorf("%w: this message is from an earlier breach; use the newest alert", app.ErrStale)
		}
		now := e.clock.Now()
		notes, h, err := f(&a, now)
		if err != nil {
			return a, err
		}
		h.At, h.QueueID, h.By, h.Via = now, queueID, by.UserID, by.Via
		c := app.Change{QueueID: queueID, Notifications: notes, History: []app.HistoryEntry{h},
			Alerts: []app.AlertWrite{{Alert: a, Version: va.Version, Due: e.due(a, snap, now)}}}
		_, _, err = e.commitOne(ctx, c, snap, now)
		if errors.Is(err, app.ErrConflict) {
			backoff(ctx, attempt)
			continue
		}
		if err != nil {
			return app.Alert{}, fmt.Errorf("%s alert %s: %w", h.Action, alertID, err)
		}
		e.count(h.Action)
		e.log.Info("alert "+h.Action, "queue_id", queueID, "alert_id", alertID, "user_id", by.UserID, "via", by.Via)
		return a, nil
	}
	return app.Alert{}, fmt.Errorf("alert %s: %w", alertID, app.ErrConflict)
}

// AckQueue acknowledges every firing alert of a queue (/sla ack <queue>).
func (e *Engine) AckQueue(ctx context.Context, queueID string, by app.Actor) ([]app.Alert, error) {
	acked, err := e.ackOpen(ctx, func(a app.Alert) bool { return a.QueueID == queueID }, by)
	if err == nil && len(acked) == 0 {
		err = fmt.Errorf("%w: no firing alert on that queue", app.ErrStale)
	}
	return acked, err
}

// AckAll acknowledges every firing alert of every queue, in every channel
// (/sla ack all): in a storm, one command settles who is on it. Like
// AckQueue it is anyone's, as acknowledging mutes nothing: breaches still
// show and resolve as usual.
func (e *Engine) AckAll(ctx context.Context, by app.Actor) ([]app.Alert, error) {
	acked, err := e.ackOpen(ctx, func(app.Alert) bool { return true }, by)
	if err == nil && len(acked) == 0 {
		err = fmt.Errorf("%w: no alert is firing unacknowledged", app.ErrStale)
	}
	return acked, err
}

// ackOpen acknowledges the firing alerts that match, each as by its own
// button; one acknowledged or resolved meanwhile is skipped.
func (e *Engine) ackOpen(ctx context.Context, match func(app.Alert) bool, by app.Actor) ([]app.Alert, error) {
	open, err := e.records().OpenAlerts(ctx)
	if err != nil {
		return nil, err
	}
	var acked []app.Alert
	for _, a := range open {
		if !match(a) || a.State != app.StateFiring {
			continue
		}
		got, err := e.Ack(ctx, a.ID, 0, by)
		if errors.Is(err, app.ErrStale) {
			continue
		}
		if err != nil {
			return acked, err
		}
		acked = append(acked, got)
	}
	return acked, nil
}

// Snooze mutes a queue (or AllQueues) until now+d: its open alerts show
// "snoozed" and nothing new is posted. A breach still going on when the
// snooze ends is posted afresh. A new snooze replaces the old one.
func (e *Engine) Snooze(ctx context.Context, queueID string, d time.Duration, by app.Actor) (time.Time, error) {
	if err := validSnooze(d); err != nil {
		return time.Time{}, err
	}
	until := e.clock.Now().Add(d).Truncate(time.Second)
	return until, e.setSnoozes(ctx, []string{queueID}, until, by, "snooze", "until "+until.UTC().Format("15:04 MST")+" ("+app.FormatDuration(d)+")")
}

func validSnooze(d time.Duration) error {
	if d <= 0 || d > 7*24*time.Hour {
		return fmt.Errorf("%w: snooze for between 1 minute and 7 days", app.ErrBadThreshold)
	}
	return nil
}

// Unsnooze ends a queue's snooze (or the all-queues snooze) at once.
func (e *Engine) Unsnooze(ctx context.Context, queueID string, by app.Actor) error {
	storeID := queueID
	if queueID == app.AllQueues {
		storeID = app.DefaultQueue
	}
	qs, err := e.records().QueueStates(ctx, []string{storeID})
	if err != nil {
		return err
	}
	if len(qs) == 0 || !qs[0].SnoozedUntil.After(e.clock.Now()) {
		return fmt.Errorf("%w: that queue is not snoozed", app.ErrStale)
	}
	return e.setSnoozes(ctx, []string{queueID}, time.Time{}, by, "unsnooze", "")
}

// setSnoozes replaces the snooze of each queue (or AllQueues) with one
// until then (zero: none), then brings their open alerts in line.
func (e *Engine) setSnoozes(ctx context.Context, queueIDs []string, until time.Time, by app.Actor, action, detail string) error {
	now := e.clock.Now()
	all := false
	for _, queueID := range queueIDs {
		storeID := queueID
		if queueID == app.AllQueues {
			storeID, all = app.DefaultQueue, true
		}
		sn := &app.Snooze{QueueID: queueID, Until: until, By: by.UserID}
		h := app.HistoryEntry{At: now, QueueID: queueID, Action: action, By: by.UserID, Via: by.Via, Detail: detail}
		if err := e.commitState(ctx, app.Change{QueueID: storeID, Snooze: sn, History: []app.HistoryEntry{h}}); err != nil {
			return fmt.Errorf("%s %s: %w", action, queueID, err)
		}
		e.count(action)
		e.log.Info("queue "+action, "queue_id", queueID, "user_id", by.UserID, "until", until)
	}
	// Show the snooze on open messages, or resume them.
	open, err := e.records().OpenAlerts(ctx)
	if err != nil {
		return err
	}
	for _, a := range open {
		if all || slices.Contains(queueIDs, a.QueueID) {
			if err := e.applySnooze(ctx, a.ID, by.UserID); err != nil && !errors.Is(err, app.ErrStale) {
				return err
			}
		}
	}
	return nil
}

// applySnooze brings one open alert in line with its queue's snooze; by
// is who changed the snooze, named where a snooze ended early.
func (e *Engine) applySnooze(ctx context.Context, alertID, by string) error {
	queueID, _, _, _ := app.ParseAlertID(alertID)
	for attempt := range maxAttempts {
		snap, err := e.store.Load(ctx, queueID, "", []string{alertID})
		if err != nil {
			return err
		}
		va, ok := snap.Alerts[alertID]
		if !ok || !va.Alert.State.Open() {
			return nil
		}
		a, now := va.Alert, e.clock.Now()
		until, snoozedBy := snap.Snooze()
		var notes []app.Notification
		switch {
		case now.Before(until):
			a.Muted, a.SnoozedUntil, a.SnoozedBy, a.SnoozeEndedBy = true, until, snoozedBy, ""
			a.NoteSnooze(snoozedBy, until)
			notes = e.messageUpdate(&a, now)
		case a.Muted:
			th, ok := e.threshold(snap, a.MediaType, a.Metric)
			a.SnoozeEndedBy = by
			notes = e.snoozeEnded(&a, th, ok, now, nil)
		default:
			return nil
		}
		c := app.Change{QueueID: queueID, Notifications: notes,
			Alerts: []app.AlertWrite{{Alert: a, Version: va.Version, Due: e.due(a, snap, now)}}}
		_, _, err = e.commitOne(ctx, c, snap, now)
		if !errors.Is(err, app.ErrConflict) {
			return err
		}
		backoff(ctx, attempt)
	}
	return app.ErrConflict
}

// SetThreshold stores a rule and records who changed what.
func (e *Engine) SetThreshold(ctx context.Context, t app.Threshold, by app.Actor) (old *app.Threshold, err error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	rec := e.records()
	all, err := rec.Thresholds(ctx)
	if err != nil {
		return nil, err
	}
	if i := slices.IndexFunc(all, func(x app.Threshold) bool { return x.QueueID == t.QueueID && x.Key() == t.Key() }); i >= 0 {
		old = &all[i]
	}
	t.SetBy, t.SetAt = by.UserID, e.clock.Now()
	if err := rec.SetThreshold(ctx, t); err != nil {
		return nil, err
	}
	detail := t.String()
	if old != nil {
		detail = old.String() + " → " + detail
	}
	if err := rec.AppendHistory(ctx, app.HistoryEntry{At: t.SetAt, QueueID: t.QueueID, Action: "set", By: by.UserID, Via: by.Via, Detail: detail}); err != nil {
		return old, err
	}
	e.actAtOnce(ctx, t.QueueID, by.UserID)
	return old, nil
}

// actAtOnce re-evaluates the queues a rule change concerns (reevaluate).
// The change stands either way: a failure is logged, and the queues'
// next events settle what is left.
func (e *Engine) actAtOnce(ctx context.Context, queueID, by string) {
	if _, err := e.reevaluate(ctx, []string{queueID}, by); err != nil {
		e.log.Warn("acting at once on a rule change failed; the next events will", "queue_id", queueID, "err", err)
	}
}

// UnsetThreshold removes a queue's rules that Threshold.Unsets selects:
// media "" and metric m is the rule on every media type for m, media and m
// the one for that media type, and an empty m every rule of media (all of
// the queue's rules when media is empty too).
func (e *Engine) UnsetThreshold(ctx context.Context, queueID, media string, m app.Metric, by app.Actor) ([]app.Threshold, error) {
	rec := e.records()
	removed, err := rec.DeleteThreshold(ctx, queueID, media, m)
	if err != nil {
		return nil, err
	}
	if len(removed) == 0 {
		return nil, fmt.Errorf("%w: no such threshold", app.ErrStale)
	}
	parts := make([]string, len(removed))
	for i, t := range removed {
		parts[i] = t.String()
	}
	if err := rec.AppendHistory(ctx, app.HistoryEntry{At: e.clock.Now(), QueueID: queueID, Action: "unset",
		By: by.UserID, Via: by.Via, Detail: strings.Join(parts, ", ") + " → none"}); err != nil {
		return removed, err
	}
	// Open episodes that no rule applies to any more end now, naming who
	// removed it (left to the next observation, they would close saying
	// the value is "back" when nothing changed but the rule); a removed
	// queue rule may also let a default apply, which acts at once too.
	e.actAtOnce(ctx, queueID, by.UserID)
	return removed, nil
}

// Route sends a queue's future alerts to channel ("" for the default).
func (e *Engine) Route(ctx context.Context, queueID, channel string, by app.Actor) error {
	qs, err := e.records().QueueStates(ctx, []string{queueID})
	if err != nil {
		return err
	}
	old := "default channel"
	if len(qs) > 0 && qs[0].Route != "" {
		old = "<#" + qs[0].Route + ">"
	}
	to := "default channel"
	if channel != "" {
		to = "<#" + channel + ">"
	}
	h := app.HistoryEntry{At: e.clock.Now(), QueueID: queueID, Action: "route", By: by.UserID, Via: by.Via, Detail: old + " → " + to}
	return e.commitState(ctx, app.Change{QueueID: queueID, Route: &channel, History: []app.HistoryEntry{h}})
}

// records is the store's Records side; every store slabot wires has it.
func (e *Engine) records() Records { return e.store }
