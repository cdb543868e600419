package app

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Outbox is the durable queue of notifications (a Redis stream read by a
// consumer group). An entry stays pending until Done, so an entry held by a
// replica that died is reclaimed by another after ClaimIdle.
type Outbox interface {
	// Receive returns new entries for consumer, waiting up to block.
	Receive(ctx context.Context, consumer string, max int, block time.Duration) ([]Delivery, error)
	// Reclaim takes over entries that other consumers left idle for minIdle.
	Reclaim(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]Delivery, error)
	// Keep tells the group consumer still holds ids, so they are not reclaimed.
	Keep(ctx context.Context, consumer string, ids []string) error
	// Release gives ids up at once, so any dispatcher may reclaim them
	// without waiting for them to go idle.
	Release(ctx context.Context, consumer string, ids []string) error
	// Done removes a delivered (or abandoned) entry.
	Done(ctx context.Context, id string) error
	// MessageTS returns the Slack ts of an alert episode's message: "" when
	// not posted yet, NoMessage when its post failed for good.
	MessageTS(ctx context.Context, alertID string, episode int) (string, error)
	SetMessageTS(ctx context.Context, alertID string, episode int, ts string) error
}

// NoMessage is the MessageTS recorded when an episode's post failed for
// good, so its updates and replies are dropped instead of waiting.
const NoMessage = "-"

// Delivery is one outbox entry.
type Delivery struct {
	ID           string
	Notification Notification
}

// Notifier delivers one notification to Slack. ts is the episode's message
// for updates and replies; for posts it returns the new message's ts.
// Failures should be *DeliveryError so the dispatcher knows whether to retry.
type Notifier interface {
	Notify(ctx context.Context, n Notification, ts string) (string, error)
}

// DeliveryError classifies a failed delivery: Retry says whether trying
// again can help, After how long the remote asked us to wait.
type DeliveryError struct {
	Err   error
	Retry bool
	After time.Duration
	// Fix tells the operator what to change for a permanent error.
	Fix string
}

func (e *DeliveryError) Error() string { return e.Err.Error() }
func (e *DeliveryError) Unwrap() error { return e.Err }

// DeliveryObserver is told the result of every Slack call: "ok",
// "rate_limited", "retryable" or "permanent". Metrics implement it.
type DeliveryObserver interface {
	Delivered(kind NotificationKind, result string, delay time.Duration)
}

// DispatcherOptions configures a Dispatcher; zero values take the defaults.
type DispatcherOptions struct {
	// Consumer names this dispatcher in the consumer group; unique per process.
	Consumer string
	// Pace is the minimum gap between new messages in one channel (Slack
	// allows about one per second).
	Pace time.Duration
	// ClaimIdle is how long an entry must sit unacknowledged before another
	// dispatcher takes it over.
	ClaimIdle time.Duration
	// CallTimeout bounds one Slack call.
	CallTimeout time.Duration
	// MaxBackoff caps the exponential retry delay.
	MaxBackoff time.Duration
	// IdleWait is the longest a dispatcher blocks reading the outbox when
	// it has nothing to do; it also bounds how long a shutdown waits.
	IdleWait time.Duration
	// WaitForPost is how long an update or reply waits for its episode's
	// post to be delivered before it is dropped.
	WaitForPost time.Duration
	Observer    DeliveryObserver
	Logger      *slog.Logger
}

// Dispatcher drains the outbox into Slack: in stream order, paced per
// channel, retrying what can succeed later and dropping what cannot.
type Dispatcher struct {
	outbox   Outbox
	notifier Notifier
	clock    Clock
	opts     DispatcherOptions
	log      *slog.Logger

	held     []*heldDelivery // sorted by stream ID
	nextPost map[string]time.Time
}

type heldDelivery struct {
	Delivery
	seq      [2]uint64
	due      time.Time
	attempts int
	// sentTS is the ts of a post Slack accepted but we failed to record;
	// the retry records it instead of posting again.
	sentTS string
}

// NewDispatcher returns a dispatcher; call Run to start it.
func NewDispatcher(outbox Outbox, notifier Notifier, clock Clock, opts DispatcherOptions) *Dispatcher {
	if opts.Consumer == "" {
		opts.Consumer = "slabot"
	}
	if opts.Pace <= 0 {
		opts.Pace = time.Second
	}
	if opts.ClaimIdle <= 0 {
		opts.ClaimIdle = 30 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Minute
	}
	if opts.IdleWait <= 0 {
		opts.IdleWait = time.Second
	}
	if opts.WaitForPost <= 0 {
		opts.WaitForPost = 15 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{outbox: outbox, notifier: notifier, clock: clock, opts: opts, log: opts.Logger,
		nextPost: make(map[string]time.Time)}
}

// maxHeld bounds the entries one dispatcher holds in memory; the rest wait
// in the stream for this or another replica.
const maxHeld = 512

// Run delivers until ctx is done. It returns after finishing the call in
// progress and releasing the entries it still holds, which stay pending in
// the stream for the next dispatcher to reclaim at once, so nothing is lost.
func (d *Dispatcher) Run(ctx context.Context) {
	defer d.release(ctx)
	var lastClaim time.Time
	for ctx.Err() == nil {
		now := d.clock.Now()
		if now.Sub(lastClaim) >= d.opts.ClaimIdle/3 {
			lastClaim = now
			d.maintain(ctx)
		}
		if h := d.next(now); h != nil {
			d.deliver(ctx, h)
			continue
		}
		wait := d.opts.IdleWait
		if w, ok := d.nextWake(now); ok && w < wait {
			wait = max(w, time.Millisecond)
		}
		if len(d.held) >= maxHeld {
			sleep(ctx, wait)
			continue
		}
		dels, err := d.outbox.Receive(ctx, d.opts.Consumer, 64, wait)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("outbox read failed", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		d.hold(dels)
	}
}

// release hands held entries back on shutdown. If it fails (Redis down),
// they are reclaimed after ClaimIdle instead.
func (d *Dispatcher) release(ctx context.Context) {
	if len(d.held) == 0 {
		return
	}
	ids := make([]string, len(d.held))
	for i, h := range d.held {
		ids[i] = h.ID
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := d.outbox.Release(rctx, d.opts.Consumer, ids); err != nil {
		d.log.Warn("could not release held outbox entries; they will be reclaimed after the claim timeout", "err", err, "count", len(ids))
		return
	}
	d.log.Info("released held outbox entries for other replicas", "count", len(ids))
	d.held = nil
}

// maintain reclaims entries abandoned by dead dispatchers and keeps the
// entries this one holds from being reclaimed by others.
func (d *Dispatcher) maintain(ctx context.Context) {
	if len(d.held) > 0 {
		ids := make([]string, len(d.held))
		for i, h := range d.held {
			ids[i] = h.ID
		}
		if err := d.outbox.Keep(ctx, d.opts.Consumer, ids); err != nil && ctx.Err() == nil {
			d.log.Warn("outbox keep failed", "err", err)
		}
	}
	dels, err := d.outbox.Reclaim(ctx, d.opts.Consumer, d.opts.ClaimIdle, 64)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("outbox reclaim failed", "err", err)
		}
		return
	}
	if len(dels) > 0 {
		d.log.Info("reclaimed outbox entries", "count", len(dels))
	}
	d.hold(dels)
}

func (d *Dispatcher) hold(dels []Delivery) {
	now := d.clock.Now()
	for _, del := range dels {
		if slices.ContainsFunc(d.held, func(h *heldDelivery) bool { return h.ID == del.ID }) {
			continue
		}
		h := &heldDelivery{Delivery: del, seq: parseStreamID(del.ID), due: now}
		i, _ := slices.BinarySearchFunc(d.held, h.seq, func(x *heldDelivery, s [2]uint64) int {
			return compareSeq(x.seq, s)
		})
		d.held = slices.Insert(d.held, i, h)
	}
}

// next is the oldest held entry that is due and whose channel may take it.
func (d *Dispatcher) next(now time.Time) *heldDelivery {
	for _, h := range d.held {
		if !h.due.After(now) && (!paced(h.Notification.Kind) || !d.nextPost[h.Notification.Channel].After(now)) {
			return h
		}
	}
	return nil
}

func (d *Dispatcher) nextWake(now time.Time) (time.Duration, bool) {
	var earliest time.Time
	for _, h := range d.held {
		t := h.due
		if np := d.nextPost[h.Notification.Channel]; paced(h.Notification.Kind) && np.After(t) {
			t = np
		}
		if earliest.IsZero() || t.Before(earliest) {
			earliest = t
		}
	}
	if earliest.IsZero() {
		return 0, false
	}
	return earliest.Sub(now), true
}

// paced reports whether a kind creates a new message (chat.postMessage),
// which Slack limits to about one per second per channel.
func paced(k NotificationKind) bool { return k != KindUpdate && k != KindDigestUpdate }

func (d *Dispatcher) deliver(ctx context.Context, h *heldDelivery) {
	n := h.Notification
	// The call and its bookkeeping run to completion even during shutdown:
	// abandoning a sent post before recording its ts would post it twice.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.CallTimeout)
	defer cancel()
	log := d.log.With("alert_id", n.Alert.ID, "channel_id", n.Channel, "kind", n.Kind, "episode", n.Alert.Episode)

	var ts string
	msgID, episode := n.MessageRef()
	if n.Kind != KindAnnounce {
		var err error
		if ts, err = d.outbox.MessageTS(cctx, msgID, episode); err != nil {
			d.retry(h, err, log)
			return
		}
	}
	switch {
	case n.Kind == KindAnnounce:
	case n.Kind.opensMessage() && ts != "":
		d.finish(cctx, h, log) // already posted: a replay after a crash
		return
	case !n.Kind.opensMessage() && ts == NoMessage:
		d.finish(cctx, h, log)
		return
	case !n.Kind.opensMessage() && ts == "":
		if d.clock.Now().Sub(n.At) > d.opts.WaitForPost {
			log.Warn("dropping notification: its alert message was never posted")
			d.finish(cctx, h, log)
			return
		}
		h.due = d.clock.Now().Add(2 * time.Second)
		return
	}
	if h.sentTS != "" {
		d.record(cctx, h, h.sentTS, log)
		return
	}
	if paced(n.Kind) {
		d.nextPost[n.Channel] = d.clock.Now().Add(d.opts.Pace)
	}
	newTS, err := d.notifier.Notify(cctx, n, ts)
	if err != nil {
		var de *DeliveryError
		if errors.As(err, &de) && !de.Retry {
			d.observe(n, "permanent")
			log.Error("slack rejected notification; not retrying", "err", err, "fix", de.Fix)
			if n.Kind.opensMessage() {
				if err := d.outbox.SetMessageTS(cctx, msgID, episode, NoMessage); err != nil {
					d.retry(h, err, log)
					return
				}
			}
			d.finish(cctx, h, log)
			return
		}
		d.retry(h, err, log)
		return
	}
	d.observe(n, "ok")
	if n.Kind.opensMessage() && msgID != "" {
		d.record(cctx, h, newTS, log)
		return
	}
	d.finish(cctx, h, log)
}

// record stores a posted message's ts. Slack already has the message, so on
// failure the entry is kept with the ts in hand: the retry records it
// instead of posting a duplicate.
func (d *Dispatcher) record(ctx context.Context, h *heldDelivery, ts string, log *slog.Logger) {
	msgID, episode := h.Notification.MessageRef()
	if err := d.outbox.SetMessageTS(ctx, msgID, episode, ts); err != nil {
		h.sentTS = ts
		d.retry(h, err, log)
		return
	}
	d.finish(ctx, h, log)
}

func (d *Dispatcher) observe(n Notification, result string) {
	if d.opts.Observer != nil {
		d.opts.Observer.Delivered(n.Kind, result, d.clock.Now().Sub(n.At))
	}
}

func (d *Dispatcher) retry(h *heldDelivery, err error, log *slog.Logger) {
	h.attempts++
	delay := min(time.Second<<min(h.attempts-1, 10), d.opts.MaxBackoff)
	var de *DeliveryError
	result := "retryable"
	if errors.As(err, &de) && de.After > 0 {
		delay, result = de.After, "rate_limited"
		if paced(h.Notification.Kind) {
			d.nextPost[h.Notification.Channel] = d.clock.Now().Add(delay)
		}
	}
	d.observe(h.Notification, result)
	h.due = d.clock.Now().Add(delay)
	log.Warn("notification delivery failed; will retry", "err", err, "attempt", h.attempts, "retry_in", delay.String())
}

func (d *Dispatcher) finish(ctx context.Context, h *heldDelivery, log *slog.Logger) {
	if err := d.outbox.Done(ctx, h.ID); err != nil {
		log.Warn("outbox ack failed; entry will be retried", "err", err)
		h.due = d.clock.Now().Add(time.Second)
		return
	}
	d.held = slices.DeleteFunc(d.held, func(x *heldDelivery) bool { return x == h })
}

func parseStreamID(id string) [2]uint64 {
	ms, seq, _ := strings.Cut(id, "-")
	a, _ := strconv.ParseUint(ms, 10, 64)
	b, _ := strconv.ParseUint(seq, 10, 64)
	return [2]uint64{a, b}
}

func compareSeq(a, b [2]uint64) int {
	if c := cmpUint(a[0], b[0]); c != 0 {
		return c
	}
	return cmpUint(a[1], b[1])
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
