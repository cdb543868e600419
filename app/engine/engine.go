// Package engine turns observations, clicks, commands and the passing of
// time into alert changes, storms and digests, and commits them.
//
// The path of one event reads top to bottom, a file a step:
//
//   - engine.go: Ingest and IngestMany load each queue's snapshot (from
//     the cache of what this engine last committed, else the store);
//   - decide.go: the rules turn a snapshot and an observation into a
//     change (pure);
//   - storms.go: the storm rules fold the change's posts into digests on
//     the channels' storm state (pure);
//   - commit.go: the change goes to the store, under its channels' locks
//     when it touches storm state, grouped with the changes waiting for
//     the same locks;
//   - settle.go: the result is cached, logged and counted.
//
// Clicks, commands (actions.go) and the time-driven pass (tick.go) decide
// with the same rules and commit the same way.
package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/slabot/slabot/app"
)

// Storm digest defaults (issue 5): 5 or more alerts posting in one channel
// within 30 s are a storm. cmd applies them when STORM_THRESHOLD and
// STORM_WINDOW are unset.
const (
	DefaultStormThreshold = 5
	DefaultStormWindow    = 30 * time.Second
)

// Options configures an Engine. The zero value is usable: no default
// channel, 30 s update coalescing, the built-in default threshold, reminders
// and storm digests off.
type Options struct {
	// Channel receives alerts of queues without a route.
	Channel string
	// UpdateEvery bounds how often a breaching alert's message is updated.
	UpdateEvery time.Duration
	// RemindAfter is the reminder interval for unacknowledged alerts
	// (REMIND_AFTER); zero turns reminders off.
	RemindAfter time.Duration
	// StormThreshold is how many alerts posting in one channel within
	// StormWindow make a storm, which is collected in one digest message
	// instead of one message each (STORM_THRESHOLD, by default
	// DefaultStormThreshold). Below 2 (the zero value) digests are off.
	StormThreshold int
	// StormWindow is the storm's time span (STORM_WINDOW); zero means
	// DefaultStormWindow.
	StormWindow time.Duration
	// DigestEvery bounds how often a digest message is updated as its
	// members change; zero means 5 s.
	DigestEvery time.Duration
	// BuiltinDefault applies to queues with no threshold of that metric and
	// no stored default (DESIGN §4: default longest_wait 300s).
	BuiltinDefault *app.Threshold
	// DedupWindow is how long the store remembers event keys
	// (SLABOT_DEDUP_WINDOW). A keyed event sent longer ago, by its own
	// stamp, may be a replay the store no longer recognises: it is
	// ignored. Zero never ignores an event for its age.
	DedupWindow time.Duration
	// StaleAfter is the stale-data window: a rule change (threshold,
	// hours) acts at once on a queue's last known value only if it was
	// observed at most this long ago; an older one waits for the next
	// event. Zero means DefaultStaleAfter.
	StaleAfter time.Duration
	// Observer, when set, counts transitions (metrics).
	Observer TransitionObserver
	Logger   *slog.Logger
}

// TransitionObserver is told each alert transition: "fired", "updated",
// "resolved", "reminded", "acknowledged", "snoozed"…
type TransitionObserver interface {
	Transition(kind string)
}

// Engine evaluates observations against thresholds and records the
// resulting alert transitions and notifications. Any number of engines on
// one store act as one: every commit states the versions it was decided
// on, and the store refuses it if any moved.
type Engine struct {
	rules // what changes, given state and time
	store Store
	clock app.Clock
	log   *slog.Logger
	// cache is what this engine last committed, so that the next event of
	// a queue needs no read (cache.go).
	cache *stateCache
	// queueLocks serialise this engine's evaluations of one queue.
	queueLocks keyLocks
	// storms orders and groups the commits that touch storm state.
	storms stormCommits
}

// New returns an engine on store, taking time from clock.
func New(store Store, clock app.Clock, opts Options) *Engine {
	if opts.UpdateEvery <= 0 {
		opts.UpdateEvery = 30 * time.Second
	}
	if opts.StormWindow <= 0 {
		opts.StormWindow = DefaultStormWindow
	}
	if opts.DigestEvery <= 0 {
		opts.DigestEvery = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{rules: rules{opts: opts, zones: &app.Zones{}}, store: store, clock: clock, log: opts.Logger,
		cache: newStateCache()}
}

// Ingest evaluates one event's observations. It returns once every effect
// is durably recorded (or nothing is), so a Processed outcome never loses an
// alert. It is IngestMany of one event.
func (e *Engine) Ingest(ctx context.Context, ev app.Event) (app.Outcome, error) {
	out, err := e.IngestMany(ctx, []app.Event{ev})
	if err != nil {
		return "", err
	}
	return out[0], nil
}

// IngestMany evaluates a batch of events (a webhook's JSON array, a poll)
// with the guarantees of Ingest for each: every queue's events in order,
// each outcome durable once returned. It works in rounds, each taking the
// next event of every queue: the snapshots not cached are read in one
// round trip, and the commits of all queues go in one pipelined round
// trip, so a batch of many queues costs a few round trips instead of one
// or two per event.
//
// An event evaluated on a stale cached snapshot fails its commit's version
// check and is tried again on a fresh read, in the next round.
//
// It returns the outcomes in the order of evs, or the first error: events
// already recorded stay recorded and answer Duplicate when retried.
func (e *Engine) IngestMany(ctx context.Context, evs []app.Event) ([]app.Outcome, error) {
	out := make([]app.Outcome, len(evs))
	queued := make(map[string][]int) // indices of each queue's events still to do
	var queues []string
	now := e.clock.Now()
	for i, ev := range evs {
		if len(ev.Observations) == 0 || e.stale(ev, now) {
			out[i] = app.Ignored
			continue
		}
		if _, ok := queued[ev.QueueID]; !ok {
			queues = append(queues, ev.QueueID)
		}
		queued[ev.QueueID] = append(queued[ev.QueueID], i)
	}
	attempts := make(map[int]int)
	for len(queues) > 0 {
		heads := make([]int, len(queues))
		for k, q := range queues {
			heads[k] = queued[q][0]
		}
		done, err := e.ingestRound(ctx, evs, heads, out)
		if err != nil {
			return nil, err
		}
		next := queues[:0]
		raced := false
		for k, q := range queues {
			i := heads[k]
			if !done[k] {
				if attempts[i]++; attempts[i] >= maxAttempts {
					return nil, fmt.Errorf("ingest queue %s: %w after %d attempts", q, app.ErrConflict, maxAttempts)
				}
				raced = raced || attempts[i] > 1
				next = append(next, q)
				continue
			}
			if queued[q] = queued[q][1:]; len(queued[q]) > 0 {
				next = append(next, q)
			}
		}
		if raced {
			backoff(ctx, 1) // a second loss in a row is a real race, not a stale cache
		}
		queues = next
	}
	return out, nil
}

// stale reports whether ev is keyed and was sent longer ago than the
// store remembers keys: a replay of it could no longer be told from the
// first delivery, so it is not applied at all. Its observations are that
// old anyway; an event without a stamp is never stale.
func (e *Engine) stale(ev app.Event, now time.Time) bool {
	w := e.opts.DedupWindow
	if w <= 0 || ev.Key == "" || ev.SentAt.IsZero() || !ev.SentAt.Before(now.Add(-w)) {
		return false
	}
	e.log.Debug("stale event ignored", "queue_id", ev.QueueID, "sent_at", ev.SentAt, "dedup_window", w)
	return true
}

// ingestRound evaluates events evs[heads[k]], each of a different queue:
// load, decide, commit, settle. It reports which were settled (processed
// or duplicate); the others lost a race and are to be tried again.
func (e *Engine) ingestRound(ctx context.Context, evs []app.Event, heads []int, out []app.Outcome) ([]bool, error) {
	queues := make([]string, len(heads))
	for k, i := range heads {
		queues[k] = evs[i].QueueID
	}
	defer e.queueLocks.lock(queues)()
	snaps, err := e.snapshots(ctx, evs, heads)
	if err != nil {
		return nil, err
	}
	done := make([]bool, len(heads))
	now := e.clock.Now()
	var ps []*pending
	var at []int
	for k, i := range heads {
		if snaps[k].Seen {
			out[i], done[k] = app.Duplicate, true
			continue
		}
		if allOutdated(snaps[k], evs[i]) {
			out[i], done[k] = app.Ignored, true
			continue
		}
		c, latest := e.decide(snaps[k], evs[i], now)
		p := &pending{change: c, snap: snaps[k], now: now, latest: latest, storms: e.stormKeys(c, snaps[k])}
		ps, at = append(ps, p), append(at, k)
	}
	e.commit(ctx, ps...)
	for n, p := range ps {
		k := at[n]
		outcome, settled, err := e.settle(p)
		if err != nil {
			return nil, err
		}
		out[heads[k]], done[k] = outcome, settled
	}
	return done, nil
}

// snapshots are the snapshots of the events evs[heads[k]]: cached ones,
// and the others read in one round trip, each with the alerts already
// cached for its queue too (so that a queue whose events alternate media
// types stays cached). Those read whose event key is new are cached; a
// Seen snapshot means the event was already recorded.
func (e *Engine) snapshots(ctx context.Context, evs []app.Event, heads []int) ([]app.Snapshot, error) {
	snaps := make([]app.Snapshot, len(heads))
	now := e.clock.Now()
	var misses []int
	var reqs []app.LoadRequest
	for k, i := range heads {
		ids := eventAlertIDs(evs[i])
		var ok bool
		if snaps[k], ok = e.cache.snapshot(evs[i].QueueID, ids); !ok {
			ids = e.cache.cachedAlertIDs(evs[i].QueueID, ids)
			misses = append(misses, k)
			reqs = append(reqs, app.LoadRequest{QueueID: evs[i].QueueID, EventKey: evs[i].Key, AlertIDs: ids,
				EventSentAt: evs[i].SentAt, At: now})
		}
	}
	if len(reqs) == 0 {
		return snaps, nil
	}
	loaded, err := e.store.LoadMany(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("load %d queues: %w", len(reqs), err)
	}
	for n, k := range misses {
		if snaps[k] = loaded[n]; !snaps[k].Seen {
			snaps[k] = e.cache.loaded(reqs[n].QueueID, snaps[k], reqs[n].AlertIDs)
		}
	}
	return snaps, nil
}

// eventAlertIDs are the alerts an event's observations are about.
func eventAlertIDs(ev app.Event) []string {
	ids := make([]string, 0, len(ev.Observations))
	for _, o := range ev.Observations {
		ids = appendNew(ids, app.AlertID(ev.QueueID, o.MediaType, o.Metric))
	}
	return ids
}

func appendNew(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}
