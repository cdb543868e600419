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

// Delivery is one outbox entry.
type Delivery struct {
	ID           string
	Notification Notification
	// Reclaimed says the entry was taken over from the consumer that held
	// it (a replica that died or shut down), which may have sent it to
	// Slack without recording so.
	Reclaimed bool
}

// Notifier delivers one notification to Slack. ts is the episode's message
// for updates and replies; for posts it returns the new message's ts.
// Failures should be *DeliveryError so the dispatcher knows whether to retry.
type Notifier interface {
	Notify(ctx context.Context, n Notification, ts string) (string, error)
}

// Finder is implemented by notifiers that can look for a message they may
// have sent without learning its ts (a post whose answer was lost). Before
// sending again a post or reply that may already have taken effect, the
// dispatcher asks a notifier that is a Finder, and records what it finds
// instead of posting a duplicate. Notifiers that are not Finders are
// simply asked to send again.
type Finder interface {
	// Find returns the ts of the message that delivering n (a post, an
	// announcement, or a reply in the thread of the message ts) created,
	// or "" when there is none. Failures should be *DeliveryError.
	Find(ctx context.Context, n Notification, ts string) (string, error)
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
// channel, taking channels in turn, retrying what can succeed later and
// dropping what cannot.
type Dispatcher struct {
	outbox   Outbox
	notifier Notifier
	clock    Clock
	opts     DispatcherOptions
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

// entryRef is an entry held by ID only: a few dozen bytes instead of its
// notification.
type entryRef struct {
	id     string
	seq    [2]uint64
	unsure bool // the entry was reclaimed (Delivery.Reclaimed)
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
		inFull: make(map[string]int), byID: make(map[string][]entryRef), stalled: make(map[string]bool),
		nextPost: make(map[string]time.Time), served: make(map[string]uint64)}
}

// A dispatcher holds at most maxHeld entries in full (with their
// notification), and at most channelBudget of one channel, so that a channel
// whose deliveries pile up (paced, rate-limited, failing) cannot take the
// room the others need. Past a channel's budget it reads on, to reach the
// other channels' entries, and holds that channel's entries by ID only, at
// most maxByID of them in all; the rest wait in the stream.
const (
	maxHeld       = 512
	channelBudget = 32
	maxByID       = 4096
	readBatch     = 64
	// readEvery is how often the dispatcher reads while it has work due,
	// so that a channel always ready to send cannot hide newer entries.
	readEvery = 100 * time.Millisecond
	// keepBatch bounds the IDs sent in one Keep or Release call.
	keepBatch = 512
)

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

// pending lists the IDs of every entry this dispatcher holds, in full or by ID.
func (d *Dispatcher) pending() []string {
	ids := make([]string, 0, len(d.held)+d.nByID)
	for _, h := range d.held {
		ids = append(ids, h.ID)
	}
	for _, refs := range d.byID {
		for _, r := range refs {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// release hands held entries back on shutdown. If it fails (Redis down),
// they are reclaimed after ClaimIdle instead.
func (d *Dispatcher) release(ctx context.Context) {
	ids := d.pending()
	if len(ids) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	for batch := range slices.Chunk(ids, keepBatch) {
		if err := d.outbox.Release(rctx, d.opts.Consumer, batch); err != nil {
			d.log.Warn("could not release held outbox entries; they will be reclaimed after the claim timeout", "err", err, "count", len(ids))
			return
		}
	}
	d.log.Info("released held outbox entries for other replicas", "count", len(ids))
	d.held, d.byID, d.nByID = nil, make(map[string][]entryRef), 0
	clear(d.inFull)
}

// giveBack releases entries read with no room left to hold them, so that
// any dispatcher may take them later.
func (d *Dispatcher) giveBack(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if err := d.outbox.Release(ctx, d.opts.Consumer, ids); err != nil && ctx.Err() == nil {
		d.log.Warn("could not release outbox entries; they will be reclaimed after the claim timeout", "err", err, "count", len(ids))
	}
}

// maintain reclaims entries abandoned by dead dispatchers and keeps the
// entries this one holds from being reclaimed by others.
func (d *Dispatcher) maintain(ctx context.Context) {
	clear(d.stalled)
	for batch := range slices.Chunk(d.pending(), keepBatch) {
		if err := d.outbox.Keep(ctx, d.opts.Consumer, batch); err != nil {
			if ctx.Err() == nil {
				d.log.Warn("outbox keep failed", "err", err)
			}
			break
		}
	}
	room := min(readBatch, maxByID-d.nByID)
	if room <= 0 {
		return
	}
	dels, err := d.outbox.Reclaim(ctx, d.opts.Consumer, d.opts.ClaimIdle, room)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("outbox reclaim failed", "err", err)
		}
		return
	}
	if len(dels) > 0 {
		d.log.Info("reclaimed outbox entries", "count", len(dels))
	}
	d.giveBack(ctx, d.hold(dels))
}

// hold takes entries read from the outbox. An entry is held in full while
// the dispatcher is under maxHeld, its channel under budget and no older
// entry of its channel is held by ID (that one must go first); otherwise it
// is held by ID only. An entry older than some of its channel's entries
// held in full (one reclaimed from a dead dispatcher) is held in full over
// the budget, to go before them. hold returns the IDs it has no room for.
func (d *Dispatcher) hold(dels []Delivery) (overflow []string) {
	now := d.clock.Now()
	for _, del := range dels {
		seq := parseStreamID(del.ID)
		i, ok := slices.BinarySearchFunc(d.held, seq, func(h *heldDelivery, s [2]uint64) int { return compareSeq(h.seq, s) })
		if ok {
			continue
		}
		ch := del.Notification.Channel
		refs := d.byID[ch]
		if j, ok := slices.BinarySearchFunc(refs, seq, compareRef); ok {
			del.Reclaimed = del.Reclaimed || refs[j].unsure
			refs = slices.Delete(refs, j, j+1) // its notification is here again
			d.nByID--
		}
		underBudget := d.inFull[ch] < channelBudget ||
			slices.ContainsFunc(d.held[i:], func(h *heldDelivery) bool { return h.Notification.Channel == ch })
		switch {
		case len(d.held) < maxHeld && underBudget && (len(refs) == 0 || compareSeq(refs[0].seq, seq) > 0):
			d.held = slices.Insert(d.held, i, &heldDelivery{Delivery: del, seq: seq, due: now, unsure: del.Reclaimed})
			d.inFull[ch]++
		case d.nByID < maxByID:
			j, _ := slices.BinarySearchFunc(refs, seq, compareRef)
			refs = slices.Insert(refs, j, entryRef{id: del.ID, seq: seq, unsure: del.Reclaimed})
			d.nByID++
		default:
			overflow = append(overflow, del.ID)
		}
		d.setByID(ch, refs)
	}
	return overflow
}

func (d *Dispatcher) setByID(ch string, refs []entryRef) {
	if len(refs) == 0 {
		delete(d.byID, ch)
		return
	}
	d.byID[ch] = refs
}

// refill reads again (Fetch) the oldest entries held by ID of the channels
// that have drained to half their budget, so that they go next.
func (d *Dispatcher) refill(ctx context.Context) {
	room := maxHeld - len(d.held)
	if room <= 0 || d.nByID == 0 {
		return
	}
	var chans []string
	for ch := range d.byID {
		if d.inFull[ch] <= channelBudget/2 && !d.stalled[ch] {
			chans = append(chans, ch)
		}
	}
	// The channel whose entries have waited longest comes first.
	slices.SortFunc(chans, func(a, b string) int { return compareSeq(d.byID[a][0].seq, d.byID[b][0].seq) })
	var ids []string
	unsure := make(map[string]bool)
	taken := make(map[string][]entryRef)
	for _, ch := range chans {
		refs := d.byID[ch]
		n := min(channelBudget-d.inFull[ch], len(refs), room-len(ids))
		if n <= 0 {
			break
		}
		for _, r := range refs[:n] {
			ids = append(ids, r.id)
			if r.unsure {
				unsure[r.id] = true
			}
		}
		taken[ch] = slices.Clone(refs[:n])
		d.setByID(ch, slices.Delete(refs, 0, n))
		d.nByID -= n
	}
	if len(ids) == 0 {
		return
	}
	dels, err := d.outbox.Fetch(ctx, d.opts.Consumer, ids)
	if err != nil {
		// Still pending under this consumer: hold them by ID again, and
		// let their channels wait for the next maintain before retrying.
		for ch, refs := range taken {
			d.setByID(ch, append(refs, d.byID[ch]...))
			d.nByID += len(refs)
			d.stalled[ch] = true
		}
		if ctx.Err() == nil {
			d.log.Warn("could not read held outbox entries again", "err", err, "count", len(ids))
		}
		return
	}
	// Entries not returned were acknowledged meanwhile: nothing to do.
	for i := range dels {
		dels[i].Reclaimed = unsure[dels[i].ID]
	}
	d.giveBack(ctx, d.hold(dels))
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
func paced(k NotificationKind) bool { return k != KindUpdate && k != KindDigestUpdate }

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
	if err != nil {
		var de *DeliveryError
		classified := errors.As(err, &de)
		if classified && de.Unsure {
			h.unsure = true // it stays so: that attempt may still show up
		}
		if classified && !de.Retry {
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
	if !paced(n.Kind) {
		d.supersede(h)
	}
	d.delivered(cctx, h, newTS, log)
}

// delivered completes a notification Slack has taken: a post's ts is
// recorded for its updates and replies, anything else is done.
func (d *Dispatcher) delivered(ctx context.Context, h *heldDelivery, ts string, log *slog.Logger) {
	if msgID, _ := h.Notification.MessageRef(); h.Notification.Kind.opensMessage() && msgID != "" {
		d.record(ctx, h, ts, log)
		return
	}
	d.finish(ctx, h, log)
}

// maxLookups bounds the failed looks for an unsure delivery's message
// that may fail for a passing reason (a timeout, a rate limit) before the
// dispatcher gives up and posts again.
const maxLookups = 3

// find looks for the message an unsure post or reply may have created,
// and returns its ts, or "" to post. With wait it has scheduled a retry
// instead: the look failed for a passing reason. A look that cannot
// succeed (a missing scope, a notifier that cannot look) posts again: a
// duplicate is better than a lost alert.
func (d *Dispatcher) find(ctx context.Context, h *heldDelivery, ts string, log *slog.Logger) (found string, wait bool) {
	f, ok := d.notifier.(Finder)
	if !ok {
		return "", false
	}
	found, err := f.Find(ctx, h.Notification, ts)
	if err == nil {
		return found, false
	}
	h.lookups++
	var de *DeliveryError
	if errors.As(err, &de) && de.Retry && h.lookups < maxLookups {
		delay := min(time.Second<<min(h.lookups-1, 10), d.opts.MaxBackoff)
		if de.After > 0 {
			delay = de.After
		}
		h.due = d.clock.Now().Add(delay)
		log.Warn("could not look for a message slack may have posted; will look again", "err", err,
			"attempt", h.lookups, "retry_in", delay.String())
		return "", true
	}
	fix := ""
	if de != nil {
		fix = de.Fix
	}
	if !d.findWarned {
		d.findWarned = true
		log.Warn("could not look for a message slack may have posted; posting again, which may duplicate it (logged once)",
			"err", err, "fix", fix)
	} else {
		log.Debug("could not look for a message slack may have posted; posting again", "err", err)
	}
	return "", false
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
	ch := h.Notification.Channel
	if d.inFull[ch]--; d.inFull[ch] <= 0 {
		delete(d.inFull, ch)
		if _, ok := d.byID[ch]; !ok {
			delete(d.served, ch)
		}
	}
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

func compareRef(r entryRef, s [2]uint64) int { return compareSeq(r.seq, s) }

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
