package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// Time-driven work runs on one replica at a time, and moves to another
// when the holder stops. The lease lives 2 s (five 400 ms ticks) and the
// holder renews it every tick, so only a holder stalled for 1.6 s would
// lose it: the test checks who runs and in what order, never how fast.
func TestRunLeasedOneHolderAndFailover(t *testing.T) {
	const interval = 400 * time.Millisecond // the lease is 5 × interval
	st, err := store.New(context.Background(), redistest.URL(t), store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var (
		ran    [2]atomic.Int64
		cancel [2]context.CancelFunc
		exited [2]chan struct{}
	)
	for i := range 2 {
		ctx, stop := context.WithCancel(context.Background())
		cancel[i], exited[i] = stop, make(chan struct{})
		go func() {
			defer close(exited[i])
			runLeased(ctx, st, "tick", []string{"a", "b"}[i], interval, func(context.Context) error {
				ran[i].Add(1)
				return nil
			}, slog.New(slog.DiscardHandler))
		}()
	}
	defer func() {
		for i := range 2 {
			cancel[i]()
			<-exited[i]
		}
	}()
	// waitFor polls until cond holds; a generous deadline only bounds a
	// broken lease.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("runs a=%d b=%d after 30 s: want %s", ran[0].Load(), ran[1].Load(), what)
			}
		}
	}
	waitFor("a first run", func() bool { return ran[0].Load()+ran[1].Load() > 0 })
	holder, other := 0, 1
	if ran[1].Load() > 0 {
		holder, other = 1, 0
	}
	// Three more runs of the holder: the other ticked as often and found
	// the lease taken every time.
	three := ran[holder].Load() + 3
	waitFor("three more runs of the holder", func() bool { return ran[holder].Load() >= three })
	if a, b := ran[0].Load(), ran[1].Load(); ran[other].Load() != 0 {
		t.Fatalf("runs a=%d b=%d: want exactly one replica running", a, b)
	}
	cancel[holder]() // the holder stops and releases its lease
	<-exited[holder]
	stopped := ran[holder].Load()
	waitFor("the other replica running", func() bool { return ran[other].Load() >= 2 })
	if got := ran[holder].Load(); got != stopped {
		t.Errorf("the stopped holder ran %d times after it stopped", got-stopped)
	}
}
