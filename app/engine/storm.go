package engine

import (
	"github.com/slabot/slabot/app"

	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxDigestMembers bounds one digest. A larger storm opens another digest,
// which keeps each message inside Slack's limits and each write small.
const maxDigestMembers = 100

// stormsOn reports whether alert storms are collected into digests.
func (e *Engine) stormsOn() bool { return e.opts.StormThreshold >= 2 }

// stormStep is the storm part of one change: the channels' storm records
// and the digests it reads and writes, each with its stored version, and
// the members it writes.
type stormStep struct {
	e        *Engine
	now      time.Time
	storms   map[string]*app.VersionedStorm
	digests  map[string]*app.VersionedDigest
	members  map[string][]app.DigestMember // by digest ID
	changedS []string                      // channels whose storm record changed, in order
	changedD []string                      // digests that changed, in order
	fresh    map[string]bool
}

// stormify applies the storm rules (issue 5) to c before it is committed,
// reading the storm records and digests it needs; the commit checks their
// versions, so replicas racing on one channel agree:
//   - a post that makes StormThreshold posts in its channel within
//     StormWindow joins the channel's digest (or opens one) instead;
//   - an alert standing in a digest has no message of its own: its
//     updates and replies become changes of its digest member;
//   - an episode that ends its digest membership (its snooze ended and it
//     is posted afresh) is marked so in the digest.
//
// It costs the same however large the digest: a digest's updates are
// rendered by the time-driven pass (advanceDigest), coalesced. It returns
// the alerts that joined a digest, which fired without a post.
func (e *Engine) stormify(ctx context.Context, c *app.Change, snap app.Snapshot, now time.Time) ([]app.Alert, error) {
	idx := make(map[string]int, len(c.Alerts))
	for i, w := range c.Alerts {
		idx[w.Alert.ID] = i
	}
	var channels []string
	digestIDs := memberDigests(*c, snap)
	for _, n := range c.Notifications {
		if e.stormable(n) {
			channels = appendNew(channels, n.Channel)
		}
	}
	if len(channels) == 0 && len(digestIDs) == 0 {
		return nil, nil
	}
	storms, digests, err := e.stormState(ctx, channels, digestIDs)
	if err != nil {
		return nil, fmt.Errorf("load storm state: %w", err)
	}
	s := &stormStep{e: e, now: now, storms: make(map[string]*app.VersionedStorm), digests: make(map[string]*app.VersionedDigest),
		members: make(map[string][]app.DigestMember), fresh: make(map[string]bool)}
	for k, v := range storms {
		s.storms[k] = &v
	}
	for k, v := range digests {
		s.digests[k] = &v
	}

	noted := make(map[string]bool, len(c.Notifications))
	for _, n := range c.Notifications {
		noted[n.Alert.ID] = true
	}
	for _, w := range c.Alerts {
		p := snap.Alerts[w.Alert.ID].Alert
		switch {
		case leftDigest(p, w.Alert):
			s.leave(p)
		case memberChanged(p, w.Alert, noted):
			s.absorb(p, w.Alert)
		}
	}
	var diverted []app.Alert
	notes := c.Notifications[:0:0]
	for _, n := range c.Notifications {
		i, ok := idx[n.Alert.ID]
		if !ok {
			notes = append(notes, n)
			continue
		}
		a := &c.Alerts[i].Alert
		switch {
		case a.Digest != "" && n.Kind != app.KindPost:
			continue // shown by its digest
		case e.stormable(n) && s.divert(a, n.Channel):
			c.Alerts[i].Due = e.due(*a, snap, now)
			diverted = append(diverted, *a)
			continue
		}
		notes = append(notes, n)
	}
	c.Notifications = notes

	for _, ch := range s.changedS {
		vs := s.storms[ch]
		c.Storms = append(c.Storms, app.StormWrite{Storm: vs.Storm, Version: vs.Version})
	}
	for _, id := range s.changedD {
		vd := s.digests[id]
		d := &vd.Digest
		d.Dirty = true
		if s.fresh[id] {
			d.Members = s.members[id]
			c.Notifications = append(c.Notifications, e.settleDigest(d, now, true)...)
			d.Members = nil
		}
		c.Digests = append(c.Digests, app.DigestWrite{Digest: *d, Version: vd.Version, Members: s.members[id], Due: e.digestDue(*d, now)})
	}
	return diverted, nil
}

// stormState returns the storm records of channels, the digests named and
// each channel's latest digest: from the cache where it has them (the
// caller holds the channels' locks, so within this process they are
// current; the commit checks their versions against other replicas), else
// read from the store.
func (e *Engine) stormState(ctx context.Context, channels, digestIDs []string) (map[string]app.VersionedStorm, map[string]app.VersionedDigest, error) {
	storms, digests, missC, missD := e.cache.stormState(channels, digestIDs)
	if len(missC)+len(missD) == 0 {
		return storms, digests, nil
	}
	ls, ld, err := e.store.Storms(ctx, missC, missD)
	if err != nil {
		return nil, nil, err
	}
	e.cache.stormsLoaded(missC, ls, ld)
	maps.Copy(storms, ls)
	maps.Copy(digests, ld)
	return storms, digests, nil
}

// leftDigest reports whether the episode of prior that a digest stood for
// is no longer a's: a new episode began (or the digest changed).
func leftDigest(prior, a app.Alert) bool {
	return prior.Digest != "" && (prior.Digest != a.Digest || prior.Episode != a.Episode)
}

// stormable reports whether n is a post that may join a digest.
func (e *Engine) stormable(n app.Notification) bool {
	return e.stormsOn() && n.Kind == app.KindPost && app.ValidChannel(n.Channel)
}

func appendNew(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

func (s *stormStep) storm(channel string) *app.VersionedStorm {
	vs, ok := s.storms[channel]
	if !ok {
		vs = &app.VersionedStorm{Storm: app.Storm{Channel: channel}}
		s.storms[channel] = vs
	}
	if !slices.Contains(s.changedS, channel) {
		s.changedS = append(s.changedS, channel)
	}
	return vs
}

// digest is the digest id as loaded (or made in this step); nil if gone.
func (s *stormStep) digest(id string) *app.Digest {
	if vd, ok := s.digests[id]; ok {
		return &vd.Digest
	}
	return nil
}

// write records m as a member of d in this step.
func (s *stormStep) write(d *app.Digest, m app.DigestMember) {
	if !slices.Contains(s.changedD, d.ID) {
		s.changedD = append(s.changedD, d.ID)
	}
	ms := s.members[d.ID]
	if i := slices.IndexFunc(ms, func(x app.DigestMember) bool { return x.AlertID == m.AlertID && x.Episode == m.Episode }); i >= 0 {
		ms[i] = m
		return
	}
	s.members[d.ID] = append(ms, m)
}

// divert decides whether alert a, about to post in channel, joins a
// digest instead, and records the would-be post either way.
func (s *stormStep) divert(a *app.Alert, channel string) bool {
	e, now := s.e, s.now
	vs := s.storm(channel)
	st := &vs.Storm
	recent := st.Recent[:0:0]
	for _, t := range st.Recent {
		if now.Sub(t) < e.opts.StormWindow {
			recent = append(recent, t)
		}
	}
	storm := len(recent)+1 >= e.opts.StormThreshold
	recent = append(recent, now)
	if keep := e.opts.StormThreshold - 1; len(recent) > keep {
		recent = recent[len(recent)-keep:]
	}
	st.Recent = recent
	if !storm {
		return false
	}
	var d *app.Digest
	if st.Digest > 0 && now.Before(st.JoinUntil) {
		if d = s.digest(app.DigestID(channel, st.Digest)); d != nil && (d.Closed() || d.Size >= maxDigestMembers) {
			d = nil
		}
	}
	if d == nil {
		st.Digest++
		id := app.DigestID(channel, st.Digest)
		s.digests[id] = &app.VersionedDigest{Digest: app.Digest{ID: id, Channel: channel, Seq: st.Digest, OpenedAt: now}}
		s.fresh[id] = true
		d = s.digest(id)
	}
	st.JoinUntil = now.Add(e.opts.StormWindow)
	a.Digest, a.RemindAt = d.ID, time.Time{}
	d.Size++
	d.Open++
	s.write(d, app.MemberOf(*a))
	return true
}

// absorb shows a member alert's change (from prior) in its digest.
func (s *stormStep) absorb(prior, a app.Alert) {
	d := s.digest(a.Digest)
	if d == nil {
		return // the digest is gone (expired): nothing left to show it in
	}
	if prior.Digest == a.Digest && prior.Episode == a.Episode && prior.State.Open() != a.State.Open() {
		if a.State.Open() {
			d.Open++
		} else {
			d.Open--
		}
	}
	s.write(d, app.MemberOf(a))
}

// leave marks the digest member of p's episode as no longer spoken for by
// the digest: the episode's snooze ended and it was posted afresh.
func (s *stormStep) leave(p app.Alert) {
	d := s.digest(p.Digest)
	if d == nil || !p.State.Open() {
		return // gone, or its end was already counted
	}
	m := app.MemberOf(p)
	m.Moved = true
	d.Open--
	s.write(d, m)
}

// settleDigest returns the notifications a digest owes, d.Members loaded:
// its post when fresh; its last update and a thread reply once no member
// is open; else an update, coalesced to one per DigestEvery.
func (e *Engine) settleDigest(d *app.Digest, now time.Time, fresh bool) []app.Notification {
	switch {
	case fresh:
		d.NotifiedAt, d.Dirty = now, false
		if e.opts.RemindAfter > 0 {
			d.RemindAt = now.Add(e.opts.RemindAfter)
		}
		return []app.Notification{digestNote(app.KindDigestPost, *d, "", now)}
	case d.Open <= 0 && !d.Closed():
		d.ClosedAt, d.NotifiedAt, d.Dirty, d.RemindAt = now, now, false, time.Time{}
		return []app.Notification{digestNote(app.KindDigestUpdate, *d, "", now), digestNote(app.KindDigestReply, *d, "resolved", now)}
	case d.Dirty && !now.Before(d.NotifiedAt.Add(e.opts.DigestEvery)):
		d.NotifiedAt, d.Dirty = now, false
		return []app.Notification{digestNote(app.KindDigestUpdate, *d, "", now)}
	}
	return nil
}

// digestNote is a digest notification carrying a snapshot of d.
func digestNote(k app.NotificationKind, d app.Digest, reason string, now time.Time) app.Notification {
	d.Members = slices.Clone(d.Members)
	app.SortMembers(d.Members)
	return app.Notification{Kind: k, Channel: d.Channel, Digest: &d, Reason: reason, At: now}
}

// digestDue is when the time-driven pass must next look at d: at once
// when its last member closed, when its coalesced update is owed, or at
// its next reminder.
func (e *Engine) digestDue(d app.Digest, now time.Time) time.Time {
	if d.Open <= 0 && !d.Closed() {
		return now
	}
	var next time.Time
	if d.Dirty {
		next = d.NotifiedAt.Add(e.opts.DigestEvery)
	}
	if !d.Closed() && !d.RemindAt.IsZero() && (next.IsZero() || d.RemindAt.Before(next)) {
		next = d.RemindAt
	}
	return next
}

// memberDigests are the digests whose members c changes: the digest an
// open episode left, and the digest of a member that changed in a way its
// digest shows.
func memberDigests(c app.Change, snap app.Snapshot) []string {
	var ids []string
	var noted map[string]bool
	for _, w := range c.Alerts {
		p := snap.Alerts[w.Alert.ID].Alert
		if p.Digest == "" && w.Alert.Digest == "" {
			continue
		}
		if noted == nil {
			noted = make(map[string]bool, len(c.Notifications))
			for _, n := range c.Notifications {
				noted[n.Alert.ID] = true
			}
		}
		switch {
		case leftDigest(p, w.Alert):
			if p.State.Open() { // else its end was already counted
				ids = appendNew(ids, p.Digest)
			}
		case memberChanged(p, w.Alert, noted):
			ids = appendNew(ids, w.Alert.Digest)
		}
	}
	return ids
}

// memberChanged reports whether a, standing in a digest, changed in a way
// the digest shows: it has a notification (which the digest shows
// instead), or it opened or closed.
func memberChanged(prior, a app.Alert, noted map[string]bool) bool {
	return a.Digest != "" && (noted[a.ID] || prior.State.Open() != a.State.Open())
}

// stormChannels are the channels whose storm state committing c changes:
// those of its posts that may join a digest, and those of the digests
// whose members it changes. A change with none (most updates of an alert
// standing in a digest) is committed without the channels' locks.
func (e *Engine) stormChannels(c app.Change, snap app.Snapshot) []string {
	var out []string
	for _, id := range memberDigests(c, snap) {
		if ch, _, err := app.ParseDigestID(id); err == nil {
			out = appendNew(out, ch)
		}
	}
	for _, n := range c.Notifications {
		if e.stormable(n) {
			out = appendNew(out, n.Channel)
		}
	}
	return out
}

// commitChange applies the storm rules to c and commits it. It returns the
// change as committed and the alerts that joined a digest.
//
// A change that touches storm state is committed under this process's
// locks of its channels, and in a storm many wait for them. So it is
// committed by whichever waiter gets the locks next, together with every
// other change waiting for the same channels, in one pipeline
// (commitStorms): a storm costs a round trip per lock holder, not per alert.
func (e *Engine) commitChange(ctx context.Context, c app.Change, snap app.Snapshot, now time.Time) (app.Change, []app.Alert, error) {
	chs := e.stormChannels(c, snap)
	if len(chs) == 0 {
		return c, nil, e.commitStore(ctx, c)
	}
	req := &stormRequest{change: c, snap: snap, now: now}
	e.commitStormRequests(ctx, chs, req)
	return req.change, req.diverted, req.err
}

// commitStormRequests queues rs, storm changes of channels chs, takes the
// channels' locks and commits everything queued for them, rs included
// unless a holder before did. When it returns, every request in rs is
// served: by this holder, or by one that finished before releasing the
// locks this one then took.
func (e *Engine) commitStormRequests(ctx context.Context, chs []string, rs ...*stormRequest) {
	chs = slices.Clone(chs)
	slices.Sort(chs)
	chs = slices.Compact(chs)
	key := strings.Join(chs, ",")
	e.waiting.add(key, rs...)
	unlock := e.locks.lock(chs)
	defer unlock()
	if batch := e.waiting.take(key); len(batch) > 0 {
		e.commitStorms(ctx, batch)
	}
}

// stormRequest is a storm change waiting for its channels' locks, and
// what became of it.
type stormRequest struct {
	change   app.Change
	snap     app.Snapshot
	now      time.Time
	diverted []app.Alert
	err      error
}

// stormWaiters are the storm changes waiting for each set of channels.
type stormWaiters struct {
	mu sync.Mutex
	m  map[string][]*stormRequest
}

func (w *stormWaiters) add(key string, rs ...*stormRequest) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[string][]*stormRequest)
	}
	w.m[key] = append(w.m[key], rs...)
}

func (w *stormWaiters) take(key string) []*stormRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	rs := w.m[key]
	delete(w.m, key)
	return rs
}

// commitStorms commits storm changes whose channels' locks the caller
// holds, in one pipeline. They build on each other, in order: each is
// evaluated on the storm state the ones before it leave, cached ahead of
// the commit. That is safe because the channels stay locked until the
// pipeline has run, and whatever fails is dropped from the cache: the
// changes after it then fail their version checks too (their callers
// evaluate them again, as after any lost race).
func (e *Engine) commitStorms(ctx context.Context, rs []*stormRequest) {
	// The changes are other callers' too: one caller giving up must not
	// fail them (the store's timeouts bound the work).
	ctx = context.WithoutCancel(ctx)
	cs := make([]app.Change, 0, len(rs))
	var pending []*stormRequest
	for _, r := range rs {
		if r.diverted, r.err = e.stormify(ctx, &r.change, r.snap, r.now); r.err != nil {
			continue
		}
		e.cache.stormsCommitted(r.change)
		cs, pending = append(cs, r.change), append(pending, r)
	}
	if len(cs) == 0 {
		return
	}
	var errs []error
	if len(cs) == 1 {
		errs = []error{e.store.Commit(ctx, cs[0])}
	} else {
		errs = e.store.CommitMany(ctx, cs)
	}
	failed := slices.ContainsFunc(errs, func(err error) bool { return err != nil })
	for i, r := range pending {
		switch r.err = errs[i]; {
		case failed:
			e.cache.forget(r.change) // its cached storm state is a guess built on what failed
		case r.change.QueueID != "":
			e.cache.forgetQueue(r.change.QueueID)
		}
	}
}
