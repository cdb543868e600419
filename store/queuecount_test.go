package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/store/redistest"
)

// QueueCount and QueuesKnown see the queues the directory and events made
// known, and nothing else: the webhook's cap on new queues relies on them.
func TestQueueCount(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, redistest.URL(t), redistest.Prefix(t))
	if n, err := s.QueueCount(ctx); err != nil || n != 0 {
		t.Fatalf("empty: %d, %v", n, err)
	}
	if err := s.SaveQueues(ctx, []app.QueueInfo{{ID: "qa", Name: "A"}, {ID: "qb", Name: ""}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.QueueCount(ctx); err != nil || n != 2 {
		t.Errorf("QueueCount = %d, %v; want 2", n, err)
	}
	known, err := s.QueuesKnown(ctx, []string{"qa", "qx", "qb"})
	if err != nil || fmt.Sprint(known) != "[true false true]" {
		t.Errorf("QueuesKnown = %v, %v; want [true false true]", known, err)
	}
}
