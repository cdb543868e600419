package app

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SetHours replaces the business hours of a queue (or DefaultQueue, for
// every queue without its own) and returns the hours it had. Unset hours
// remove a queue's own, so the default's apply again. Open alerts of the
// queues concerned are brought in line at once: outside the new hours
// they resolve quietly.
func (e *Engine) SetHours(ctx context.Context, queueID string, h Hours, by Actor) (Hours, error) {
	if _, err := ScheduleOf(h); err != nil {
		return Hours{}, err
	}
	if queueID == DefaultQueue && h.Always {
		h = Hours{} // the default's "always" is no default hours at all
	}
	qs, err := e.records().QueueStates(ctx, []string{queueID})
	if err != nil {
		return Hours{}, err
	}
	var old Hours
	if len(qs) > 0 && qs[0].Hours != nil {
		old = *qs[0].Hours
	}
	now := e.clock.Now()
	if h.Set() {
		h.SetBy, h.SetAt = by.UserID, now
	}
	detail := old.String() + " → " + h.String()
	hist := HistoryEntry{At: now, QueueID: queueID, Action: "hours", By: by.UserID, Via: by.Via, Detail: detail}
	if err := e.commitStore(ctx, Change{QueueID: queueID, Hours: &h, History: []HistoryEntry{hist}}); err != nil {
		return Hours{}, fmt.Errorf("set hours of %s: %w", queueID, err)
	}
	e.count("hours")
	e.log.Info("queue hours set", "queue_id", queueID, "user_id", by.UserID, "hours", h.String())
	open, err := e.records().OpenAlerts(ctx)
	if err != nil {
		return old, err
	}
	for _, a := range open {
		if queueID != DefaultQueue && a.QueueID != queueID {
			continue
		}
		if err := e.advance(ctx, a.ID, e.clock.Now()); err != nil && !errors.Is(err, ErrConflict) {
			return old, err
		}
	}
	return old, nil
}

// HoursOf returns the business hours in effect for a queue (its own, else
// the default's; unset means always) and whether they are the queue's own.
func (e *Engine) HoursOf(ctx context.Context, queueID string) (h Hours, own bool, err error) {
	qs, err := e.records().QueueStates(ctx, []string{queueID, DefaultQueue})
	if err != nil {
		return Hours{}, false, err
	}
	if q := qs[0].Hours; q != nil && q.Set() {
		return *q, true, nil
	}
	if d := qs[1].Hours; d != nil {
		return *d, false, nil
	}
	return Hours{}, false, nil
}

// OpenAt reports whether the hours are open at t and when that changes
// next (zero: never). Hours whose zone no longer loads count as always
// open, as the engine treats them.
func (h Hours) OpenAt(t time.Time) (bool, time.Time) {
	s, err := ScheduleOf(h)
	if err != nil {
		return true, time.Time{}
	}
	return s.Open(t), s.Next(t)
}
