package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Store is the durable state the engine reads and changes. Every change goes
// through Commit, which applies it atomically or not at all: it fails with
// ErrConflict when an alert's version moved since Load (another replica got
// there first) and with ErrDuplicate when the event key was already recorded.
type Store interface {
	Records
	Load(ctx context.Context, queueID, eventKey string, alertIDs []string) (Snapshot, error)
	Commit(ctx context.Context, c Change) error
	// Due returns the IDs of alerts whose time-driven evaluation is due.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// Snapshot is what the engine needs to evaluate one queue's observations.
type Snapshot struct {
	// Seen is set when the event key was already recorded.
	Seen       bool
	Queue      Queue
	Thresholds map[Metric]Threshold // the queue's own
	Defaults   map[Metric]Threshold // the default queue's
	Alerts     map[string]VersionedAlert
	// AllSnoozedUntil is the end of a snooze of every queue (/sla snooze all).
	AllSnoozedUntil time.Time
}

// snoozedUntil is when posting resumes for the snapshot's queue.
func (s Snapshot) snoozedUntil() time.Time {
	if s.AllSnoozedUntil.After(s.Queue.SnoozedUntil) {
		return s.AllSnoozedUntil
	}
	return s.Queue.SnoozedUntil
}

// Queue is what slabot knows of one queue.
type Queue struct {
	ID           string
	Name         string
	Route        string // channel for this queue's alerts; empty means the default
	SnoozedUntil time.Time
	SnoozedBy    string
	// Latest holds the last value of each metric, keyed by LatestKey.
	Latest map[string]float64
}

// LatestKey names a queue's last value of a metric for a media type.
func LatestKey(mediaType string, m Metric) string { return mediaType + "/" + string(m) }

// VersionedAlert is an alert with the version a compare-and-set must match.
type VersionedAlert struct {
	Alert   Alert
	Version int64
}

// Change is one atomic step: alert writes, the notifications they cause, the
// queue's latest values and the event key that makes the step idempotent.
type Change struct {
	QueueID  string
	EventKey string
	// QueueName is set when the event taught a new name for the queue.
	QueueName     string
	Latest        map[string]float64
	Alerts        []AlertWrite
	Notifications []Notification
	// Undue lists alert IDs to drop from the time-driven index (their
	// alert no longer exists).
	Undue []string
	// Snooze, when set, replaces the queue's snooze (a zero Until clears it).
	Snooze *Snooze
	// Route, when set, replaces the queue's channel ("" clears it).
	Route *string
	// History records who did what, for /sla history.
	History []HistoryEntry
}

// AlertWrite replaces one alert if its stored version still equals Version.
// Due is when time-driven evaluation should next look at it (zero: never).
type AlertWrite struct {
	Alert   Alert
	Version int64
	Due     time.Time
}

// Outcome is what happened to one event.
type Outcome string

// Outcomes, as reported in the webhook's "status".
const (
	Processed Outcome = "processed"
	Ignored   Outcome = "ignored"
	Duplicate Outcome = "duplicate"
)

// EngineOptions configures an Engine. The zero value is usable: no default
// channel, 30 s update coalescing, the built-in default threshold off.
type EngineOptions struct {
	// Channel receives alerts of queues without a route.
	Channel string
	// UpdateEvery bounds how often a breaching alert's message is updated.
	UpdateEvery time.Duration
	// RemindAfter is the reminder interval for unacknowledged alerts
	// (REMIND_AFTER); zero turns reminders off.
	RemindAfter time.Duration
	// BuiltinDefault applies to queues with no threshold of that metric and
	// no stored default (DESIGN §4: default longest_wait 300s).
	BuiltinDefault *Threshold
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
// resulting alert transitions and notifications. It holds no state of its
// own, so any number of engines on one store act as one.
type Engine struct {
	store Store
	clock Clock
	opts  EngineOptions
	log   *slog.Logger
}

// NewEngine returns an engine on store, taking time from clock.
func NewEngine(store Store, clock Clock, opts EngineOptions) *Engine {
	if opts.UpdateEvery <= 0 {
		opts.UpdateEvery = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{store: store, clock: clock, opts: opts, log: opts.Logger}
}

// maxAttempts bounds compare-and-set retries; losing this many races in a
// row means something is badly wrong and the caller should retry later.
const maxAttempts = 8

// Ingest evaluates one event's observations. It returns once every effect
// is durably recorded (or nothing is), so a Processed outcome never loses an
// alert.
func (e *Engine) Ingest(ctx context.Context, ev Event) (Outcome, error) {
	if len(ev.Observations) == 0 {
		return Ignored, nil
	}
	ids := make([]string, 0, len(ev.Observations))
	seen := make(map[string]bool, len(ev.Observations))
	for _, o := range ev.Observations {
		id := AlertID(ev.QueueID, o.MediaType, o.Metric)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for range maxAttempts {
		snap, err := e.store.Load(ctx, ev.QueueID, ev.Key, ids)
		if err != nil {
			return "", fmt.Errorf("load queue %s: %w", ev.QueueID, err)
		}
		if snap.Seen {
			return Duplicate, nil
		}
		c := e.apply(snap, ev, e.clock.Now())
		err = e.store.Commit(ctx, c)
		switch {
		case err == nil:
			e.logTransitions(c)
			return Processed, nil
		case errors.Is(err, ErrDuplicate):
			return Duplicate, nil
		case errors.Is(err, ErrConflict):
			continue
		default:
			return "", fmt.Errorf("commit queue %s: %w", ev.QueueID, err)
		}
	}
	return "", fmt.Errorf("ingest queue %s: %w after %d attempts", ev.QueueID, ErrConflict, maxAttempts)
}

// threshold is the rule that applies to metric m of the snapshot's queue.
func (e *Engine) threshold(snap Snapshot, m Metric) (Threshold, bool) {
	if t, ok := snap.Thresholds[m]; ok {
		return t, true
	}
	if t, ok := snap.Defaults[m]; ok {
		return t, true
	}
	if b := e.opts.BuiltinDefault; b != nil && b.Metric == m {
		return *b, true
	}
	return Threshold{}, false
}

// working is one alert being changed within a step.
type working struct {
	alert   Alert
	version int64
	changed bool
}

func (e *Engine) apply(snap Snapshot, ev Event, now time.Time) Change {
	c := Change{QueueID: ev.QueueID, EventKey: ev.Key, Latest: make(map[string]float64, len(ev.Observations))}
	if ev.QueueName != "" && ev.QueueName != snap.Queue.Name {
		c.QueueName = ev.QueueName
		snap.Queue.Name = ev.QueueName
	}
	for _, o := range ev.Observations {
		c.Latest[LatestKey(o.MediaType, o.Metric)] = o.Value
	}
	q := snap.Queue
	q.Latest = mergeLatest(q.Latest, c.Latest)
	q.SnoozedUntil = snap.snoozedUntil()

	alerts := make(map[string]*working)
	var order []string
	for _, o := range ev.Observations {
		id := AlertID(ev.QueueID, o.MediaType, o.Metric)
		w, ok := alerts[id]
		if !ok {
			va := snap.Alerts[id]
			w = &working{alert: va.Alert, version: va.Version}
			if va.Version == 0 {
				w.alert = Alert{ID: id, QueueID: ev.QueueID, MediaType: o.MediaType, Metric: o.Metric}
			}
			alerts[id] = w
			order = append(order, id)
		}
		th, hasThreshold := e.threshold(snap, o.Metric)
		c.Notifications = e.observe(w, q, o.Value, th, hasThreshold, now, c.Notifications)
	}
	for _, id := range order {
		if w := alerts[id]; w.changed {
			c.Alerts = append(c.Alerts, AlertWrite{Alert: w.alert, Version: w.version, Due: e.due(w.alert, snap)})
		}
	}
	return c
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
func (e *Engine) observe(w *working, q Queue, v float64, th Threshold, hasThreshold bool, now time.Time, out []Notification) []Notification {
	a := &w.alert
	active := a.State == StatePending || a.State.Open()
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
	a.Threshold = th.Value
	breach := th.Breached(v)
	switch {
	case !active: // a new episode begins
		a.Episode++
		a.PendingSince, a.FiredAt, a.ResolvedAt, a.NotifiedAt = now, time.Time{}, time.Time{}, time.Time{}
		a.AckedBy, a.AckedAt, a.ResolvedBy, a.Dirty, a.Muted, a.Channel = "", time.Time{}, "", false, false, ""
		if th.For > 0 {
			a.State = StatePending
			return out
		}
		return e.fire(a, q, now, out)
	case a.State == StatePending && breach:
		if now.Sub(a.PendingSince) >= th.For {
			return e.fire(a, q, now, out)
		}
		return out
	case a.State == StatePending:
		a.State, a.PendingSince = StateResolved, time.Time{} // never fired: nothing to tell
		return out
	case breach && a.Muted && !now.Before(q.SnoozedUntil):
		return e.unmute(a, now, out)
	case breach:
		a.Dirty = true
		return e.refresh(a, now, out)
	default:
		return e.resolve(a, now, out)
	}
}

// setContext copies the queue's latest waiting count and agents on queue
// into the alert, for the message.
func setContext(a *Alert, q Queue) {
	if v, ok := q.Latest[LatestKey(a.MediaType, Waiting)]; ok {
		a.QueueWaiting = &v
	}
	if v, ok := q.Latest[LatestKey("", Agents)]; ok {
		a.QueueAgents = &v
	}
}

func (e *Engine) fire(a *Alert, q Queue, now time.Time, out []Notification) []Notification {
	a.State, a.FiredAt = StateFiring, now
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
	return append(out, Notification{Kind: KindPost, Channel: a.Channel, Alert: *a, At: now})
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
func (e *Engine) unmute(a *Alert, now time.Time, out []Notification) []Notification {
	a.Muted, a.Dirty, a.SnoozedUntil = false, false, time.Time{}
	a.Episode++
	a.NotifiedAt = now
	a.AckedBy, a.AckedAt = "", time.Time{}
	if a.State == StateAcknowledged {
		a.State = StateFiring
	}
	a.RemindAt = e.firstReminder(now)
	return append(out, Notification{Kind: KindPost, Channel: a.Channel, Alert: *a, At: now})
}

// refresh enqueues an update of a breaching alert's message unless one was
// enqueued less than UpdateEvery ago; the time-driven pass sends the
// coalesced update when that interval is up.
func (e *Engine) refresh(a *Alert, now time.Time, out []Notification) []Notification {
	if a.Muted || a.NotifiedAt.IsZero() || now.Sub(a.NotifiedAt) < e.opts.UpdateEvery {
		return out
	}
	a.NotifiedAt, a.Dirty = now, false
	return append(out, Notification{Kind: KindUpdate, Channel: a.Channel, Alert: *a, At: now})
}

func (e *Engine) resolve(a *Alert, now time.Time, out []Notification) []Notification {
	posted := a.State.Open() && !a.NotifiedAt.IsZero()
	a.State, a.ResolvedAt, a.Dirty = StateResolved, now, false
	if !posted {
		return out
	}
	return append(out,
		Notification{Kind: KindUpdate, Channel: a.Channel, Alert: *a, At: now},
		Notification{Kind: KindReply, Channel: a.Channel, Alert: *a, Reason: "resolved", At: now})
}

// due is when the time-driven pass must next look at a: a pending alert
// when its for-duration ends, a posted alert with an unsent value when its
// coalescing interval ends.
func (e *Engine) due(a Alert, snap Snapshot) time.Time {
	switch {
	case a.State == StatePending:
		th, _ := e.threshold(snap, a.Metric)
		return a.PendingSince.Add(th.For)
	case a.State.Open() && a.Muted:
		return snap.snoozedUntil()
	}
	var next time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if a.State.Open() && a.Dirty && !a.NotifiedAt.IsZero() {
		earliest(a.NotifiedAt.Add(e.opts.UpdateEvery))
	}
	if a.State == StateFiring {
		earliest(a.RemindAt)
	}
	return next
}

// remind posts a reminder in the thread of an unacknowledged alert that is
// due one, and schedules the next (DESIGN §5).
func (e *Engine) remind(a *Alert, now time.Time, out []Notification) []Notification {
	if a.State != StateFiring || a.Muted || a.RemindAt.IsZero() || now.Before(a.RemindAt) {
		return out
	}
	a.RemindAt = now.Add(e.opts.RemindAfter)
	a.Reminders++
	return append(out, Notification{Kind: KindReply, Channel: a.Channel, Alert: *a, Reason: "reminder", At: now})
}

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
		if err := e.advance(ctx, id, now); err != nil && !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return nil
}

func (e *Engine) advance(ctx context.Context, id string, now time.Time) error {
	queueID, _, _, err := ParseAlertID(id)
	if err != nil {
		return nil // not ours to interpret; the store drops unknown entries
	}
	snap, err := e.store.Load(ctx, queueID, "", []string{id})
	if err != nil {
		return fmt.Errorf("load alert %s: %w", id, err)
	}
	va, ok := snap.Alerts[id]
	if !ok {
		return e.store.Commit(ctx, Change{QueueID: queueID, Undue: []string{id}})
	}
	w := &working{alert: va.Alert, version: va.Version, changed: true}
	a := &w.alert
	var notes []Notification
	th, hasThreshold := e.threshold(snap, a.Metric)
	q := snap.Queue
	q.SnoozedUntil = snap.snoozedUntil()
	switch {
	case a.State == StatePending && (!hasThreshold || !th.Breached(a.Value)):
		a.State, a.PendingSince = StateResolved, time.Time{}
	case a.State == StatePending && now.Sub(a.PendingSince) >= th.For:
		setContext(a, q)
		notes = e.fire(a, q, now, notes)
	case a.State.Open() && a.Muted && !now.Before(q.SnoozedUntil):
		setContext(a, q)
		notes = e.unmute(a, now, notes)
	case a.State.Open():
		setContext(a, q)
		if a.Dirty {
			notes = e.refresh(a, now, notes)
		}
		notes = e.remind(a, now, notes)
	}
	c := Change{QueueID: queueID, Notifications: notes,
		Alerts: []AlertWrite{{Alert: *a, Version: w.version, Due: e.due(*a, snap)}}}
	if err := e.store.Commit(ctx, c); err != nil {
		return fmt.Errorf("advance alert %s: %w", id, err)
	}
	e.logTransitions(c)
	return nil
}

func transitionKind(n Notification) string {
	switch {
	case n.Kind == KindPost:
		return "fired"
	case n.Kind == KindReply && n.Reason == "reminder":
		return "reminded"
	case n.Kind == KindReply:
		return "resolved"
	}
	return "updated"
}

func (e *Engine) count(kind string) {
	if e.opts.Observer != nil {
		e.opts.Observer.Transition(kind)
	}
}

// Run calls Tick every interval until ctx is done, then returns. Each pass
// is bounded by the interval so a stuck store cannot pile passes up.
func (e *Engine) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			tctx, cancel := context.WithTimeout(ctx, max(interval, time.Second)*5)
			if err := e.Tick(tctx); err != nil && ctx.Err() == nil {
				e.log.Warn("time-driven evaluation failed", "err", err)
			}
			cancel()
		}
	}
}

func (e *Engine) logTransitions(c Change) {
	for _, n := range c.Notifications {
		e.count(transitionKind(n))
		if n.Kind == KindPost || n.Reason == "resolved" {
			e.log.Info("alert "+string(n.Alert.State), "queue_id", n.Alert.QueueID, "alert_id", n.Alert.ID,
				"channel_id", n.Channel, "metric", n.Alert.Metric, "value", n.Alert.Value, "threshold", n.Alert.Threshold)
		}
	}
}
