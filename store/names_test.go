package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store/redistest"
)

// NameQueue makes a queue known by its directory name, to the listings
// and to the engine's read of the queue, and refuses an ID that is none.
func TestNameQueue(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, redistest.URL(t), redistest.Prefix(t))
	const id = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"
	if err := s.NameQueue(ctx, id, "Support"); err != nil {
		t.Fatal(err)
	}
	known, err := s.KnownQueues(ctx)
	if err != nil || known[id] != "Support" || len(known) != 1 {
		t.Errorf("KnownQueues = %v, %v; want only %s: Support", known, err, id)
	}
	states, err := s.QueueStates(ctx, []string{id})
	if err != nil || len(states) != 1 || states[0].Name != "Support" {
		t.Errorf("QueueStates = %+v, %v; want the name Support", states, err)
	}
	if err := s.NameQueue(ctx, "no queue/id", "X"); !errors.Is(err, app.ErrBadEvent) {
		t.Errorf("NameQueue(bad id) = %v, want ErrBadEvent", err)
	}
	if n, _ := s.QueueCount(ctx); n != 1 {
		t.Errorf("a refused name changed the queue count to %d", n)
	}
}
