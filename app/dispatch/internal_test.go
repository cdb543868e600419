package dispatch

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// TestHoldBoundsMemory feeds hold far more entries than it may keep, in
// read-sized batches, and checks the bounds, that nothing is lost (what it
// cannot hold it gives back), that in each channel the entries held in full
// are older than those held by ID (they must be delivered first), and that
// quiet channels read after a busy one are still held in full.
func TestHoldBoundsMemory(t *testing.T) {
	tests := []struct {
		name  string
		busy  int // busy channels, interleaved in the stream
		each  int // entries of each busy channel
		quiet int // channels with one entry, after the busy ones
	}{
		{"one busy channel", 1, 10000, 0},
		{"many busy channels", 100, 100, 0},
		{"quiet channels after a busy one", 1, 600, 20},
		{"quiet channels after too big a backlog", 1, 6000, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(nil, nil, app.NewManualClock(time.Unix(1_800_000_000, 0)), Options{})
			var dels []Delivery
			for i := range tt.each {
				for c := range tt.busy {
					dels = append(dels, Delivery{ID: fmt.Sprintf("1800000000000-%d", i*tt.busy+c),
						Notification: app.Notification{Kind: app.KindAnnounce, Channel: fmt.Sprintf("C%d", c)}})
				}
			}
			for c := range tt.quiet {
				dels = append(dels, Delivery{ID: fmt.Sprintf("1800000000001-%d", c),
					Notification: app.Notification{Kind: app.KindAnnounce, Channel: fmt.Sprintf("Q%d", c)}})
			}
			var overflow []string
			for batch := range slices.Chunk(dels, readBatch) {
				overflow = append(overflow, d.hold(batch)...)
			}

			if got := len(d.held); got > maxHeld {
				t.Errorf("held %d entries in full, want at most %d", got, maxHeld)
			}
			for ch, n := range d.inFull {
				if n > channelBudget {
					t.Errorf("held %d entries of %s in full, want at most %d", n, ch, channelBudget)
				}
			}
			byID := 0
			for ch, refs := range d.byID {
				byID += len(refs)
				for _, h := range d.held {
					if h.Notification.Channel == ch && compareSeq(h.seq, refs[0].seq) > 0 {
						t.Errorf("%s: %s held in full after %s held by ID", ch, h.ID, refs[0].id)
					}
				}
			}
			if byID != d.nByID || byID > maxByID {
				t.Errorf("held %d entries by ID (counted %d), want at most %d", byID, d.nByID, maxByID)
			}
			if got, want := len(d.held)+byID+len(overflow), len(dels); got != want {
				t.Errorf("held %d + %d and gave back %d entries, want %d in all", len(d.held), byID, len(overflow), want)
			}
			for c := range tt.quiet {
				if ch := fmt.Sprintf("Q%d", c); d.inFull[ch] != 1 {
					t.Errorf("%s: %d entries held in full, want its one entry", ch, d.inFull[ch])
				}
			}
		})
	}
}

// TestHoldKeepsChannelOrder checks that an entry older than those of its
// channel held in full (reclaimed from a dead dispatcher) is held in full
// ahead of them even over the budget, and that one newer than some held by
// ID waits behind those.
func TestHoldKeepsChannelOrder(t *testing.T) {
	d := New(nil, nil, app.NewManualClock(time.Unix(1_800_000_000, 0)), Options{})
	del := func(seq int) Delivery {
		return Delivery{ID: fmt.Sprintf("1800000000000-%d", seq), Notification: app.Notification{Kind: app.KindAnnounce, Channel: "C1"}}
	}
	var dels []Delivery
	for seq := 10; seq < 10+channelBudget+8; seq++ {
		dels = append(dels, del(seq))
	}
	d.hold(dels)
	d.hold([]Delivery{del(5), del(10 + channelBudget + 20)})

	if got, want := d.held[0].ID, del(5).ID; got != want {
		t.Errorf("first held in full %s, want %s", got, want)
	}
	if got, want := d.inFull["C1"], channelBudget+1; got != want {
		t.Errorf("%d entries held in full, want %d", got, want)
	}
	refs := d.byID["C1"]
	if got, want := refs[len(refs)-1].id, del(10+channelBudget+20).ID; got != want || len(refs) != 9 {
		t.Errorf("held by ID %d entries, the last %s; want 9, the last %s", len(refs), got, want)
	}
}

// fetchOutbox answers Fetch from entries it keeps, as a Redis stream
// would: without the mark Reclaim put on them.
type fetchOutbox struct {
	Outbox
	entries map[string]Delivery
}

func (o fetchOutbox) Fetch(_ context.Context, _ string, ids []string) ([]Delivery, error) {
	var out []Delivery
	for _, id := range ids {
		del := o.entries[id]
		del.Reclaimed = false
		out = append(out, del)
	}
	return out, nil
}

// TestReclaimedStaysUnsureHeldByID checks that an entry reclaimed while
// its channel is over budget, and so held by ID only, is still unsure (to
// be looked for before it is posted again) once read back in full.
func TestReclaimedStaysUnsureHeldByID(t *testing.T) {
	entries := make(map[string]Delivery)
	del := func(seq int) Delivery {
		d := Delivery{ID: fmt.Sprintf("1800000000000-%d", seq), Notification: app.Notification{Kind: app.KindAnnounce, Channel: "C1"}}
		entries[d.ID] = d
		return d
	}
	d := New(fetchOutbox{entries: entries}, nil, app.NewManualClock(time.Unix(1_800_000_000, 0)), Options{})
	var dels []Delivery
	for seq := range channelBudget {
		dels = append(dels, del(seq))
	}
	d.hold(dels)
	reclaimed := del(channelBudget + 1)
	reclaimed.Reclaimed = true
	d.hold([]Delivery{reclaimed, del(channelBudget + 2)})
	if refs := d.byID["C1"]; len(refs) != 2 || !refs[0].unsure || refs[1].unsure {
		t.Fatalf("held by ID %+v, want the reclaimed entry marked unsure and the other not", refs)
	}

	// The channel drains; its entries held by ID are read again.
	d.held, d.inFull = nil, make(map[string]int)
	d.refill(t.Context())
	if len(d.held) != 2 {
		t.Fatalf("held %d entries in full after refill, want 2", len(d.held))
	}
	if !d.held[0].unsure || d.held[1].unsure {
		t.Errorf("unsure = %v, %v; want the reclaimed entry unsure and the other not", d.held[0].unsure, d.held[1].unsure)
	}
}

// TestWakeSendsWaitersInStreamOrder: an update and a reply that waited for
// their message's post, each due when it last looked (the reply's check
// may have come first), both go as soon as the post's ts is recorded, the
// update before the reply, as they stand in the stream.
func TestWakeSendsWaitersInStreamOrder(t *testing.T) {
	clock := app.NewManualClock(time.Unix(1_800_000_000, 0))
	d := New(nil, nil, clock, Options{})
	a := app.Alert{ID: app.AlertID("q1", "voice", app.Waiting), Episode: 1}
	note := func(k app.NotificationKind, seq int, due time.Duration) Delivery {
		return Delivery{ID: fmt.Sprintf("1800000000000-%d", seq), Notification: app.Notification{Kind: k, Channel: "C1", Alert: a}}
	}
	d.hold([]Delivery{note(app.KindUpdate, 2, 0), note(app.KindReply, 3, 0)})
	d.held[0].due = clock.Now().Add(2 * time.Second)
	d.held[1].due = clock.Now().Add(time.Second)

	d.wake(a.ID, a.Episode)
	next, _ := d.scan(clock.Now())
	if next == nil || next.Notification.Kind != app.KindUpdate {
		t.Fatalf("after the post's ts was recorded, next = %v; want the update, at once", next)
	}
}
