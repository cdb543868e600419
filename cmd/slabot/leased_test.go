package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// Time-driven work runs on one replica at a time, and moves to another
// when the holder stops.
func TestRunLeasedOneHolderAndFailover(t *testing.T) {
	st, err := store.New(context.Background(), redistest.URL(t), store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ran [2]atomic.Int64
	var ctxs [2]context.CancelFunc
	var wg sync.WaitGroup
	for i := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		ctxs[i] = cancel
		wg.Go(func() {
			runLeased(ctx, st, "tick", []string{"a", "b"}[i], 10*time.Millisecond, func(context.Context) error {
				ran[i].Add(1)
				return nil
			}, slog.New(slog.DiscardHandler))
		})
	}
	time.Sleep(300 * time.Millisecond)
	a, b := ran[0].Load(), ran[1].Load()
	if (a == 0) == (b == 0) {
		t.Fatalf("runs a=%d b=%d: want exactly one replica running", a, b)
	}
	holder, other := 0, 1
	if b > 0 {
		holder, other = 1, 0
	}
	ctxs[holder]() // the holder stops and releases its lease
	before := ran[other].Load()
	time.Sleep(300 * time.Millisecond)
	if ran[other].Load() == before {
		t.Error("the lease did not move to the other replica")
	}
	ctxs[other]()
	wg.Wait()
}
