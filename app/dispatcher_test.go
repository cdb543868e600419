package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// notifier records deliveries and fails on demand.
type notifier struct {
	mu    sync.Mutex
	calls []string
	fail  func(n app.Notification, call int) error
	seq   int
}

func (f *notifier) Notify(_ context.Context, n app.Notification, ts string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
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
	return newTS, nil
}

func (f *notifier) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
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

func runDispatcher(t *testing.T, h *harness, f app.Notifier, opts app.DispatcherOptions) context.CancelFunc {
	t.Helper()
	if opts.Pace == 0 {
		opts.Pace = time.Millisecond
	}
	opts.IdleWait = 20 * time.Millisecond
	d := app.NewDispatcher(h.store, f, app.SystemClock{}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return func() { cancel(); <-done }
}

func TestDispatchInOrderWithTS(t *testing.T) {
	h := newHarness(t, app.EngineOptions{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	h.observe("voice", app.Waiting, 2)
	f := &notifier{}
	runDispatcher(t, h, f, app.DispatcherOptions{})
	got := waitFor(t, f, 3)
	want := []string{"post#1@", "update#1@1700000000.000001", "reply#1@1700000000.000001"}
	if !equal(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
}

func TestDispatchRetriesThenSucceedsOnce(t *testing.T) {
	h := newHarness(t, app.EngineOptions{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	f := &notifier{fail: func(n app.Notification, call int) error {
		switch call {
		case 1:
			return &app.DeliveryError{Err: errors.New("ratelimited"), Retry: true, After: 50 * time.Millisecond}
		case 2:
			return &app.DeliveryError{Err: errors.New("500"), Retry: true}
		}
		return nil
	}}
	runDispatcher(t, h, f, app.DispatcherOptions{MaxBackoff: 20 * time.Millisecond})
	got := waitFor(t, f, 1)
	time.Sleep(100 * time.Millisecond) // room for a wrong second delivery
	if got = f.recorded(); !equal(got, []string{"post#1@"}) {
		t.Errorf("calls %v, want one post", got)
	}
}

func TestDispatchPermanentErrorDropsEpisode(t *testing.T) {
	h := newHarness(t, app.EngineOptions{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	h.observe("voice", app.Waiting, 1) // resolve: update + reply depend on the post
	h.observe("voice", app.Waiting, 20)
	f := &notifier{fail: func(n app.Notification, _ int) error {
		if n.Alert.Episode == 1 {
			return &app.DeliveryError{Err: errors.New("channel_not_found"), Fix: "invite the bot"}
		}
		return nil
	}}
	runDispatcher(t, h, f, app.DispatcherOptions{})
	got := waitFor(t, f, 1)
	time.Sleep(100 * time.Millisecond)
	if got = f.recorded(); !equal(got, []string{"post#2@"}) {
		t.Errorf("calls %v: episode 1's update and reply must be dropped, episode 2 posted", got)
	}
	if n, _, _ := h.store.OutboxDepth(h.ctx); n != 0 {
		t.Errorf("outbox still holds %d entries", n)
	}
}

func TestDispatchReclaimsFromDeadReplica(t *testing.T) {
	h := newHarness(t, app.EngineOptions{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	// A replica read the entry and died before delivering it.
	if dels, err := h.store.Receive(h.ctx, "dead-replica", 10, time.Millisecond); err != nil || len(dels) != 1 {
		t.Fatalf("Receive = %v, %v", dels, err)
	}
	f := &notifier{}
	runDispatcher(t, h, f, app.DispatcherOptions{Consumer: "alive", ClaimIdle: 60 * time.Millisecond})
	if got := waitFor(t, f, 1); !equal(got, []string{"post#1@"}) {
		t.Errorf("calls %v", got)
	}
}

func TestDispatchSkipsRepostAfterCrash(t *testing.T) {
	h := newHarness(t, app.EngineOptions{})
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
	runDispatcher(t, h, f, app.DispatcherOptions{})
	got := waitFor(t, f, 2)
	time.Sleep(50 * time.Millisecond)
	if got = f.recorded(); !equal(got, []string{"update#1@1700000000.000001", "reply#1@1700000000.000001"}) {
		t.Errorf("calls %v", got)
	}
}
