package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/slabot/slabot/handlers"
)

// Webhooks cannot grow the known queues past QueueLimits.Max: a body
// naming new queues beyond it answers 400 (and logs why), while events
// about queues already known still pass. With Watch set, events about
// other queues are ignored (issue 14, finding 7).
func TestWebhookQueueLimits(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))
	e := newHostileEnvWith(t, handlers.WebhookAuth{Token: "tok"}, func(d *handlers.Deps) {
		d.QueueLimits = handlers.QueueLimits{Max: 5}
		d.Logger = log
	})
	auth := map[string]string{"Authorization": "Bearer tok"}
	batch := func(from, to int) string {
		var parts []string
		for i := from; i < to; i++ {
			parts = append(parts, string(hostileEvent(fmt.Sprintf("cap-%d-%d", from, i), fmt.Sprintf("cap-q%d", i), "Q", 10)))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	if got, answer := e.send(t, strings.NewReader(batch(0, 4)), auth); got != http.StatusOK {
		t.Fatalf("4 queues: %d %v", got, answer)
	}
	got, answer := e.send(t, strings.NewReader(batch(4, 6)), auth)
	if msg, _ := answer["error"].(string); got != http.StatusBadRequest || !strings.Contains(msg, "SLABOT_MAX_QUEUES") {
		t.Fatalf("2 more queues past a cap of 5: %d %v; want 400 naming SLABOT_MAX_QUEUES", got, answer)
	}
	if e.known(t, "cap-q4") || e.known(t, "cap-q5") {
		t.Error("a refused body created queues")
	}
	mu.Lock()
	logged := logs.String()
	mu.Unlock()
	if !strings.Contains(logged, "beyond the cap of known queues") {
		t.Errorf("no log line for the refusal:\n%s", logged)
	}
	// Known queues still report, and the one slot left is usable.
	if got, answer := e.send(t, strings.NewReader(batch(0, 5)), auth); got != http.StatusOK {
		t.Errorf("4 known queues and 1 new: %d %v; want 200", got, answer)
	}
	if got, _ := e.send(t, strings.NewReader(string(hostileEvent("cap-late", "cap-q9", "Q", 10))), auth); got != http.StatusBadRequest {
		t.Errorf("a 6th queue: %d; want 400", got)
	}

	t.Run("GENESYS_QUEUES", func(t *testing.T) {
		w := newHostileEnvWith(t, handlers.WebhookAuth{Token: "tok"}, func(d *handlers.Deps) {
			d.QueueLimits = handlers.QueueLimits{Max: 100, Watch: []string{"Support", "watch-id-1"}}
		})
		for _, tt := range []struct {
			queue, name, status string
		}{
			{"watch-id-1", "", "processed"},
			{"WATCH-ID-1", "", "processed"},
			{"watch-q2", "support", "processed"},
			{"watch-q3", "Billing", "ignored"},
			{"watch-q4", "", "ignored"},
		} {
			got, answer := w.send(t, strings.NewReader(string(hostileEvent("w-"+tt.queue, tt.queue, tt.name, 10))), auth)
			if got != http.StatusOK || answer["status"] != tt.status {
				t.Errorf("queue %s named %q: %d %v; want %s", tt.queue, tt.name, got, answer, tt.status)
			}
			if known := w.known(t, tt.queue); known != (tt.status == "processed") {
				t.Errorf("queue %s known: %v", tt.queue, known)
			}
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// countingDir counts the gate's lookups of which queues are new.
type countingDir struct {
	handlers.QueueDirectory
	lookups atomic.Int64
}

func (c *countingDir) QueuesKnown(ctx context.Context, ids []string) ([]bool, error) {
	c.lookups.Add(1)
	return c.QueueDirectory.QueuesKnown(ctx, ids)
}

// Far below the cap, webhooks about the same queues cost no lookup, however
// many there are: each queue counts once towards the estimate.
func TestWebhookQueueCapCostsNothingBelowIt(t *testing.T) {
	var dir *countingDir
	e := newHostileEnvWith(t, handlers.WebhookAuth{Token: "tok"}, func(d *handlers.Deps) {
		d.QueueLimits = handlers.QueueLimits{Max: 10}
		dir = &countingDir{QueueDirectory: d.Queues}
		d.Queues = dir
	})
	auth := map[string]string{"Authorization": "Bearer tok"}
	for i := range 30 {
		body := hostileEvent(fmt.Sprintf("same-%d", i), fmt.Sprintf("same-q%d", i%3), "Q", 10)
		if got, answer := e.send(t, bytes.NewReader(body), auth); got != http.StatusOK {
			t.Fatalf("event %d: %d %v", i, got, answer)
		}
	}
	if n := dir.lookups.Load(); n != 0 {
		t.Errorf("30 events about 3 queues, cap 10: %d lookups of which queues are new, want 0", n)
	}
}
