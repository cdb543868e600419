package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slabot/slabot/app"
)

// gateRefresh is how old the gate's count of known queues and its list
// of watched IDs may get before it reads them again.
const gateRefresh = 5 * time.Second

// queueGate bounds the queues webhooks create (QueueLimits). It keeps the
// count of known queues in memory, read again every gateRefresh, and adds
// to it every queue ID requests name for the first time since, as if each
// were new: only when that estimate would pass the cap does it ask Redis
// which are new. A webhook far below the cap costs no Redis call, however
// many requests name the same queues.
type queueGate struct {
	dir    QueueDirectory
	limits QueueLimits
	clock  app.Clock
	log    *slog.Logger

	watchIDs   map[string]bool // GENESYS_QUEUES entries, lower-cased
	watchNames map[string]bool // the same, as normalized names

	mu        sync.Mutex
	count     int             // known queues, an estimate from above
	countAt   time.Time       // when count was read from Redis
	counted   map[string]bool // IDs added to count since countAt
	watched   map[string]bool // IDs allowed, lower-cased: entries and IDs of named queues
	watchedAt time.Time
}

func newQueueGate(dir QueueDirectory, limits QueueLimits, clock app.Clock, log *slog.Logger) *queueGate {
	g := &queueGate{dir: dir, limits: limits, clock: clock, log: log}
	if len(limits.Watch) > 0 {
		g.watchIDs, g.watchNames = make(map[string]bool), make(map[string]bool)
		for _, w := range limits.Watch {
			g.watchIDs[strings.ToLower(w)] = true
			g.watchNames[normalName(w)] = true
		}
	}
	return g
}

func normalName(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// admit marks events about queues outside GENESYS_QUEUES as ignored, and
// refuses (app.ErrBadEvent) a body that would bring the known queues over
// the cap. Other errors mean Redis could not tell.
func (g *queueGate) admit(ctx context.Context, events []webhookEvent) error {
	if g.dir == nil {
		return nil
	}
	if g.watchIDs != nil {
		watched, err := g.watchedIDs(ctx)
		if err != nil {
			return err
		}
		for i, ev := range events {
			if ev.Ignored || watched[strings.ToLower(ev.Event.QueueID)] ||
				(ev.Event.QueueName != "" && g.watchNames[normalName(ev.Event.QueueName)]) {
				continue
			}
			events[i] = webhookEvent{Format: ev.Format, Ignored: true}
		}
	}
	if g.limits.Max <= 0 {
		return nil
	}
	var ids []string
	seen := make(map[string]bool)
	for _, ev := range events {
		if id := ev.Event.QueueID; !ev.Ignored && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return g.checkCap(ctx, ids)
}

// checkCap admits ids unless the known queues plus the new ones among ids
// exceed the cap.
func (g *queueGate) checkCap(ctx context.Context, ids []string) error {
	g.mu.Lock()
	stale := g.countAt.IsZero() || g.clock.Now().Sub(g.countAt) > gateRefresh
	g.mu.Unlock()
	if stale {
		n, err := g.dir.QueueCount(ctx)
		if err != nil {
			return fmt.Errorf("count known queues: %w", err)
		}
		g.mu.Lock()
		g.count, g.countAt, g.counted = n, g.clock.Now(), make(map[string]bool)
		g.mu.Unlock()
	}
	g.mu.Lock()
	var uncounted []string
	for _, id := range ids {
		if !g.counted[id] {
			uncounted = append(uncounted, id)
		}
	}
	if g.count+len(uncounted) <= g.limits.Max {
		g.count += len(uncounted)
		for _, id := range uncounted {
			g.counted[id] = true
		}
		g.mu.Unlock()
		return nil
	}
	g.mu.Unlock()

	// Near the cap: ask which are new, and how many are known now.
	known, err := g.dir.QueuesKnown(ctx, ids)
	if err != nil {
		return fmt.Errorf("look up queues: %w", err)
	}
	var fresh []string
	for i, k := range known {
		if !k {
			fresh = append(fresh, ids[i])
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	n, err := g.dir.QueueCount(ctx)
	if err != nil {
		return fmt.Errorf("count known queues: %w", err)
	}
	g.mu.Lock()
	g.count, g.countAt = n, g.clock.Now()
	if n+len(fresh) <= g.limits.Max {
		g.count += len(fresh)
		g.mu.Unlock()
		return nil
	}
	g.mu.Unlock()
	g.log.Warn("webhook refused: it names new queues beyond the cap of known queues (SLABOT_MAX_QUEUES)",
		"max_queues", g.limits.Max, "known_queues", n, "new_queues", len(fresh), "queue_id", clipArg(fresh[0]))
	return fmt.Errorf("%w: %d new queue IDs (such as %.64q) would make more than %d known queues; raise SLABOT_MAX_QUEUES if they are real",
		app.ErrBadEvent, len(fresh), fresh[0], g.limits.Max)
}

// watchedIDs returns the queue IDs webhooks may report on: the
// GENESYS_QUEUES entries themselves, and the IDs of known queues whose
// names they list, read again every gateRefresh.
func (g *queueGate) watchedIDs(ctx context.Context) (map[string]bool, error) {
	g.mu.Lock()
	if w := g.watched; w != nil && g.clock.Now().Sub(g.watchedAt) <= gateRefresh {
		g.mu.Unlock()
		return w, nil
	}
	g.mu.Unlock()
	known, err := g.dir.KnownQueues(ctx)
	if err != nil {
		return nil, fmt.Errorf("known queues: %w", err)
	}
	w := make(map[string]bool, len(g.watchIDs))
	for id := range g.watchIDs {
		w[id] = true
	}
	for id, name := range known {
		if name != "" && g.watchNames[normalName(name)] {
			w[strings.ToLower(id)] = true
		}
	}
	g.mu.Lock()
	g.watched, g.watchedAt = w, g.clock.Now()
	g.mu.Unlock()
	return w, nil
}
