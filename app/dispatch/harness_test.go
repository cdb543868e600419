package dispatch_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// The dispatcher's tests feed it what the engine really enqueues: an
// engine on a real Redis makes the posts, updates and replies.

func newClock() *app.ManualClock {
	return app.NewManualClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
}

const queue = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"

// harness is an engine on a real Redis whose outbox the tests dispatch.
type harness struct {
	t      *testing.T
	ctx    context.Context
	store  *store.Redis
	clock  *app.ManualClock
	engine *engine.Engine
	seq    int
}

func newHarness(t *testing.T, opts engine.Options) *harness {
	t.Helper()
	st, err := store.New(context.Background(), redistest.URL(t), store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := newClock()
	if opts.Channel == "" {
		opts.Channel = "C1"
	}
	return &harness{t: t, ctx: context.Background(), store: st, clock: c, engine: engine.New(st, c, opts)}
}

func (h *harness) set(queueID string, m app.Metric, v float64, d time.Duration) {
	h.t.Helper()
	if err := h.store.SetThreshold(h.ctx, app.Threshold{QueueID: queueID, Metric: m, Value: v, For: d}); err != nil {
		h.t.Fatal(err)
	}
}

// observe ingests one observation as a new event.
func (h *harness) observe(media string, m app.Metric, v float64) {
	h.t.Helper()
	h.seq++
	_, err := h.engine.Ingest(h.ctx, app.Event{Key: fmt.Sprintf("ev-%d", h.seq), QueueID: queue, QueueName: "Support",
		Observations: []app.Observation{{QueueID: queue, MediaType: media, Metric: m, Value: v}}})
	if err != nil {
		h.t.Fatal(err)
	}
}

func equal(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
