package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/app/engine"
)

// notifier records deliveries and fails on demand.
type notifier struct {
	mu    sync.Mutex
	calls []string
	notes []app.Notification // what each recorded call delivered
	fail  func(n app.Notification, call int) error
	// called, if set, sees every call first, on the dispatcher's goroutine.
	called func(n app.Notification)
	seq    int
}

func (f *notifier) Notify(_ context.Context, n app.Notification, ts string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	if f.called != nil {
		f.called(n)
	}
	if f.fail != nil {
		if err := f.fail(n, f.seq); err != nil {
			return "", err
		}
	}
	newTS := ts
	if n.Kind != app.KindUpdate {
		newTS = fmt.Sprintf("1700000000.%06d", f.seq)
	}
	f.calls = append(f.calls, fmt.Sprintf("%s#%d@%s", n.Kind, n.Alert.Episode, ts))
	f.notes = append(f.notes, n)
	return newTS, nil
}

func (f *notifier) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *notifier) delivered() []app.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]app.Notification(nil), f.notes...)
}

// waitFor polls until the notifier has n calls, or fails the test.
func waitFor(t *testing.T, f *notifier, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := f.recorded(); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("notifier got %v, want %d calls", f.recorded(), n)
	return nil
}

func runDispatcher(t *testing.T, h *harness, f dispatch.Notifier, opts dispatch.Options) context.CancelFunc {
	t.Helper()
	if opts.Pace == 0 {
		opts.Pace = time.Millisecond
	}
	opts.IdleWait = 20 * time.Millisecond
	return run(t, dispatch.New(h.store, f, app.SystemClock{}, opts))
}

// run runs d until the test ends or the returned func is called.
func run(t *testing.T, d *dispatch.Dispatcher) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return func() { cancel(); <-done }
}

func TestDispatchInOrderWithTS(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	h.observe("voice", app.Waiting, 2)
	f := &notifier{}
	runDispatcher(t, h, f, dispatch.Options{})
	got := waitFor(t, f, 4)
	// The episode's chart goes in the thread of its message, after the reply.
	want := []string{"post#1@", "update#1@1700000000.000001", "reply#1@1700000000.000001", "chart#1@1700000000.000001"}
	if !equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
}

func TestDispatchRetriesThenSucceedsOnce(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	f := &notifier{fail: func(n app.Notification, call int) error {
		switch call {
		case 1:
			return &dispatch.DeliveryError{Err: errors.New("ratelimited"), Retry: true, After: 50 * time.Millisecond}
		case 2:
			return &dispatch.DeliveryError{Err: errors.New("500"), Retry: true}
		}
		return nil
	}}
	runDispatcher(t, h, f, dispatch.Options{MaxBackoff: 20 * time.Millisecond})
	waitFor(t, f, 1)
	time.Sleep(100 * time.Millisecond) // room for a wrong second delivery
	if got := f.recorded(); !equal(got, []string{"post#1@"}) {
		t.Errorf("calls %v, want one post", got)
	}
}

func TestDispatchPermanentErrorDropsEpisode(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	h.observe("voice", app.Waiting, 1) // resolve: update + reply depend on the post
	h.observe("voice", app.Waiting, 20)
	f := &notifier{fail: func(n app.Notification, _ int) error {
		if n.Alert.Episode == 1 {
			return &dispatch.DeliveryError{Err: errors.New("channel_not_found"), Fix: "invite the bot"}
		}
		return nil
	}}
	runDispatcher(t, h, f, dispatch.Options{})
	waitFor(t, f, 1)
	time.Sleep(100 * time.Millisecond)
	if got := f.recorded(); !equal(got, []string{"post#2@"}) {
		t.Errorf("calls %v: episode 1's update and reply must be dropped, episode 2 posted", got)
	}
	if n, _, _ := h.store.OutboxDepth(h.ctx); n != 0 {
		t.Errorf("outbox still holds %d entries", n)
	}
}

func TestDispatchReclaimsFromDeadReplica(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	// A replica read the entry and died before delivering it.
	if dels, err := h.store.Receive(h.ctx, "dead-replica", 10, time.Millisecond); err != nil || len(dels) != 1 {
		t.Fatalf("Receive = %v, %v", dels, err)
	}
	f := &notifier{}
	runDispatcher(t, h, f, dispatch.Options{Consumer: "alive", ClaimIdle: 60 * time.Millisecond})
	if got := waitFor(t, f, 1); !equal(got, []string{"post#1@"}) {
		t.Errorf("calls %v", got)
	}
}

func TestDispatchSkipsRepostAfterCrash(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	// The post reached Slack and its ts was recorded, but the entry was
	// never acknowledged (the replica died): it must not post twice.
	id := app.AlertID(queue, "voice", app.Waiting)
	if err := h.store.SetMessageTS(h.ctx, id, 1, "1700000000.000001"); err != nil {
		t.Fatal(err)
	}
	h.observe("voice", app.Waiting, 1)
	f := &notifier{}
	runDispatcher(t, h, f, dispatch.Options{})
	waitFor(t, f, 3)
	time.Sleep(50 * time.Millisecond)
	if got := f.recorded(); !equal(got, []string{"update#1@1700000000.000001", "reply#1@1700000000.000001", "chart#1@1700000000.000001"}) {
		t.Errorf("calls %v", got)
	}
}

func TestDispatchNewerUpdateSupersedesRetriedOne(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	h.clock.Advance(time.Minute) // past UpdateEvery: the next value updates the message
	h.observe("voice", app.Waiting, 20)
	h.observe("voice", app.Waiting, 1) // resolve: update + reply
	f := &notifier{
		fail: func(n app.Notification, call int) error {
			if call == 2 { // the first update; its retry is due a second later
				return &dispatch.DeliveryError{Err: errors.New("500"), Retry: true}
			}
			return nil
		},
		// Each call takes a millisecond, and nothing else moves the clock.
		called: func(app.Notification) { h.clock.Advance(time.Millisecond) },
	}
	d := dispatch.New(h.store, f, h.clock, dispatch.Options{Pace: time.Millisecond, IdleWait: 20 * time.Millisecond})
	run(t, d)
	waitFor(t, f, 3)
	waitDrained(t, h)
	var got []string
	for _, n := range f.delivered() {
		got = append(got, fmt.Sprintf("%s:%s:%v", n.Kind, n.Alert.State, n.Alert.Value))
	}
	// The update being retried is older than the resolution: sent after it,
	// it would show the alert firing again.
	want := []string{"post:firing:15", "update:resolved:1", "reply:resolved:1", "chart:resolved:1"}
	if !equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

// enqueue adds n announcements to channel's outbox, texts "channel i".
func enqueue(t *testing.T, h *harness, channel string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := h.store.Enqueue(h.ctx, app.Notification{Kind: app.KindAnnounce, Channel: channel,
			Text: fmt.Sprintf("%s %d", channel, i), At: h.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
}

// waitUntil polls the notifier until done holds for what it delivered, or
// fails the test.
func waitUntil(t *testing.T, f *notifier, what string, done func([]app.Notification) bool) []app.Notification {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := f.delivered(); done(got) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: never happened; %d calls", what, len(f.delivered()))
	return nil
}

func deliveredTo(channel string) func([]app.Notification) bool {
	return func(got []app.Notification) bool {
		return slices.ContainsFunc(got, func(n app.Notification) bool { return n.Channel == channel })
	}
}

// labels names deliveries: an announcement by its text, an alert's
// notification as "kind:state".
func labels(ns []app.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Text
		if n.Kind != app.KindAnnounce {
			out[i] = fmt.Sprintf("%s:%s", n.Kind, n.Alert.State)
		}
	}
	return out
}

// waitDrained polls until the outbox is empty, or fails the test.
func waitDrained(t *testing.T, h *harness) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if n, _, err := h.store.OutboxDepth(h.ctx); err == nil && n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	n, _, _ := h.store.OutboxDepth(h.ctx)
	t.Fatalf("outbox still holds %d entries", n)
}

func TestDispatchPacedBacklogDoesNotHoldUpOtherChannels(t *testing.T) {
	h := newHarness(t, engine.Options{})
	busy := dispatch.MaxHeld + 88 // more than the dispatcher could hold before
	enqueue(t, h, "CBUSY", 0, busy)
	enqueue(t, h, "CQUIET", 0, 1)
	f := &notifier{}
	// The clock stands still: the busy channel posts once, then its pacing
	// holds back the rest, as Slack's one post per second does.
	d := dispatch.New(h.store, f, h.clock, dispatch.Options{Pace: time.Second, IdleWait: 20 * time.Millisecond})
	run(t, d)
	got := waitUntil(t, f, "the quiet channel's announcement is delivered", deliveredTo("CQUIET"))
	if want := []string{"CBUSY 0", "CQUIET 0"}; !equal(labels(got), want) {
		t.Errorf("delivered %v, want %v", labels(got), want)
	}
}

func TestDispatchBusyChannelDeliversOnceInOrder(t *testing.T) {
	h := newHarness(t, engine.Options{}) // alerts go to C1
	h.set(queue, app.Waiting, 10, 0)
	enqueue(t, h, "C1", 0, 100)
	// An alert's messages deep in C1's backlog: they are read past the
	// channel's budget, held by ID and read again.
	h.observe("voice", app.Waiting, 15)
	h.clock.Advance(time.Minute)
	h.observe("voice", app.Waiting, 20)
	h.observe("voice", app.Waiting, 1)
	enqueue(t, h, "C1", 100, 200)
	enqueue(t, h, "C2", 0, 1)
	const pace = time.Second

	var d *dispatch.Dispatcher
	var maxFull, maxC1, maxByID int
	f := &notifier{}
	f.called = func(app.Notification) {
		full, c1, byID := d.Held("C1")
		maxFull, maxC1, maxByID = max(maxFull, full), max(maxC1, c1), max(maxByID, byID)
		// Each call takes as long as the pacing, so C1 always has a post
		// due: the dispatcher is never idle.
		h.clock.Advance(pace)
	}
	d = dispatch.New(h.store, f, h.clock, dispatch.Options{Pace: pace, IdleWait: 20 * time.Millisecond})
	stop := run(t, d)
	waitUntil(t, f, "every entry is delivered", func(got []app.Notification) bool { return len(got) >= 305 })
	waitDrained(t, h)
	stop()
	got := f.delivered()

	var c1 []string
	quietAt := -1
	for i, label := range labels(got) {
		if got[i].Channel == "C2" {
			quietAt = len(c1)
			continue
		}
		c1 = append(c1, label)
	}
	if quietAt < 0 || quietAt >= 40 {
		t.Errorf("C2's announcement came after %d of C1's messages, want it before the 40th", quietAt)
	}
	var want []string
	for i := range 100 {
		want = append(want, fmt.Sprintf("C1 %d", i))
	}
	want = append(want, "post:firing", "update:firing", "update:resolved", "reply:resolved", "chart:resolved")
	for i := 100; i < 300; i++ {
		want = append(want, fmt.Sprintf("C1 %d", i))
	}
	if !equal(c1, want) {
		t.Errorf("C1 got %d messages, want %d, each once and in stream order:\n got %v\nwant %v", len(c1), len(want), c1, want)
	}
	if maxFull > dispatch.MaxHeld || maxC1 > dispatch.ChannelBudget {
		t.Errorf("held up to %d entries in full, %d of C1, want at most %d and %d", maxFull, maxC1, dispatch.MaxHeld, dispatch.ChannelBudget)
	}
	if maxByID == 0 {
		t.Errorf("no entry was held by ID: the backlog did not exceed the channel's budget")
	}
}

func TestDispatchReplicasShareBacklogOnce(t *testing.T) {
	tests := []struct {
		name string
		// paceA is replica a's pacing; b posts as fast as it can.
		paceA time.Duration
		// alone says whether a runs alone until it stops.
		alone bool
		// stopA says when replica a stops, handing back what it holds.
		stopA func([]app.Notification) bool
	}{
		{"racing replicas, one stopping mid-backlog", time.Nanosecond, false,
			func(got []app.Notification) bool { return len(got) >= 100 }},
		// Paced at one post an hour, replica a posts once per channel;
		// once it has posted C3's first entry it has read past C1's and
		// C2's backlogs and holds most of them by ID.
		{"replica stopping with a backlog held by ID", time.Hour, true,
			func(got []app.Notification) bool {
				return slices.ContainsFunc(got, func(n app.Notification) bool { return n.Text == "C3 0" })
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, engine.Options{})
			enqueue(t, h, "C1", 0, 300)
			enqueue(t, h, "C2", 0, 40)
			enqueue(t, h, "C3", 0, 20)
			// A replica read the first entries and died without delivering them.
			if dels, err := h.store.Receive(h.ctx, "dead-replica", 50, time.Millisecond); err != nil || len(dels) != 50 {
				t.Fatalf("Receive = %d entries, %v", len(dels), err)
			}
			f := &notifier{}
			stopA := runDispatcher(t, h, f, dispatch.Options{Consumer: "a", Pace: tt.paceA, ClaimIdle: time.Second})
			var stopB context.CancelFunc
			if !tt.alone {
				stopB = runDispatcher(t, h, f, dispatch.Options{Consumer: "b", Pace: time.Nanosecond, ClaimIdle: time.Second})
			}
			waitUntil(t, f, "replica a is ready to stop", tt.stopA)
			stopA()
			if tt.alone {
				stopB = runDispatcher(t, h, f, dispatch.Options{Consumer: "b", Pace: time.Nanosecond, ClaimIdle: time.Second})
			}
			waitUntil(t, f, "every entry is delivered", func(got []app.Notification) bool { return len(got) >= 360 })
			waitDrained(t, h)
			stopB()

			seen := make(map[string]int)
			for _, n := range f.delivered() {
				seen[n.Text]++
			}
			for _, ch := range []struct {
				name string
				n    int
			}{{"C1", 300}, {"C2", 40}, {"C3", 20}} {
				for i := range ch.n {
					if text := fmt.Sprintf("%s %d", ch.name, i); seen[text] != 1 {
						t.Errorf("%s delivered %d times, want once", text, seen[text])
					}
				}
			}
			if got := len(f.delivered()); got != 360 {
				t.Errorf("%d deliveries, want 360", got)
			}
		})
	}
}

// TestDispatchClosesSnoozedMessageAfterItsSuccessor: a snooze that ends
// on a live breach posts a fresh message and closes the old one; the
// close names the new message, so it goes only once that one is posted
// (although the engine enqueued it first), carrying its ts.
func TestDispatchClosesSnoozedMessageAfterItsSuccessor(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	f := &notifier{}
	stop := runDispatcher(t, h, f, dispatch.Options{})
	waitFor(t, f, 1)
	stop()

	if _, err := h.engine.Snooze(h.ctx, queue, time.Hour, app.Actor{UserID: "U0LEAD001", Via: "command"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	if err := h.engine.Tick(h.ctx); err != nil {
		t.Fatal(err)
	}
	// The engine's clock is days behind the dispatcher's real one: a
	// generous WaitForPost keeps its notifications from counting as lost.
	runDispatcher(t, h, f, dispatch.Options{WaitForPost: 10 * 365 * 24 * time.Hour})
	got := waitFor(t, f, 4)
	want := []string{"post#1@", "update#1@1700000000.000001", "post#2@", "update#1@1700000000.000001"}
	if !equal(got, want) {
		t.Fatalf("calls %v, want %v (the close after the new post)", got, want)
	}
	closing := f.delivered()[3]
	if closing.ContinuedIn != 2 || closing.ContinuedTS != "1700000000.000003" {
		t.Errorf("the close continues in episode %d, ts %q; want 2, the new post's 1700000000.000003", closing.ContinuedIn, closing.ContinuedTS)
	}
}

// results records what the dispatcher observed of each delivery.
type results struct {
	mu  sync.Mutex
	got []string
}

func (r *results) Delivered(kind app.NotificationKind, result string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(kind)+":"+result)
}

func (r *results) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// A chart that belongs to no message (a /sla chart answer, a report's)
// goes to its channel at once; a chart the notifier skips (no files:write,
// nothing to draw) is done: not retried, counted as skipped.
func TestDispatchChartsStandaloneAndSkipped(t *testing.T) {
	h := newHarness(t, engine.Options{})
	job := &app.ChartJob{QueueID: queue, Metric: app.Waiting}
	for _, ch := range []string{"C1", "C2"} {
		if err := h.store.Enqueue(h.ctx, app.Notification{Kind: app.KindChart, Channel: ch, Chart: job, At: h.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	f := &notifier{fail: func(n app.Notification, _ int) error {
		if n.Channel == "C2" {
			return fmt.Errorf("chart: %w", dispatch.ErrSkipped)
		}
		return nil
	}}
	obs := &results{}
	runDispatcher(t, h, f, dispatch.Options{Observer: obs, MaxBackoff: 10 * time.Millisecond})
	waitDrained(t, h)
	time.Sleep(50 * time.Millisecond) // room for a wrong retry
	if got := f.recorded(); !equal(got, []string{"chart#0@"}) {
		t.Errorf("calls %v, want the C1 chart with no thread", got)
	}
	f.mu.Lock()
	asked := f.seq
	f.mu.Unlock()
	if asked != 2 {
		t.Errorf("notifier asked %d times, want twice: a skipped chart is not retried", asked)
	}
	got := obs.all()
	slices.Sort(got)
	if !equal(got, []string{"chart:ok", "chart:skipped"}) {
		t.Errorf("observed %v, want one ok and one skipped", got)
	}
}
