package engine

import (
	"context"
	"fmt"

	"github.com/slabot/slabot/app"
)

// SetHours replaces the business hours of a queue (or DefaultQueue, for
// every queue without its own) and returns the hours it had. Unset hours
// remove a queue's own, so the default's apply again. Open alerts of the
// queues concerned are brought in line at once: outside the new hours
// they resolve quietly.
func (e *Engine) SetHours(ctx context.Context, queueID string, h app.Hours, by app.Actor) (app.Hours, error) {
	if _, err := app.ScheduleOf(h); err != nil {
		return app.Hours{}, err
	}
	if queueID == app.DefaultQueue && h.Always {
		h = app.Hours{} // the default's "always" is no default hours at all
	}
	qs, err := e.records().QueueStates(ctx, []string{queueID})
	if err != nil {
		return app.Hours{}, err
	}
	var old app.Hours
	if len(qs) > 0 && qs[0].Hours != nil {
		old = *qs[0].Hours
	}
	now := e.clock.Now()
	if h.Set() {
		h.SetBy, h.SetAt = by.UserID, now
	}
	detail := old.String() + " → " + h.String()
	hist := app.HistoryEntry{At: now, QueueID: queueID, Action: "hours", By: by.UserID, Via: by.Via, Detail: detail}
	if err := e.commitState(ctx, app.Change{QueueID: queueID, Hours: &h, History: []app.HistoryEntry{hist}}); err != nil {
		return app.Hours{}, fmt.Errorf("set hours of %s: %w", queueID, err)
	}
	e.count("hours")
	e.log.Info("queue hours set", "queue_id", queueID, "user_id", by.UserID, "hours", h.String())
	e.actAtOnce(ctx, queueID, by.UserID)
	return old, nil
}

// HoursOf returns the business hours in effect for a queue (its own, else
// the default's; unset means always) and whether they are the queue's own.
func (e *Engine) HoursOf(ctx context.Context, queueID string) (h app.Hours, own bool, err error) {
	qs, err := e.records().QueueStates(ctx, []string{queueID, app.DefaultQueue})
	if err != nil {
		return app.Hours{}, false, err
	}
	if q := qs[0].Hours; q != nil && q.Set() {
		return *q, true, nil
	}
	if d := qs[1].Hours; d != nil {
		return *d, false, nil
	}
	return app.Hours{}, false, nil
}
