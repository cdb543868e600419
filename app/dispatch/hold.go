package dispatch

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// entryRef is an entry held by ID only: a few dozen bytes instead of its
// notification.
type entryRef struct {
	id     string
	seq    [2]uint64
	unsure bool // the entry was reclaimed (Delivery.Reclaimed)
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
