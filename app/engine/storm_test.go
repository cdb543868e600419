package engine_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

func stormQueue(i int) string { return fmt.Sprintf("q-%02d", i) }

// storms are the engine options of the storm tests: the defaults slabot
// runs with.
var storms = engine.Options{StormThreshold: engine.DefaultStormThreshold}

// observeQueue ingests one observation of queueID as a new event.
func (h *harness) observeQueue(e *engine.Engine, queueID string, m app.Metric, v float64) {
	h.t.Helper()
	h.mu.Lock()
	h.seq++
	key := fmt.Sprintf("ev-%d", h.seq)
	h.mu.Unlock()
	_, err := e.Ingest(h.ctx, app.Event{Key: key, QueueID: queueID, QueueName: "Queue " + queueID,
		Observations: []app.Observation{{QueueID: queueID, MediaType: "voice", Metric: m, Value: v}}})
	if err != nil {
		h.t.Error(err)
	}
}

// stormNote is one notification as the storm tests read it.
type stormNote struct {
	kind    app.NotificationKind
	queue   string           // alert kinds
	reason  string           // replies
	counts  app.DigestCounts // digest kinds
	digest  string
	members int
}

func (n stormNote) String() string {
	if n.digest != "" {
		c := n.counts
		s := fmt.Sprintf("%s[%d: f%d a%d s%d r%d m%d]", n.kind, n.members, c.Firing, c.Acknowledged, c.Snoozed, c.Resolved, c.Moved)
		if n.reason != "" {
			s += ":" + n.reason
		}
		return s
	}
	return string(n.kind) + ":" + n.queue + ":" + n.reason
}

// stormSent drains the outbox.
func (h *harness) stormSent() []stormNote {
	h.t.Helper()
	dels, err := h.store.Receive(h.ctx, "test", 1000, time.Millisecond)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []stormNote
	for _, d := range dels {
		n := d.Notification
		s := stormNote{kind: n.Kind, queue: n.Alert.QueueID, reason: n.Reason}
		if n.Digest != nil {
			s.digest, s.counts, s.members = n.Digest.ID, n.Digest.Counts(), len(n.Digest.Members)
		}
		out = append(out, s)
		if err := h.store.Done(h.ctx, d.ID); err != nil {
			h.t.Fatal(err)
		}
	}
	return out
}

// newMessages counts what asks Slack for a new message: posts and replies.
func newMessages(ns []stormNote) int {
	n := 0
	for _, x := range ns {
		if x.kind != app.KindUpdate && x.kind != app.KindDigestUpdate {
			n++
		}
	}
	return n
}

func ofKind(ns []stormNote, k app.NotificationKind) []stormNote {
	var out []stormNote
	for _, x := range ns {
		if x.kind == k {
			out = append(out, x)
		}
	}
	return out
}

// breachAll makes n queues breach waiting 10, 100 ms apart.
func (h *harness) breachAll(n int) {
	h.t.Helper()
	for i := range n {
		h.clock.Advance(100 * time.Millisecond)
		h.observeQueue(h.engine, stormQueue(i), app.Waiting, 20)
	}
}

// TestStormDigest: a 50-queue storm makes a handful of messages: the
// alerts before it was a storm, one digest, later its updates (in place)
// as queues resolve, and its end.
func TestStormDigest(t *testing.T) {
	h := newHarness(t, storms)
	h.set(app.DefaultQueue, app.Waiting, 10, 0)
	h.breachAll(50)
	got := h.stormSent()
	if posts := ofKind(got, app.KindPost); len(posts) != 4 {
		t.Errorf("%d alerts posted on their own, want the 4 before the storm: %v", len(posts), got)
	}
	digests := ofKind(got, app.KindDigestPost)
	if len(digests) != 1 || digests[0].members != 1 {
		t.Fatalf("digest posts = %v, want one, opened by the 5th alert", digests)
	}
	if n := newMessages(got); n != 5 {
		t.Errorf("%d new messages for 50 alerts, want 5: %v", n, got)
	}
	id := digests[0].digest

	// Members joining within DigestEvery are shown in one update, with
	// the storm's first 4 alerts, posted on their own.
	h.clock.Advance(5 * time.Second)
	h.tick()
	h.tick()
	got = h.stormSent()
	if len(got) != 1 || got[0].kind != app.KindDigestUpdate || got[0].members != 50 || got[0].counts.Firing != 50 {
		t.Fatalf("after 5 s sent %v, want one update listing 50 firing alerts", got)
	}

	// 10 members resolve: no thread reply each, one update of the digest
	// by the next time-driven pass.
	h.clock.Advance(time.Minute)
	for i := 4; i < 14; i++ {
		h.observeQueue(h.engine, stormQueue(i), app.Waiting, 1)
	}
	if got := h.stormSent(); len(got) != 0 {
		t.Errorf("resolutions of members sent %v themselves", got)
	}
	h.tick()
	got = h.stormSent()
	if len(got) != 1 || got[0].kind != app.KindDigestUpdate || got[0].counts.Resolved != 10 || got[0].counts.Firing != 40 {
		t.Errorf("update = %v, want 10 resolved and 40 firing", got)
	}
	// Changes within DigestEvery of that update wait for the next one.
	h.clock.Advance(time.Second)
	h.observeQueue(h.engine, stormQueue(14), app.Waiting, 1)
	h.observeQueue(h.engine, stormQueue(15), app.Waiting, 1)
	h.tick()
	if got := h.stormSent(); len(got) != 0 {
		t.Errorf("updated again within 5 s: %v", got)
	}
	h.clock.Advance(4 * time.Second)
	h.tick()
	h.tick()
	got = h.stormSent()
	if len(got) != 1 || got[0].counts.Resolved != 12 {
		t.Errorf("coalesced update = %v, want one showing 12 resolved", got)
	}

	// Value changes of members refresh the digest, never a message of
	// their own.
	h.clock.Advance(time.Minute)
	h.observeQueue(h.engine, stormQueue(20), app.Waiting, 25)
	h.tick()
	got = h.stormSent()
	if len(got) != 1 || got[0].kind != app.KindDigestUpdate {
		t.Errorf("a member's new value sent %v, want a digest update", got)
	}

	// The rest resolve: the digest says the storm is over, once.
	h.clock.Advance(time.Minute)
	for i := range 50 {
		h.observeQueue(h.engine, stormQueue(i), app.Waiting, 1)
	}
	h.tick()
	h.tick()
	got = h.stormSent()
	replies := ofKind(got, app.KindDigestReply)
	if len(replies) != 1 || replies[0].reason != "resolved" || replies[0].counts.Resolved != 50 {
		t.Errorf("end of storm sent %v, want one digest reply", got)
	}
	if own := ofKind(got, app.KindReply); len(own) != 4 {
		t.Errorf("the 4 alerts posted on their own got %d resolution replies, want 4", len(own))
	}
	// A chart per alert with a thread of its own; the digest's other 46
	// members get none (no chart of the storm either).
	if charts := ofKind(got, app.KindChart); len(charts) != 4 {
		t.Errorf("end of storm sent %d charts, want 4 (one per alert posted on its own)", len(charts))
	}
	h.clock.Advance(time.Hour)
	h.tick()
	if got := h.stormSent(); len(got) != 0 {
		t.Errorf("after the storm sent %v", got)
	}
	d, err := h.engine.Digest(h.ctx, id)
	if err != nil || !d.Closed() || len(d.Members) != 50 {
		t.Errorf("digest = %+v, %v; want closed with 50 members", d, err)
	}
}

func TestStormThresholdAndWindow(t *testing.T) {
	tests := []struct {
		name    string
		opts    engine.Options
		alerts  int
		gap     time.Duration
		digests int
		posts   int
	}{
		{"below the threshold", storms, 4, time.Second, 0, 4},
		{"at the threshold", storms, 5, time.Second, 1, 4},
		{"spread wider than the window", storms, 10, 8 * time.Second, 0, 10},
		{"configured: 3 in 10 s", engine.Options{StormThreshold: 3, StormWindow: 10 * time.Second}, 6, 3 * time.Second, 1, 2},
		{"configured: 3 in 10 s, slower", engine.Options{StormThreshold: 3, StormWindow: 10 * time.Second}, 6, 6 * time.Second, 0, 6},
		{"turned off (the zero value)", engine.Options{}, 20, 0, 0, 20},
		{"turned off by a threshold of 1", engine.Options{StormThreshold: 1}, 20, 0, 0, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.opts)
			h.set(app.DefaultQueue, app.Waiting, 10, 0)
			for i := range tt.alerts {
				h.clock.Advance(tt.gap)
				h.observeQueue(h.engine, stormQueue(i), app.Waiting, 20)
			}
			got := h.stormSent()
			if n := len(ofKind(got, app.KindDigestPost)); n != tt.digests {
				t.Errorf("%d digests, want %d: %v", n, tt.digests, got)
			}
			if n := len(ofKind(got, app.KindPost)); n != tt.posts {
				t.Errorf("%d posts, want %d: %v", n, tt.posts, got)
			}
		})
	}
}

// TestStormNewDigestLater: a storm well after the last one gets a new
// digest at the bottom of the channel, and alerts in between post alone.
func TestStormNewDigestLater(t *testing.T) {
	h := newHarness(t, storms)
	h.set(app.DefaultQueue, app.Waiting, 10, 0)
	h.breachAll(10)
	first := ofKind(h.stormSent(), app.KindDigestPost)
	h.clock.Advance(10 * time.Minute)
	h.observeQueue(h.engine, stormQueue(30), app.Waiting, 20)
	if got := h.stormSent(); len(got) != 1 || got[0].kind != app.KindPost {
		t.Errorf("a lone alert after the storm sent %v, want its own post", got)
	}
	h.clock.Advance(10 * time.Minute)
	for i := 40; i < 46; i++ {
		h.clock.Advance(time.Second)
		h.observeQueue(h.engine, stormQueue(i), app.Waiting, 20)
	}
	second := ofKind(h.stormSent(), app.KindDigestPost)
	if len(first) != 1 || len(second) != 1 || first[0].digest == second[0].digest {
		t.Errorf("digests %v then %v, want two different ones", first, second)
	}
}

// TestStormAckAllAndReminders: a digest reminds of its unacknowledged
// members in its thread, its first alerts (posted on their own) included,
// which do not remind themselves; Acknowledge all stops that.
func TestStormAckAllAndReminders(t *testing.T) {
	h := newHarness(t, engine.Options{StormThreshold: 5, RemindAfter: 15 * time.Minute})
	h.set(app.DefaultQueue, app.Waiting, 10, 0)
	h.breachAll(12)
	id := ofKind(h.stormSent(), app.KindDigestPost)[0].digest
	h.clock.Advance(15 * time.Minute)
	h.tick()
	h.tick()
	got := h.stormSent()
	if r := ofKind(got, app.KindDigestReply); len(r) != 1 || r[0].reason != "reminder" || r[0].counts.Firing != 12 {
		t.Errorf("reminders %v, want one digest reminder of 12 firing", r)
	}
	if own := ofKind(got, app.KindReply); len(own) != 0 {
		t.Errorf("%d reminders of alerts posted alone, want none (the storm's digest reminds of them)", len(own))
	}
	acked, err := h.engine.AckDigest(h.ctx, id, steve)
	if err != nil || len(acked) != 12 {
		t.Fatalf("AckDigest = %d alerts, %v; want 12", len(acked), err)
	}
	h.clock.Advance(5 * time.Second)
	h.tick()
	got = h.stormSent()
	last := ofKind(got, app.KindDigestUpdate)
	if len(last) == 0 || last[len(last)-1].counts.Acknowledged != 12 {
		t.Errorf("after ack all sent %v, want an update with 12 acknowledged", got)
	}
	if _, err := h.engine.AckDigest(h.ctx, id, steve); err == nil {
		t.Error("second ack all succeeded; want nothing left to acknowledge")
	}
	h.clock.Advance(time.Hour)
	h.tick()
	if r := ofKind(h.stormSent(), app.KindDigestReply); len(r) != 0 {
		t.Errorf("reminded after ack all: %v", r)
	}
}

// TestStormSnoozeAll: Snooze all mutes every member's queue, and those of
// the storm's first alerts (not yet linked to the digest); when the
// snooze ends with queues still breaching they are posted afresh (a storm
// again: a new digest), and the old digest says where they went.
func TestStormSnoozeAll(t *testing.T) {
	h := newHarness(t, storms)
	h.set(app.DefaultQueue, app.Waiting, 10, 0)
	h.breachAll(12)
	id := ofKind(h.stormSent(), app.KindDigestPost)[0].digest
	h.clock.Advance(time.Minute)
	for i := 4; i < 7; i++ { // three members recover first
		h.observeQueue(h.engine, stormQueue(i), app.Waiting, 1)
	}
	until, queues, err := h.engine.SnoozeDigest(h.ctx, id, time.Hour, steve)
	if err != nil || len(queues) != 9 || !until.Equal(h.clock.Now().Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("SnoozeDigest = %v, %v, %v; want 9 queues (4 posted alone, 5 members) for an hour", until, queues, err)
	}
	h.clock.Advance(5 * time.Second)
	h.tick()
	got := h.stormSent()
	if u := ofKind(got, app.KindDigestUpdate); len(u) == 0 || u[len(u)-1].counts.Snoozed != 9 {
		t.Errorf("after snooze all sent %v, want the digest to show 9 snoozed", got)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	got = h.stormSent()
	digests := ofKind(got, app.KindDigestPost)
	if len(digests) != 1 || digests[0].digest == id {
		t.Errorf("at the snooze's end sent %v, want a new digest", got)
	}
	h.clock.Advance(5 * time.Second)
	h.tick()
	old, err := h.engine.Digest(h.ctx, id)
	if err != nil || !old.Closed() || old.Counts().Moved != 9 || old.Counts().Resolved != 3 {
		t.Errorf("old digest = %+v (%v), want closed with 9 moved and 3 resolved", old.Counts(), err)
	}
}

// TestStormRace: two replicas taking a storm concurrently agree: one
// digest, and only the alerts before the threshold post alone.
func TestStormRace(t *testing.T) {
	h := newHarness(t, storms)
	h.set(app.DefaultQueue, app.Waiting, 10, 0)
	other := engine.New(h.store, h.clock, engine.Options{Channel: "C1", StormThreshold: 5})
	var wg sync.WaitGroup
	next := make(chan int)
	for w := range 16 {
		e := h.engine
		if w%2 == 1 {
			e = other
		}
		wg.Go(func() {
			for i := range next {
				h.observeQueue(e, stormQueue(i), app.Waiting, 20)
			}
		})
	}
	for i := range 50 {
		next <- i
	}
	close(next)
	wg.Wait()
	h.clock.Advance(5 * time.Second)
	h.tick()
	got := h.stormSent()
	var kinds []string
	for _, n := range got {
		kinds = append(kinds, string(n.kind))
	}
	if n := len(ofKind(got, app.KindDigestPost)); n != 1 {
		t.Errorf("%d digests, want 1: %s", n, strings.Join(kinds, " "))
	}
	if n := len(ofKind(got, app.KindPost)); n != 4 {
		t.Errorf("%d posts alone, want 4", n)
	}
	u := ofKind(got, app.KindDigestUpdate)
	if len(u) == 0 || u[len(u)-1].members != 50 {
		t.Errorf("last digest update = %v, want 50 members", u)
	}
}
