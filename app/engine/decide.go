package engine

import (
	"time"

	"github.com/slabot/slabot/app"
)

// rules decide what a queue's snapshot, an observation or the passing of
// time change: which alerts fire, update, remind and resolve, and which
// notifications that owes Slack. They read nothing but their options and
// what they are given, and write nothing: the commit step (commit.go)
// takes their change to the store. The engine embeds them.
type rules struct {
	opts  Options
	zones *app.Zones
}

// decide is the change ev makes to snap at now, conditional on snap's
// versions, and the queue's latest values once it is committed.
func (r *rules) decide(snap app.Snapshot, ev app.Event, now time.Time) (app.Change, map[string]float64) {
	c, latest := r.apply(snap, ev, now)
	v := snap.Versions
	c.Expect, c.Known = &v, snap.Queue.Known
	return c, latest
}

// threshold is the rule that applies to media type media and metric m of
// the snapshot's queue (app.Rule's precedence, the built-in default
// included), with a target rule resolved against the queue's own target:
// none when that target is unknown.
func (r *rules) threshold(snap app.Snapshot, media string, m app.Metric) (app.Threshold, bool) {
	return snap.Rule(r.opts.BuiltinDefault, media, m)
}

// working is one alert being changed within a step.
type working struct {
	alert   app.Alert
	version int64
	changed bool
}

// apply evaluates each observation of ev against its alert's rule.
func (r *rules) apply(snap app.Snapshot, ev app.Event, now time.Time) (app.Change, map[string]float64) {
	c := app.Change{QueueID: ev.QueueID, EventKey: ev.Key, EventSentAt: ev.SentAt,
		Latest: make(map[string]float64, len(ev.Observations))}
	if ev.QueueName != "" && ev.QueueName != snap.Queue.Name {
		c.QueueName = ev.QueueName
		snap.Queue.Name = ev.QueueName
	}
	obs := r.evaluated(snap, ev)
	c.At, c.ObservedAt, c.Prior = now, ev.At, make(map[string]float64, len(obs))
	for _, o := range obs {
		k := app.LatestKey(o.MediaType, o.Metric)
		c.Latest[k] = o.Value
		if v, ok := snap.Queue.Latest[k]; ok {
			c.Prior[k] = v
		}
	}
	q := snap.Queue
	q.Latest = mergeLatest(q.Latest, c.Latest)
	q.SnoozedUntil, q.SnoozedBy = snap.Snooze()
	sched := r.zones.Schedule(snap.Hours())
	seenAt := ev.At // when the values were observed, for the message
	if seenAt.IsZero() {
		seenAt = now
	}

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
		th, hasThreshold := r.threshold(snap, o.MediaType, o.Metric)
		c.Notifications = r.observe(w, q, o.Value, seenAt, th, hasThreshold, sched, now, c.Notifications)
	}
	for _, id := range order {
		if w := alerts[id]; w.changed {
			prior := snap.Alerts[id].Alert.State
			if w.version == 0 {
				prior = app.StateResolved
			}
			c.Alerts = append(c.Alerts, app.AlertWrite{Alert: w.alert, Version: w.version, Due: r.due(w.alert, snap, now),
				Prior: &prior})
		}
	}
	return c, q.Latest
}

// evaluated drops the observations of ev that change nothing, not even
// the queue's latest values, so that a later time-driven evaluation never
// acts on them either: those their rule's volume gate ignores, and those
// older than the newest value already applied (outdated).
func (r *rules) evaluated(snap app.Snapshot, ev app.Event) []app.Observation {
	out := ev.Observations[:0:0]
	for _, o := range ev.Observations {
		if th, ok := r.threshold(snap, o.MediaType, o.Metric); ok && th.Gates(o) {
			continue
		}
		if outdated(snap, ev.At, o) {
			continue
		}
		out = append(out, o)
	}
	return out
}

// outdated reports whether observation o, made at at, is older than the
// queue's newest value of its media type and metric: a replayed or
// delayed event must not undo what a newer one did (an old "recovered"
// body resolving a live breach). An observation of unknown time is never
// outdated.
func outdated(snap app.Snapshot, at time.Time, o app.Observation) bool {
	newest, ok := snap.Queue.LatestAt[app.LatestKey(o.MediaType, o.Metric)]
	return ok && !at.IsZero() && at.Before(newest)
}

// allOutdated reports whether every observation of ev is outdated: the
// event is then ignored, and nothing is committed.
func allOutdated(snap app.Snapshot, ev app.Event) bool {
	for _, o := range ev.Observations {
		if !outdated(snap, ev.At, o) {
			return false
		}
	}
	return len(ev.Observations) > 0
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

// observe applies one value, observed at seenAt (zero: unknown), to an
// alert: the event-driven half of DESIGN §5.
func (r *rules) observe(w *working, q app.Queue, v float64, seenAt time.Time, th app.Threshold, hasThreshold bool, sched app.Schedule, now time.Time, out []app.Notification) []app.Notification {
	if !sched.Open(now) {
		return r.offHours(w, v, th, hasThreshold, sched, now, out)
	}
	a := &w.alert
	active := a.State == app.StatePending || a.State.Open()
	if !active && (!hasThreshold || !th.Breached(v)) {
		return out // ok and staying ok: nothing to record
	}
	w.changed = true
	a.Value, a.ValueAt = v, seenAt
	if q.Name != "" {
		a.QueueName = q.Name
	}
	setContext(a, q)
	if !hasThreshold {
		return r.ruleRemoved(a, "", now, out)
	}
	if active && (a.Peak == nil || a.Metric.Breached(v, *a.Peak)) {
		a.Peak = &v
	}
	a.Threshold, a.Clear, a.Target = th.Value, th.Clear, nil
	if th.Target {
		if t, ok := (app.QueueInfo{ServiceLevels: q.Targets}).Target(a.MediaType); ok {
			a.Target = &t
		}
	}
	breach := th.Breached(v)
	switch {
	case !active: // a new episode begins
		a.Episode++
		a.PendingSince, a.FiredAt, a.ResolvedAt, a.NotifiedAt = now, time.Time{}, time.Time{}, time.Time{}
		a.AckedBy, a.AckedAt, a.ResolvedBy, a.Dirty, a.Muted, a.Channel = "", time.Time{}, "", false, false, ""
		a.Digest, a.Storm, a.OffHours, a.RearmAt = "", "", false, time.Time{}
		a.StartEpisodeMarks()
		a.Peak, a.SnoozeEndedBy, a.RuleRemoved, a.RuleRemovedBy = &v, "", false, ""
		if th.For > 0 {
			a.State = app.StatePending
			return out
		}
		return r.fire(a, q, now, out)
	case a.State == app.StatePending && breach:
		if now.Sub(a.PendingSince) >= th.For {
			return r.fire(a, q, now, out)
		}
		return out
	case a.State == app.StatePending:
		a.State, a.PendingSince = app.StateResolved, time.Time{} // never fired: nothing to tell
		return out
	case !th.Holds(v): // back at the clear level (the threshold without a band)
		return r.resolve(a, now, out)
	case a.Muted && !now.Before(q.SnoozedUntil):
		return r.snoozeEnded(a, th, true, now, out)
	default:
		a.Dirty = true
		return r.refresh(a, now, out)
	}
}

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

func (r *rules) fire(a *app.Alert, q app.Queue, now time.Time, out []app.Notification) []app.Notification {
	a.State, a.FiredAt = app.StateFiring, now
	a.NotePeak()
	a.Channel = q.Route
	if a.Channel == "" {
		a.Channel = r.opts.Channel
	}
	if now.Before(q.SnoozedUntil) {
		a.Muted, a.SnoozedUntil, a.SnoozedBy = true, q.SnoozedUntil, q.SnoozedBy
		a.NoteSnooze(q.SnoozedBy, q.SnoozedUntil)
		return out
	}
	a.NotifiedAt, a.Dirty = now, false
	a.RemindAt = r.firstReminder(now)
	return append(out, app.Notification{Kind: app.KindPost, Channel: a.Channel, Alert: *a, At: now})
}

// firstReminder is when a just-posted alert is first reminded of; zero
// when reminders are off.
func (r *rules) firstReminder(now time.Time) time.Time {
	if r.opts.RemindAfter <= 0 {
		return time.Time{}
	}
	return now.Add(r.opts.RemindAfter)
}

// unmute ends a snooze for a still-breaching alert: a fresh message (a new
// episode) so the breach is seen again at the bottom of the channel. The
// snoozed episode's own message, if it had one, is closed and points to
// the new one (Notification.ContinuedIn), so nobody acts on it.
func (r *rules) unmute(a *app.Alert, now time.Time, out []app.Notification) []app.Notification {
	if !a.NotifiedAt.IsZero() && a.Digest == "" {
		out = append(out, app.Notification{Kind: app.KindUpdate, Channel: a.Channel, Alert: *a,
			ContinuedIn: a.Episode + 1, At: now})
	}
	a.Muted, a.Dirty, a.SnoozedUntil, a.SnoozedBy, a.Digest, a.Storm = false, false, time.Time{}, "", "", ""
	a.Episode++
	a.NotifiedAt = now
	a.AckedBy, a.AckedAt = "", time.Time{}
	if a.State == app.StateAcknowledged {
		a.State = app.StateFiring
	}
	a.RemindAt = r.firstReminder(now)
	return append(out, app.Notification{Kind: app.KindPost, Channel: a.Channel, Alert: *a, At: now})
}

// snoozeEnded settles a muted alert once its snooze is over. A value still
// past the threshold is posted afresh; one that has only stayed inside the
// clear band (or lost its rule) resolves without a new message: the queue
// is fine by the time anyone would read it.
func (r *rules) snoozeEnded(a *app.Alert, th app.Threshold, hasThreshold bool, now time.Time, out []app.Notification) []app.Notification {
	switch {
	case !hasThreshold:
		return r.ruleRemoved(a, "", now, out)
	case th.Breached(a.Value):
		return r.unmute(a, now, out)
	}
	return r.resolve(a, now, out)
}

// refresh enqueues an update of a breaching alert's message unless one was
// enqueued less than UpdateEvery ago; the time-driven pass sends the
// coalesced update when that interval is up.
func (r *rules) refresh(a *app.Alert, now time.Time, out []app.Notification) []app.Notification {
	if a.Muted || a.NotifiedAt.IsZero() || now.Sub(a.NotifiedAt) < r.opts.UpdateEvery {
		return out
	}
	a.NotifiedAt, a.Dirty = now, false
	return append(out, app.Notification{Kind: app.KindUpdate, Channel: a.Channel, Alert: *a, At: now})
}

// remind posts a reminder in the thread of an unacknowledged alert that is
// due one, and schedules the next (DESIGN §5).
func (r *rules) remind(a *app.Alert, now time.Time, out []app.Notification) []app.Notification {
	if a.State != app.StateFiring || a.Muted || a.RemindAt.IsZero() || now.Before(a.RemindAt) {
		return out
	}
	a.RemindAt = now.Add(r.opts.RemindAfter)
	a.Reminders++
	return append(out, app.Notification{Kind: app.KindReply, Channel: a.Channel, Alert: *a, Reason: "reminder", At: now})
}

// resolve ends an episode. Its message, if it was posted, shows the
// resolution, and a thread reply says so, except while the queue is
// snoozed: a snooze mutes posting, so a breach that ends by itself then
// only updates its message. A resolution by hand is always told. The
// reply is followed by the chart of the episode (KindChart).
func (r *rules) resolve(a *app.Alert, now time.Time, out []app.Notification) []app.Notification {
	posted := a.State.Open() && !a.NotifiedAt.IsZero()
	a.State, a.ResolvedAt, a.Dirty = app.StateResolved, now, false
	if !posted {
		return out
	}
	out = append(out, app.Notification{Kind: app.KindUpdate, Channel: a.Channel, Alert: *a, At: now})
	if a.Muted && a.ResolvedBy == "" {
		return out
	}
	// The chart of the episode follows the reply in its thread (a storm
	// digest's member has no thread: storms drop it with its reply).
	return append(out, app.Notification{Kind: app.KindReply, Channel: a.Channel, Alert: *a, Reason: "resolved", At: now},
		app.Notification{Kind: app.KindChart, Channel: a.Channel, Alert: *a, Chart: app.EpisodeChart(*a, now), At: now})
}

// ruleRemoved ends an episode because no rule applies to it any more: by
// (when known) removed it. A pending one never fired, so nothing is told.
func (r *rules) ruleRemoved(a *app.Alert, by string, now time.Time, out []app.Notification) []app.Notification {
	a.RuleRemoved, a.RuleRemovedBy = true, by
	if a.State == app.StatePending {
		a.State, a.PendingSince = app.StateResolved, time.Time{}
		return out
	}
	return r.resolve(a, now, out)
}

// due is when the time-driven pass must next look at a: a pending alert
// when its for-duration ends, a muted one when its snooze ends, a posted
// alert with an unsent value when its coalescing interval ends, or its
// next reminder; an open or pending alert also when its queue's business
// hours close, and a closed-hours one when they open again.
func (r *rules) due(a app.Alert, snap app.Snapshot, now time.Time) time.Time {
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
		th, _ := r.threshold(snap, a.MediaType, a.Metric)
		earliest(a.PendingSince.Add(th.For))
	case a.Muted:
		earliest(snap.SnoozedUntil())
	default:
		if a.Dirty && !a.NotifiedAt.IsZero() {
			earliest(a.NotifiedAt.Add(r.opts.UpdateEvery))
		}
		if a.State == app.StateFiring {
			earliest(a.RemindAt)
		}
	}
	if sched := r.zones.Schedule(snap.Hours()); sched.Open(now) {
		earliest(sched.Next(now))
	} else {
		earliest(now) // closed already (hours changed): settle it at once
	}
	return next
}

// offHours applies a value seen outside the queue's business hours: no
// alert fires; one still open or pending resolves quietly; a breach is
// remembered, so that the alert re-arms when the hours open.
func (r *rules) offHours(w *working, v float64, th app.Threshold, hasThreshold bool, sched app.Schedule, now time.Time, out []app.Notification) []app.Notification {
	a := &w.alert
	if a.State == app.StatePending || a.State.Open() {
		w.changed = true
		a.Value = v
		return r.closeForHours(a, sched, now, out)
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
func (r *rules) closeForHours(a *app.Alert, sched app.Schedule, now time.Time, out []app.Notification) []app.Notification {
	posted := a.State.Open() && !a.NotifiedAt.IsZero()
	a.State, a.ResolvedAt, a.Dirty, a.PendingSince = app.StateResolved, now, false, time.Time{}
	a.OffHours, a.RearmAt = true, sched.Next(now)
	if !posted {
		return out
	}
	return append(out, app.Notification{Kind: app.KindUpdate, Channel: a.Channel, Alert: *a, At: now})
}
