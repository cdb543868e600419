package genesys

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestQueuesNamed: the directory is asked by name, loose matches of
// Genesys Cloud's filter are dropped, and QueueNames reuses an answer
// within its TTL only, never a failure.
func TestQueuesNamed(t *testing.T) {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	ids := f.addQueues(3)
	f.edit(func(f *fakeGenesys) {
		f.queue(ids[0]).Name = "Support"
		f.queue(ids[1]).Name = "Support EU"
		f.queue(ids[2]).Name = "*Support*"
	})
	c := f.client(t, nil)
	ctx := context.Background()

	got, err := c.QueuesNamed(ctx, "  support ")
	if err != nil {
		t.Fatalf("QueuesNamed: %v", err)
	}
	if len(got) != 1 || got[0].ID != ids[0] || got[0].Name != "Support" {
		t.Fatalf("QueuesNamed(support) = %+v, want only %s Support", got, ids[0])
	}
	if calls := f.callsTo(pathQueues); len(calls) != 1 || !strings.Contains(calls[0].Query, "name=support") {
		t.Fatalf("directory calls = %+v, want one with name=support", calls)
	}
	// A name with asterisks is a wildcard to Genesys Cloud: only the queue
	// of that very name is kept.
	if got, err := c.QueuesNamed(ctx, "*Support*"); err != nil || len(got) != 1 || got[0].ID != ids[2] {
		t.Fatalf("QueuesNamed(*Support*) = %+v, %v; want only %s", got, err, ids[2])
	}

	names := NewQueueNames(c, time.Minute, clock)
	before := len(f.callsTo(pathQueues))
	for range 3 {
		if got, err := names.QueuesNamed(ctx, "SUPPORT"); err != nil || len(got) != 1 || got[0].ID != ids[0] {
			t.Fatalf("cached QueuesNamed = %+v, %v", got, err)
		}
	}
	if n := len(f.callsTo(pathQueues)) - before; n != 1 {
		t.Errorf("three lookups within the TTL made %d directory calls, want 1", n)
	}
	clock.Advance(time.Minute)
	if _, err := names.QueuesNamed(ctx, "support"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.callsTo(pathQueues)) - before; n != 2 {
		t.Errorf("a lookup after the TTL made %d calls in all, want 2", n)
	}

	// A failure is not cached: the next lookup asks again.
	f.edit(func(f *fakeGenesys) { f.down[pathQueues] = fakeFail{Status: http.StatusServiceUnavailable} })
	if _, err := names.QueuesNamed(ctx, "Billing"); err == nil {
		t.Fatal("lookup during an outage did not fail")
	}
	f.edit(func(f *fakeGenesys) { delete(f.down, pathQueues) })
	if got, err = names.QueuesNamed(ctx, "Billing"); err != nil || len(got) != 0 {
		t.Errorf("after the outage: %+v, %v; want no queue and no error", got, err)
	}
}
