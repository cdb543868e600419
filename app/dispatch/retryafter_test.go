package dispatch_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/app/engine"
)

// TestDispatchWaitsOutRetryAfter: after a 429 asking for 30 s, the next
// attempt comes no earlier than 30 s later on the dispatcher's clock,
// although the first backoff is 1 s. The clock is the test's: it steps a
// second at a time, and each call records the clock's time, so the check
// holds however slowly the machine runs the dispatcher.
func TestDispatchWaitsOutRetryAfter(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	clock := newClock()
	start := clock.Now()

	var mu sync.Mutex
	var at []time.Time
	f := &notifier{
		called: func(app.Notification) {
			mu.Lock()
			at = append(at, clock.Now())
			mu.Unlock()
		},
		fail: func(_ app.Notification, call int) error {
			if call == 1 {
				return &dispatch.DeliveryError{Err: errors.New("slack: ratelimited"), Retry: true, After: 30 * time.Second}
			}
			return nil
		},
	}
	calls := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(at)
	}
	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen; calls at %v", what, at)
			}
		}
	}
	run(t, dispatch.New(h.store, f, clock, dispatch.Options{Pace: time.Millisecond, IdleWait: 5 * time.Millisecond}))
	waitUntil("the first attempt", func() bool { return calls() >= 1 })
	for clock.Now().Sub(start) < 45*time.Second && calls() < 2 {
		clock.Advance(time.Second)
		time.Sleep(10 * time.Millisecond) // lets the dispatcher look at this second; the check below needs no margin
	}
	waitUntil("the second attempt", func() bool { return calls() >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if wait := at[1].Sub(start); wait < 30*time.Second {
		t.Errorf("second attempt %s after the 429, want no earlier than its Retry-After (30s)", wait)
	}
	if got := f.recorded(); !equal(got, []string{"post#1@"}) {
		t.Errorf("delivered %v, want the post once", got)
	}
}
