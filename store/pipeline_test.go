package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store/redistest"
)

// gateHook holds the first pipeline until the gate opens, and counts them.
type gateHook struct {
	gate      chan struct{}
	once      sync.Once
	pipelines atomic.Int64
}

func (h *gateHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *gateHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *gateHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.once.Do(func() { <-h.gate })
		h.pipelines.Add(1)
		return next(ctx, cmds)
	}
}

// Concurrent commits share round trips, and each still gets its own answer.
func TestCommitQueue(t *testing.T) {
	ctx := context.Background()
	r, err := New(ctx, redistest.URL(t), Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for q := range 10 { // queues q-0…q-9 have seen ev-0
		if err := r.Commit(ctx, app.Change{QueueID: fmt.Sprintf("q-%d", q), EventKey: "ev-0"}); err != nil {
			t.Fatal(err)
		}
	}
	hook := &gateHook{gate: make(chan struct{})}
	r.rdb.AddHook(hook)

	const n = 30
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := app.Change{QueueID: fmt.Sprintf("q-%d", i), EventKey: "ev-1"}
			switch {
			case i < 10:
				c.EventKey = "ev-0" // a replay
			case i < 20:
				c.Expect = &app.Versions{Queue: 5} // a stale snapshot: q-10… were never committed
			}
			errs[i] = r.Commit(ctx, c)
		})
	}
	for {
		r.commits.mu.Lock()
		queued := len(r.commits.waiting)
		r.commits.mu.Unlock()
		if queued == n-1 { // one in flight (held by the hook), the rest queued behind it
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(hook.gate)
	wg.Wait()
	for i, err := range errs {
		var want error
		switch {
		case i < 10:
			want = app.ErrDuplicate
		case i < 20:
			want = app.ErrConflict
		}
		if (want == nil && err != nil) || (want != nil && !errors.Is(err, want)) {
			t.Errorf("commit %d: %v, want %v", i, err, want)
		}
	}
	if got := hook.pipelines.Load(); got != 2 {
		t.Errorf("%d concurrent commits took %d round trips, want 2 (the first, then all that queued behind it)", n, got)
	}
}
