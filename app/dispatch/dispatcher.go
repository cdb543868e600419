package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/slabot/slabot/app"
)

// Outbox is the durable queue of notifications (a Redis stream read by a
// consumer group). An entry stays pending until Done, so an entry held by a
// replica that died is reclaimed by another after ClaimIdle.
type Outbox interface {
	// Receive returns new entries for consumer, waiting up to block, or
	// not at all when block is negative.
	Receive(ctx context.Context, consumer string, max int, block time.Duration) ([]Delivery, error)
	// Reclaim takes over entries that other consumers left idle for minIdle.
	Reclaim(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]Delivery, error)
	// Keep tells the group consumer still holds ids, so they are not reclaimed.
	Keep(ctx context.Context, consumer string, ids []string) error
	// Release gives ids up at once, so any dispatcher may reclaim them
	// without waiting for them to go idle.
	Release(ctx context.Context, consumer string, ids []string) error
	// Fetch reads again entries consumer holds, by ID (those still
	// pending), resetting their idle time as Keep does.
	Fetch(ctx context.Context, consumer string, ids []string) ([]Delivery, error)
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

// ErrSkipped, returned (wrapped) by a Notifier, says it chose not to
// deliver a notification, for a reason that retrying cannot change and
// that is no failure: a chart when the app lacks files:write (logged once
// by the notifier) or when there is no history to draw. The entry is
// done, counted as "skipped", and not logged as an error.
var ErrSkipped = errors.New("notification skipped")

// Delivery is one outbox entry.
type Delivery struct {
	ID           string
	Notification app.Notification
	// Reclaimed says the entry was taken over from the consumer that held
	// it (a replica that died or shut down), which may have sent it to
	// Slack without recording so.
	Reclaimed bool
}

// Notifier delivers one notification to Slack. ts is the episode's message
// for updates and replies; for posts it returns the new message's ts.
// Failures should be *DeliveryError so the dispatcher knows whether to retry.
type Notifier interface {
	Notify(ctx context.Context, n app.Notification, ts string) (string, error)
}

// DeliveryError classifies a failed delivery: Retry says whether trying
// again can help, After how long the remote asked us to wait.
type DeliveryError struct {
	Err   error
	Retry bool
	After time.Duration
	// Unsure says the request may have reached the remote and taken effect
	// although no answer came back (a timeout, a connection lost after
	// sending, an unreadable answer), so that sending again may duplicate
	// it. A clear refusal (an HTTP error status, a Slack error code) is
	// not unsure.
	Unsure bool
	// Fix tells the operator what to change for a permanent error.
	Fix string
}

func (e *DeliveryError) Error() string { return e.Err.Error() }

func (e *DeliveryError) Unwrap() error { return e.Err }

// DeliveryObserver is told the result of every Slack call: "ok",
// "rate_limited", "retryable", "permanent" or "skipped" (ErrSkipped).
// Metrics implement it.
type DeliveryObserver interface {
	Delivered(kind app.NotificationKind, result string, delay time.Duration)
}

// Options configures a Dispatcher; zero values take the defaults.
type Options struct {
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
// channel, taking channels in turn, retrying what can succeed later and
// dropping what cannot.
type Dispatcher struct {
	outbox   Outbox
	notifier Notifier
	clock    app.Clock
	opts     Options
	log      *slog.Logger

	held   []*heldDelivery // in full, sorted by stream ID
	inFull map[string]int  // len(held) by channel
	// byID holds, by channel and sorted by stream ID, the entries read past
	// the channel's budget: pending in the group under this consumer, their
	// payload read again when the channel drains.
	byID  map[string][]entryRef
	nByID int
	// stalled marks channels whose last refill failed; they wait for the
	// next maintain before trying again.
	stalled  map[string]bool
	nextPost map[string]time.Time
	// served is the turn of each channel's last delivery attempt, so the
	// channel served longest ago goes first.
	served map[string]uint64
	turn   uint64
	// findWarned is set once a failed lookup for a sent message has been
	// logged as a warning, so a missing scope does not flood the log.
	findWarned bool
}

type heldDelivery struct {
	Delivery
	seq      [2]uint64
	due      time.Time
	attempts int
	// sentTS is the ts of a post Slack accepted but we failed to record;
	// the retry records it instead of posting again.
	sentTS string
	// stale marks an update overtaken by a newer update of its message,
	// which rewrote the message from a later snapshot.
	stale bool
	// unsure marks a delivery that may already have reached Slack: an
	// attempt failed after its request went out, or the entry was
	// reclaimed from another consumer. Before posting it again the
	// dispatcher looks for the message (Finder).
	unsure bool
	// lookups counts failed looks for the message, to give up and post.
	lookups int
}

// New returns a dispatcher; call Run to start it.
func New(outbox Outbox, notifier Notifier, clock app.Clock, opts Options) *Dispatcher {
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
		inFull: make(map[string]int), byID: make(map[string][]entryRef), stalled: make(map[string]bool),
		nextPost: make(map[string]time.Time), served: make(map[string]uint64)}
}

// Run delivers until ctx is done. It returns after finishing the call in
// progress and releasing the entries it still holds, in full or by ID,
// which stay pending in the stream for the next dispatcher to reclaim at
// once, so nothing is lost.
func (d *Dispatcher) Run(ctx context.Context) {
	defer d.release(ctx)
	var lastClaim, lastRead time.Time
	for ctx.Err() == nil {
		now := d.clock.Now()
		if now.Sub(lastClaim) >= d.opts.ClaimIdle/3 {
			lastClaim = now
			d.maintain(ctx)
		}
		d.refill(ctx)
		h, wake := d.scan(now)
		room := min(readBatch, maxByID-d.nByID)
		if h != nil && (room <= 0 || now.Sub(lastRead) < readEvery) {
			d.deliver(ctx, h)
			continue
		}
		wait := time.Duration(-1) // work is due: only look
		if h == nil {
			wait = d.opts.IdleWait
			if !wake.IsZero() && wake.Sub(now) < wait {
				wait = max(wake.Sub(now), time.Millisecond)
			}
		}
		if room <= 0 {
			sleep(ctx, wait)
			continue
		}
		dels, err := d.outbox.Receive(ctx, d.opts.Consumer, room, wait)
		lastRead = d.clock.Now()
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("outbox read failed", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		d.giveBack(ctx, d.hold(dels))
	}
}

// scan returns the entry to deliver now: among the entries that are due
// and whose channel's pacing lets them go, the oldest of the channel served
// longest ago. With none, wake is when the earliest may go (zero when
// nothing is held).
func (d *Dispatcher) scan(now time.Time) (next *heldDelivery, wake time.Time) {
	for _, h := range d.held {
		n := h.Notification
		at := h.due
		if np := d.nextPost[n.Channel]; paced(n.Kind) && np.After(at) {
			at = np
		}
		if at.After(now) {
			if wake.IsZero() || at.Before(wake) {
				wake = at
			}
			continue
		}
		if next == nil || d.served[n.Channel] < d.served[next.Notification.Channel] {
			next = h
		}
	}
	return next, wake
}

// paced reports whether a kind creates a new message (chat.postMessage),
// which Slack limits to about one per second per channel.
func paced(k app.NotificationKind) bool { return k != app.KindUpdate && k != app.KindDigestUpdate }

func (d *Dispatcher) deliver(ctx context.Context, h *heldDelivery) {
	n := h.Notification
	// The call and its bookkeeping run to completion even during shutdown:
	// abandoning a sent post before recording its ts would post it twice.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.CallTimeout)
	defer cancel()
	log := d.log.With("alert_id", n.Alert.ID, "channel_id", n.Channel, "kind", n.Kind, "episode", n.Alert.Episode)
	if h.stale {
		d.finish(cctx, h, log)
		return
	}
	d.turn++
	d.served[n.Channel] = d.turn

	var ts string
	msgID, episode := n.MessageRef()
	if !n.Standalone() {
		var err error
		if ts, err = d.outbox.MessageTS(cctx, msgID, episode); err != nil {
			d.retry(h, err, log)
			return
		}
	}
	switch {
	case n.Standalone():
	case n.Kind.OpensMessage() && ts != "":
		d.finish(cctx, h, log) // already posted: a replay after a crash
		return
	case !n.Kind.OpensMessage() && ts == NoMessage:
		d.finish(cctx, h, log)
		return
	case !n.Kind.OpensMessage() && ts == "":
		if d.clock.Now().Sub(n.At) > d.opts.WaitForPost {
			log.Warn("dropping notification: its alert message was never posted")
			d.finish(cctx, h, log)
			return
		}
		h.due = d.clock.Now().Add(2 * time.Second)
		return
	}
	if n.ContinuedIn > 0 && n.ContinuedTS == "" && !d.linkContinued(cctx, h, msgID, log) {
		return
	}
	if h.sentTS != "" {
		d.record(cctx, h, h.sentTS, log)
		return
	}
	if h.unsure && paced(n.Kind) {
		found, wait := d.find(cctx, h, ts, log)
		if wait {
			return
		}
		if found != "" {
			log.Info("slack had accepted the notification although its answer was lost; recording it instead of posting again", "ts", found)
			d.delivered(cctx, h, found, log)
			return
		}
	}
	d.send(ctx, h, ts, log)
}

// linkContinued readies the close of a message whose breach goes on in a
// newer episode's message: it goes after that message is posted, with its
// ts, so it can link to it. It reports false when h must wait for it (h
// is woken when it is recorded). A new message that never came (its post
// failed for good, or took longer than WaitForPost) leaves the close
// without a link rather than leaving the old message's buttons live.
func (d *Dispatcher) linkContinued(ctx context.Context, h *heldDelivery, msgID string, log *slog.Logger) bool {
	n := &h.Notification
	next, err := d.outbox.MessageTS(ctx, msgID, n.ContinuedIn)
	switch {
	case err != nil:
		d.retry(h, err, log)
		return false
	case next == "" && d.clock.Now().Sub(n.At) <= d.opts.WaitForPost:
		h.due = d.clock.Now().Add(2 * time.Second)
		return false
	case next != "" && next != NoMessage:
		n.ContinuedTS = next
	}
	return true
}

// send delivers h to Slack and records the result. It has a timeout of its
// own, so that a look for the message before it leaves the call its time.
func (d *Dispatcher) send(ctx context.Context, h *heldDelivery, ts string, log *slog.Logger) {
	n := h.Notification
	msgID, episode := n.MessageRef()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.CallTimeout)
	defer cancel()
	if paced(n.Kind) {
		d.nextPost[n.Channel] = d.clock.Now().Add(d.opts.Pace)
	}
	newTS, err := d.notifier.Notify(cctx, n, ts)
	if errors.Is(err, ErrSkipped) {
		d.observe(n, "skipped")
		log.Debug("notification skipped", "reason", err)
		d.finish(cctx, h, log)
		return
	}
	if err != nil {
		var de *DeliveryError
		classified := errors.As(err, &de)
		if classified && de.Unsure {
			h.unsure = true // it stays so: that attempt may still show up
		}
		if classified && !de.Retry {
			d.observe(n, "permanent")
			log.Error("slack rejected notification; not retrying", "err", err, "fix", de.Fix)
			if n.Kind.OpensMessage() {
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
	if !paced(n.Kind) {
		d.supersede(h)
	}
	d.delivered(cctx, h, newTS, log)
}

// delivered completes a notification Slack has taken: a post's ts is
// recorded for its updates and replies, anything else is done.
func (d *Dispatcher) delivered(ctx context.Context, h *heldDelivery, ts string, log *slog.Logger) {
	if msgID, _ := h.Notification.MessageRef(); h.Notification.Kind.OpensMessage() && msgID != "" {
		d.record(ctx, h, ts, log)
		return
	}
	d.finish(ctx, h, log)
}

// supersede marks the held updates of h's message older than h stale: an
// update rewrites the whole message from its snapshot, so sending an older
// one after h (a retry) would put the message back to an earlier state,
// such as firing after its resolution.
func (d *Dispatcher) supersede(h *heldDelivery) {
	id, episode := h.Notification.MessageRef()
	now := d.clock.Now()
	for _, x := range d.held {
		if x == h {
			return // held is in stream order: the rest are newer
		}
		if xid, xepisode := x.Notification.MessageRef(); !paced(x.Notification.Kind) && xid == id && xepisode == episode {
			x.stale, x.due = true, now
		}
	}
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
	d.wake(msgID, episode)
}

// wake makes the held updates and replies of a message that was just
// posted due at once, and the close of an older message that links to
// it. They were waiting for its ts, each due when it last looked; now
// they go together, in stream order, as scan takes them: the
// resolution's update before its thread reply.
func (d *Dispatcher) wake(msgID string, episode int) {
	now := d.clock.Now()
	for _, x := range d.held {
		n := x.Notification
		xid, xepisode := n.MessageRef()
		waits := xepisode == episode || n.ContinuedIn == episode // for its own message, or for the one it links to
		if !n.Kind.OpensMessage() && xid == msgID && waits && x.due.After(now) {
			x.due = now
		}
	}
}

func (d *Dispatcher) observe(n app.Notification, result string) {
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
	ch := h.Notification.Channel
	if d.inFull[ch]--; d.inFull[ch] <= 0 {
		delete(d.inFull, ch)
		if _, ok := d.byID[ch]; !ok {
			delete(d.served, ch)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
