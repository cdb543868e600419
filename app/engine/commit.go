package engine

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slabot/slabot/app"
)

// pending is a decided change on its way to the store, and what became of
// it.
type pending struct {
	change app.Change
	snap   app.Snapshot // what change was decided on
	now    time.Time
	// latest are the queue's latest values once change is committed
	// (events only), for the cache.
	latest map[string]float64
	// storms is the storm state change touches (storms.go).
	storms stormKeys

	// Set by commit: the change as committed (the storm rules may have
	// folded its posts into digests), the alerts that joined a digest
	// instead of posting, and the store's answer.
	diverted []app.Alert
	err      error
}

// maxAttempts bounds compare-and-set retries; losing this many races in a
// row means something is badly wrong and the caller should retry later.
// Storms make races likely: every post in a channel updates its storm
// record, so many queues breaching at once contend for it.
const maxAttempts = 16

// backoff waits a little before the next compare-and-set attempt, longer
// and at random after each lost race, so that contenders spread out.
func backoff(ctx context.Context, attempt int) {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 5))))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// commit takes each change of ps to the store and records the answer in
// it. Changes that touch no storm state (most) go first, together, so that
// none of them waits for a channel lock; the others go through the storm
// rules under their channels' locks (commitStorms).
//
// The cache follows every answer: a failed change's entries are dropped,
// since any of them may be what moved; a committed change's queue is
// dropped too (settle caches an event's queue again, as committed).
func (e *Engine) commit(ctx context.Context, ps ...*pending) {
	var plain, stormy []*pending
	var channels []string
	for _, p := range ps {
		if p.storms.none() {
			plain = append(plain, p)
			continue
		}
		stormy, channels = append(stormy, p), append(channels, p.storms.lockChannels()...)
	}
	e.commitPlain(ctx, plain)
	if len(stormy) > 0 {
		e.storms.commit(ctx, e, channels, stormy)
	}
}

// commitOne commits one change (an action's, the time-driven pass's) as
// commit does, and returns it as committed and the alerts that joined a
// digest.
func (e *Engine) commitOne(ctx context.Context, c app.Change, snap app.Snapshot, now time.Time) (app.Change, []app.Alert, error) {
	p := &pending{change: c, snap: snap, now: now, storms: e.stormKeys(c, snap)}
	e.commit(ctx, p)
	return p.change, p.diverted, p.err
}

// commitState commits a change that decides nothing of alerts: a snooze,
// a route, a digest's own step.
func (e *Engine) commitState(ctx context.Context, c app.Change) error {
	_, _, err := e.commitOne(ctx, c, app.Snapshot{}, e.clock.Now())
	return err
}

// commitPlain commits changes that touch no storm state: one alone shares
// a round trip with concurrent commits (Store.Commit), several go in one
// pipeline.
func (e *Engine) commitPlain(ctx context.Context, ps []*pending) {
	switch len(ps) {
	case 0:
		return
	case 1:
		ps[0].err = e.store.Commit(ctx, ps[0].change)
	default:
		cs := make([]app.Change, len(ps))
		for i, p := range ps {
			cs[i] = p.change
		}
		for i, err := range e.store.CommitMany(ctx, cs) {
			ps[i].err = err
		}
	}
	for _, p := range ps {
		e.cache.answered(p.change, p.err)
	}
}

// stormCommits orders this engine's commits that touch storm state. Every
// post in a storm updates its channel's storm record, so such commits are
// made under this process's locks of their channels (across replicas the
// versions keep them correct; within one, the locks keep them from losing
// races to each other). In a storm many wait for the same locks: whichever
// waiter gets them next commits everything queued for them in one
// pipeline, so a storm costs a round trip per lock holder, not per alert.
type stormCommits struct {
	locks keyLocks
	mu    sync.Mutex
	// waiting are the changes waiting for each set of channels.
	waiting map[string][]*pending
}

// commit queues ps, changes that touch storm state on channels, takes the
// channels' locks and commits everything queued for them, ps included
// unless a holder before did. When it returns, every change in ps is
// answered: by this holder, or by one that finished before releasing the
// locks this one then took.
func (s *stormCommits) commit(ctx context.Context, e *Engine, channels []string, ps []*pending) {
	channels = slices.Clone(channels)
	slices.Sort(channels)
	channels = slices.Compact(channels)
	key := strings.Join(channels, ",")
	s.mu.Lock()
	if s.waiting == nil {
		s.waiting = make(map[string][]*pending)
	}
	s.waiting[key] = append(s.waiting[key], ps...)
	s.mu.Unlock()

	defer s.locks.lock(channels)()
	s.mu.Lock()
	batch := s.waiting[key]
	delete(s.waiting, key)
	s.mu.Unlock()
	if len(batch) > 0 {
		e.commitStorms(ctx, batch)
	}
}

// commitStorms commits storm changes whose channels' locks the caller
// holds, in one pipeline. They build on each other, in order: each goes
// through the storm rules on the storm state the ones before it leave,
// cached ahead of the commit. That is safe because the channels stay
// locked until the pipeline has run, and whatever fails is dropped from
// the cache: the changes after it then fail their version checks too
// (their callers evaluate them again, as after any lost race).
func (e *Engine) commitStorms(ctx context.Context, ps []*pending) {
	// The changes are other callers' too: one caller giving up must not
	// fail them (the store's timeouts bound the work).
	ctx = context.WithoutCancel(ctx)
	var grouped []*pending
	for _, p := range ps {
		state, err := e.stormState(ctx, p.storms)
		if err != nil {
			p.err = fmt.Errorf("load storm state: %w", err)
			continue
		}
		p.diverted = e.group(&p.change, p.snap, state, p.now)
		e.cache.stormsCommitted(p.change)
		grouped = append(grouped, p)
	}
	if len(grouped) == 0 {
		return
	}
	var errs []error
	if len(grouped) == 1 {
		errs = []error{e.store.Commit(ctx, grouped[0].change)}
	} else {
		cs := make([]app.Change, len(grouped))
		for i, p := range grouped {
			cs[i] = p.change
		}
		errs = e.store.CommitMany(ctx, cs)
	}
	failed := slices.ContainsFunc(errs, func(err error) bool { return err != nil })
	for i, p := range grouped {
		switch p.err = errs[i]; {
		case failed:
			e.cache.forget(p.change) // its cached storm state is a guess built on what failed
		case p.change.QueueID != "":
			e.cache.forgetQueue(p.change.QueueID) // its storm state is cached already
		}
	}
}

// stormState returns the storm records of k's channels, the digests named
// and each channel's latest digest: from the cache where it has them (the
// caller holds the channels' locks, so within this process they are
// current; the commit checks their versions against other replicas), else
// read from the store.
func (e *Engine) stormState(ctx context.Context, k stormKeys) (stormState, error) {
	storms, digests, missC, missD := e.cache.stormState(k.channels, k.digests)
	if len(missC)+len(missD) > 0 {
		ls, ld, err := e.store.Storms(ctx, missC, missD)
		if err != nil {
			return stormState{}, err
		}
		e.cache.stormsLoaded(missC, ls, ld)
		maps.Copy(storms, ls)
		maps.Copy(digests, ld)
	}
	return stormState{storms: storms, digests: digests}, nil
}
