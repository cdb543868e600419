package engine

import (
	"slices"
	"time"

	"github.com/slabot/slabot/app"
)

// maxDigestMembers bounds one digest. A larger storm opens another digest,
// which keeps each message inside Slack's limits and each write small.
const maxDigestMembers = 100

// stormKeys name the storm state a change touches: the channels of its
// posts that may join a digest, and the digests whose members it changes.
// Most changes touch none (an update of an alert standing in a digest
// that changes nothing the digest shows); they are committed without any
// channel lock.
type stormKeys struct {
	channels, digests []string
}

func (k stormKeys) none() bool { return len(k.channels) == 0 && len(k.digests) == 0 }

// lockChannels are the channels whose storm state committing the change
// may write: those it posts in and those of the digests it changes.
func (k stormKeys) lockChannels() []string {
	out := slices.Clone(k.channels)
	for _, id := range k.digests {
		if ch, _, err := app.ParseDigestID(id); err == nil {
			out = appendNew(out, ch)
		}
	}
	return out
}

// stormKeys is the storm state c, built on snap, touches.
func (r *rules) stormKeys(c app.Change, snap app.Snapshot) stormKeys {
	k := stormKeys{digests: memberDigests(c, snap)}
	for _, n := range c.Notifications {
		if r.stormable(n) {
			k.channels = appendNew(k.channels, n.Channel)
		}
	}
	return k
}

// stormState is the storm records of a change's channels and the digests
// it names (and each channel's latest), each with its stored version.
type stormState struct {
	storms  map[string]app.VersionedStorm
	digests map[string]app.VersionedDigest
}

// stormsOn reports whether alert storms are collected into digests.
func (r *rules) stormsOn() bool { return r.opts.StormThreshold >= 2 }

// stormable reports whether n is a post that may join a digest.
func (r *rules) stormable(n app.Notification) bool {
	return r.stormsOn() && n.Kind == app.KindPost && app.ValidChannel(n.Channel)
}

// stormStep is the storm part of one change: the channels' storm records
// and the digests it reads and writes, each with its stored version, and
// the members it writes.
type stormStep struct {
	r        *rules
	now      time.Time
	storms   map[string]*app.VersionedStorm
	digests  map[string]*app.VersionedDigest
	members  map[string][]app.DigestMember // by digest ID
	changedS []string                      // channels whose storm record changed, in order
	changedD []string                      // digests that changed, in order
	fresh    map[string]bool
}

// group applies the storm rules (issue 5) to c before it is committed, on
// the storm state of its keys (stormKeys); the commit checks their
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
func (r *rules) group(c *app.Change, snap app.Snapshot, state stormState, now time.Time) []app.Alert {
	idx := make(map[string]int, len(c.Alerts))
	for i, w := range c.Alerts {
		idx[w.Alert.ID] = i
	}
	s := &stormStep{r: r, now: now, storms: make(map[string]*app.VersionedStorm), digests: make(map[string]*app.VersionedDigest),
		members: make(map[string][]app.DigestMember), fresh: make(map[string]bool)}
	for k, v := range state.storms {
		s.storms[k] = &v
	}
	for k, v := range state.digests {
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
		case joinedStorm(p, w.Alert):
			s.join(w.Alert)
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
		case r.stormable(n) && s.divert(a, n.Channel):
			c.Alerts[i].Due = r.due(*a, snap, now)
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
			c.Notifications = append(c.Notifications, r.settleDigest(d, now, true)...)
			d.Members = nil
		}
		c.Digests = append(c.Digests, app.DigestWrite{Digest: *d, Version: vd.Version, Members: s.members[id], Due: r.digestDue(*d, now)})
	}
	return diverted
}

// leftDigest reports whether the episode of prior that a digest stood for
// (or counted as the storm's first) is no longer a's: a new episode began
// (or the digest changed).
func leftDigest(prior, a app.Alert) bool {
	d := app.StormOf(prior)
	return d != "" && (d != app.StormOf(a) || prior.Episode != a.Episode)
}

// joinedStorm reports whether a, posted on its own, was just linked to the
// digest of the storm it began (linkLeads).
func joinedStorm(prior, a app.Alert) bool {
	return a.Storm != "" && prior.Storm == "" && prior.Episode == a.Episode
}

// memberDigests are the digests whose members c changes: the digest an
// open episode left, and the digest of a member that changed in a way its
// digest shows.
func memberDigests(c app.Change, snap app.Snapshot) []string {
	var ids []string
	var noted map[string]bool
	for _, w := range c.Alerts {
		p := snap.Alerts[w.Alert.ID].Alert
		if app.StormOf(p) == "" && app.StormOf(w.Alert) == "" {
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
				ids = appendNew(ids, app.StormOf(p))
			}
		case joinedStorm(p, w.Alert):
			ids = appendNew(ids, w.Alert.Storm)
		case memberChanged(p, w.Alert, noted):
			ids = appendNew(ids, app.StormOf(w.Alert))
		}
	}
	return ids
}

// memberChanged reports whether a, standing in a digest (or one of its
// storm's first alerts), changed in a way the digest shows: it has a
// notification (which the digest shows instead, or beside the alert's
// own message), or it opened or closed.
func memberChanged(prior, a app.Alert, noted map[string]bool) bool {
	return app.StormOf(a) != "" && (noted[a.ID] || prior.State.Open() != a.State.Open())
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
	r, now := s.r, s.now
	vs := s.storm(channel)
	st := &vs.Storm
	recent := st.Recent[:0:0]
	for _, t := range st.Recent {
		if now.Sub(t) < r.opts.StormWindow {
			recent = append(recent, t)
		}
	}
	posts := st.Posts[:0:0]
	for _, p := range st.Posts {
		if now.Sub(p.At) < r.opts.StormWindow {
			posts = append(posts, p)
		}
	}
	keep := r.opts.StormThreshold - 1
	storm := len(recent)+1 >= r.opts.StormThreshold
	recent = append(recent, now)
	if len(recent) > keep {
		recent = recent[len(recent)-keep:]
	}
	st.Recent = recent
	if !storm {
		posts = append(posts, app.StormPost{At: now, AlertID: a.ID, Episode: a.Episode})
		if len(posts) > keep {
			posts = posts[len(posts)-keep:]
		}
		st.Posts = posts
		return false
	}
	st.Posts = nil // they begin this storm: its digest takes them as leads
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
	st.JoinUntil = now.Add(r.opts.StormWindow)
	if len(posts) > 0 {
		d.Leads = append(d.Leads, posts...)
		if !slices.Contains(s.changedD, d.ID) {
			s.changedD = append(s.changedD, d.ID)
		}
	}
	a.Digest, a.RemindAt = d.ID, time.Time{}
	d.Size++
	d.Open++
	s.write(d, app.MemberOf(*a))
	return true
}

// join makes a, one of its storm's first alerts just linked to the
// storm's digest, a member of it.
func (s *stormStep) join(a app.Alert) {
	d := s.digest(a.Storm)
	if d == nil {
		return // the digest is gone (expired): nothing left to show it in
	}
	d.Size++
	if a.State.Open() {
		d.Open++
	}
	s.write(d, app.MemberOf(a))
}

// absorb shows a member alert's change (from prior) in its digest.
func (s *stormStep) absorb(prior, a app.Alert) {
	d := s.digest(app.StormOf(a))
	if d == nil {
		return // the digest is gone (expired): nothing left to show it in
	}
	if app.StormOf(prior) == app.StormOf(a) && prior.Episode == a.Episode && prior.State.Open() != a.State.Open() {
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
	d := s.digest(app.StormOf(p))
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
func (r *rules) settleDigest(d *app.Digest, now time.Time, fresh bool) []app.Notification {
	switch {
	case fresh:
		d.NotifiedAt, d.Dirty = now, false
		if r.opts.RemindAfter > 0 {
			d.RemindAt = now.Add(r.opts.RemindAfter)
		}
		return []app.Notification{digestNote(app.KindDigestPost, *d, "", now)}
	case d.Open <= 0 && !d.Closed():
		d.ClosedAt, d.NotifiedAt, d.Dirty, d.RemindAt = now, now, false, time.Time{}
		return []app.Notification{digestNote(app.KindDigestUpdate, *d, "", now), digestNote(app.KindDigestReply, *d, "resolved", now)}
	case d.Dirty && !now.Before(d.NotifiedAt.Add(r.opts.DigestEvery)):
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
func (r *rules) digestDue(d app.Digest, now time.Time) time.Time {
	if (d.Open <= 0 || len(d.Leads) > 0) && !d.Closed() {
		return now // its end, or its first alerts to link (advanceDigest)
	}
	var next time.Time
	if d.Dirty {
		next = d.NotifiedAt.Add(r.opts.DigestEvery)
	}
	if !d.Closed() && !d.RemindAt.IsZero() && (next.IsZero() || d.RemindAt.Before(next)) {
		next = d.RemindAt
	}
	return next
}
