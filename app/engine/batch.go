package engine

import (
	"github.com/slabot/slabot/app"

	"context"
	"errors"
	"fmt"
	"time"
)

// IngestMany evaluates a batch of events (a webhook's JSON array, a poll)
// with the guarantees of Ingest for each: every queue's events in order,
// each outcome durable once returned. It works in rounds, each taking the
// next event of every queue: the snapshots not cached are read in one
// round trip, and the commits of all queues go in one pipelined round
// trip, so a batch of many queues costs a few round trips instead of one
// or two per event. Changes that touch storm state are evaluated one
// after the other on the state the previous ones leave, under their
// channels' locks, as Ingest does.
//
// It returns the outcomes in the order of evs, or the first error: events
// already recorded stay recorded and answer Duplicate when retried.
func (e *Engine) IngestMany(ctx context.Context, evs []app.Event) ([]app.Outcome, error) {
	out := make([]app.Outcome, len(evs))
	queued := make(map[string][]int) // indices of each queue's events still to do
	var queues []string
	for i, ev := range evs {
		if len(ev.Observations) == 0 {
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

// ingestRound evaluates events evs[heads[k]], each of a different queue,
// and reports which were settled (processed or duplicate); the others
// lost a race and are to be tried again.
func (e *Engine) ingestRound(ctx context.Context, evs []app.Event, heads []int, out []app.Outcome) ([]bool, error) {
	queues := make([]string, len(heads))
	for k, i := range heads {
		queues[k] = evs[i].QueueID
	}
	defer e.queueLocks.lock(queues)()
	done := make([]bool, len(heads))
	snaps := make([]app.Snapshot, len(heads))
	var misses []int
	var reqs []app.LoadRequest
	for k, i := range heads {
		ids := eventAlertIDs(evs[i])
		var ok bool
		if snaps[k], ok = e.cache.snapshot(evs[i].QueueID, ids); !ok {
			misses = append(misses, k)
			reqs = append(reqs, app.LoadRequest{QueueID: evs[i].QueueID, EventKey: evs[i].Key, AlertIDs: ids})
		}
	}
	if len(reqs) > 0 {
		loaded, err := e.load(ctx, reqs)
		if err != nil {
			return nil, err
		}
		for n, k := range misses {
			if snaps[k] = loaded[n]; snaps[k].Seen {
				out[heads[k]], done[k] = app.Duplicate, true
			}
		}
	}

	now := e.clock.Now()
	var plain, stormy batchPart
	var channels []string
	for k, i := range heads {
		if done[k] {
			continue
		}
		c := e.change(snaps[k], evs[i], now)
		part := &plain
		if chs := e.stormChannels(c, snaps[k]); len(chs) > 0 {
			part, channels = &stormy, append(channels, chs...)
		}
		part.changes, part.at = append(part.changes, c), append(part.at, k)
	}
	// The plain changes go first, in one pipeline, so that none waits for
	// the storm changes' channel locks.
	if err := e.commitPart(ctx, &plain, snaps, heads, out, done); err != nil {
		return nil, err
	}
	if len(stormy.changes) == 0 {
		return done, nil
	}
	return done, e.commitStormPart(ctx, &stormy, channels, snaps, heads, out, done, now)
}

// batchPart is some of the changes of a round, each with the index (in
// heads) of its event.
type batchPart struct {
	changes []app.Change
	at      []int
}

// commitStormPart commits the storm changes of a round, with whatever
// else waits for their channels, in one pipeline (commitStormRequests),
// and settles their events.
func (e *Engine) commitStormPart(ctx context.Context, p *batchPart, channels []string, snaps []app.Snapshot, heads []int, out []app.Outcome, done []bool, now time.Time) error {
	rs := make([]*stormRequest, len(p.changes))
	for n, c := range p.changes {
		rs[n] = &stormRequest{change: c, snap: snaps[p.at[n]], now: now}
	}
	e.commitStormRequests(ctx, channels, rs...)
	for n, k := range p.at {
		r := rs[n]
		if r.err == nil {
			e.logCommitted(r.change, r.diverted)
		}
		settled, err := e.settle(snaps[k], r.change, r.err, &out[heads[k]])
		if err != nil {
			return err
		}
		done[k] = settled
	}
	return nil
}

// commitPart commits p's changes in one pipeline and settles their events.
func (e *Engine) commitPart(ctx context.Context, p *batchPart, snaps []app.Snapshot, heads []int, out []app.Outcome, done []bool) error {
	if len(p.changes) == 0 {
		return nil
	}
	errs := e.store.CommitMany(ctx, p.changes)
	for n, k := range p.at {
		c, err := p.changes[n], errs[n]
		if err != nil {
			e.cache.forget(c)
		} else {
			e.logCommitted(c, nil)
		}
		settled, err := e.settle(snaps[k], c, err, &out[heads[k]])
		if err != nil {
			return err
		}
		done[k] = settled
	}
	return nil
}

// settle records the result of committing c (built on snap) in out, and
// reports whether the event is settled; a lost race is not, an error is
// returned.
func (e *Engine) settle(snap app.Snapshot, c app.Change, err error, out *app.Outcome) (bool, error) {
	switch {
	case err == nil:
		e.cache.committed(snap, c)
		*out = app.Processed
		return true, nil
	case errors.Is(err, app.ErrDuplicate):
		*out = app.Duplicate
		return true, nil
	case errors.Is(err, app.ErrConflict):
		return false, nil
	}
	return false, fmt.Errorf("commit queue %s: %w", c.QueueID, err)
}
