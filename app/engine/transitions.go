package engine

import (
	"github.com/slabot/slabot/app"
	"time"
)

// setContext copies the queue's latest waiting count and agents on queue
// into the alert, for the message.
func setContext(a *app.Alert, q app.Queue) {
	if v, ok := q.Latest[app.LatestKey(a.MediaType, app.Waiting)]; ok {
		a.QueueWaiting = &v
	}
	if v, ok := q.Latest[app.LatestKey("", app.Agents)]; ok {
		a.QueueAgents = &v
	}
}

func (e *Engine) fire(a *app.Alert, q app.Queue, now time.Time, out []app.Notification) []app.Notification {
	a.State, a.FiredAt = app.StateFiring, now
	a.Channel = q.Route
	if a.Channel == "" {
		a.Channel = e.opts.Channel
	}
	if now.Before(q.SnoozedUntil) {
		a.Muted, a.SnoozedUntil = true, q.SnoozedUntil
		return out
	}
	a.NotifiedAt, a.Dirty = now, false
	a.RemindAt = e.firstReminder(now)
	return append(out, app.Notification{Kind: app.KindPost, Channel: a.Channel, Alert: *a, At: now})
}

// firstReminder is when a just-posted alert is first reminded of; zero
// when reminders are off.
func (e *Engine) firstReminder(now time.Time) time.Time {
	if e.opts.RemindAfter <= 0 {
		return time.Time{}
	}
	return now.Add(e.opts.RemindAfter)
}

// unmute ends a snooze for a still-breaching alert: a fresh message (a new
// episode) so the breach is seen again at the bottom of the channel.
func (e *Engine) unmute(a *app.Alert, now time.Time, out []app.Notification) []app.Notification {
	a.Muted, a.Dirty, a.SnoozedUntil, a.Digest = false, false, time.Time{}, ""
	a.Episode++
	a.NotifiedAt = now
	a.AckedBy, a.AckedAt = "", time.Time{}
	if a.State == app.StateAcknowledged {
		a.State = app.StateFiring
	}
	a.RemindAt = e.firstReminder(now)
	return append(out, app.Notification{Kind: app.KindPost, Channel: a.Channel, Alert: *a, At: now})
}

// snoozeEnded settles a muted alert once its snooze is over. A value still
// past the threshold is posted afresh; one that has only stayed inside the
// clear band (or lost its rule) resolves without a new message: the queue
// is fine by the time anyone would read it.
func (e *Engine) snoozeEnded(a *app.Alert, th app.Threshold, hasThreshold bool, now time.Time, out []app.Notification) []app.Notification {
	if hasThreshold && th.Breached(a.Value) {
		return e.unmute(a, now, out)
	}
	return e.resolve(a, now, out)
}

// refresh enqueues an update of a breaching alert's message unless one was
// enqueued less than UpdateEvery ago; the time-driven pass sends the
// coalesced update when that interval is up.
func (e *Engine) refresh(a *app.Alert, now time.Time, out []app.Notification) []app.Notification {
	if a.Muted || a.NotifiedAt.IsZero() || now.Sub(a.NotifiedAt) < e.opts.UpdateEvery {
		return out
	}
	a.NotifiedAt, a.Dirty = now, false
	return append(out, app.Notification{Kind: app.KindUpdate, Channel: a.Channel, Alert: *a, At: now})
}

// resolve ends an episode. Its message, if it was posted, shows the
// resolution, and a thread reply says so, except while the queue is
// snoozed: a snooze mutes posting, so a breach that ends by itself then
// only updates its message. A resolution by hand is always told.
func (e *Engine) resolve(a *app.Alert, now time.Time, out []app.Notification) []app.Notification {
	posted := a.State.Open() && !a.NotifiedAt.IsZero()
	a.State, a.ResolvedAt, a.Dirty = app.StateResolved, now, false
	if !posted {
		return out
	}
	out = append(out, app.Notification{Kind: app.KindUpdate, Channel: a.Channel, Alert: *a, At: now})
	if a.Muted && a.ResolvedBy == "" {
		return out
	}
	return append(out, app.Notification{Kind: app.KindReply, Channel: a.Channel, Alert: *a, Reason: "resolved", At: now})
}

// due is when the time-driven pass must next look at a: a pending alert
// when its for-duration ends, a muted one when its snooze ends, a posted
// alert with an unsent value when its coalescing interval ends, or its
// next reminder; an open or pending alert also when its queue's business
// hours close, and a closed-hours one when they open again.
func (e *Engine) due(a app.Alert, snap app.Snapshot, now time.Time) time.Time {
	var next time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	active := a.State == app.StatePending || a.State.Open()
	switch {
	case !active:
		earliest(a.RearmAt)
		return next
	case a.State == app.StatePending:
		th, _ := e.threshold(snap, a.Metric)
		earliest(a.PendingSince.Add(th.For))
	case a.Muted:
		earliest(snap.SnoozedUntil())
	default:
		if a.Dirty && !a.NotifiedAt.IsZero() {
			earliest(a.NotifiedAt.Add(e.opts.UpdateEvery))
		}
		if a.State == app.StateFiring {
			earliest(a.RemindAt)
		}
	}
	if sched := e.zones.Schedule(snap.Hours()); sched.Open(now) {
		earliest(sched.Next(now))
	} else {
		earliest(now) // closed already (hours changed): settle it at once
	}
	return next
}

// offHours applies a value seen outside the queue's business hours: no
// alert fires; one still open or pending resolves quietly; a breach is
// remembered, so that the alert re-arms when the hours open.
func (e *Engine) offHours(w *working, v float64, th app.Threshold, hasThreshold bool, sched app.Schedule, now time.Time, out []app.Notification) []app.Notification {
	a := &w.alert
	if a.State == app.StatePending || a.State.Open() {
		w.changed = true
		a.Value = v
		return e.closeForHours(a, sched, now, out)
	}
	var rearm time.Time
	if hasThreshold && th.Breached(v) {
		rearm = sched.Next(now)
	}
	if !a.RearmAt.Equal(rearm) {
		w.changed = true
		a.RearmAt = rearm
	}
	return out
}

// closeForHours resolves an open or pending alert because its queue's
// business hours are over. Its message, if posted, shows why and when
// alerts resume; nothing new is posted, not even a thread reply.
func (e *Engine) closeForHours(a *app.Alert, sched app.Schedule, now time.Time, out []app.Notification) []app.Notification {
	posted := a.State.Open() && !a.NotifiedAt.IsZero()
	a.State, a.ResolvedAt, a.Dirty, a.PendingSince = app.StateResolved, now, false, time.Time{}
	a.OffHours, a.RearmAt = true, sched.Next(now)
	if !posted {
		return out
	}
	return append(out, app.Notification{Kind: app.KindUpdate, Channel: a.Channel, Alert: *a, At: now})
}
