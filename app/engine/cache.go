package engine

import (
	"maps"
	"sync"
	"time"

	"github.com/slabot/slabot/app"
)

// Cache sizes. A queue's snapshot is about 2 KB, so the snapshot cache
// stays under 10 MB however many queues Genesys reports; queues beyond it
// cost a read before their commit, as every queue did without the cache.
const (
	maxCachedQueues  = 4096
	maxCachedStorms  = 1024
	maxCachedDigests = 1024
)

// stateCache holds what this engine last committed, or read, of queues,
// channel storm records and digests, so that evaluating the next event
// needs no read. It is only ever a guess: every commit built on it states
// the versions it assumed (Change.Expect, AlertWrite.Version,
// StormWrite.Version, DigestWrite.Version) and fails with ErrConflict if
// another replica, a button click or the time-driven pass moved any of
// them; the engine then drops the entries and reads them afresh.
//
// Entries are immutable once stored: a hit hands out maps that callers
// must not change (apply and stormify copy before they write).
type stateCache struct {
	mu      sync.Mutex
	queues  map[string]app.Snapshot
	storms  map[string]app.VersionedStorm
	digests map[string]app.VersionedDigest
}

func newStateCache() *stateCache {
	return &stateCache{queues: make(map[string]app.Snapshot), storms: make(map[string]app.VersionedStorm),
		digests: make(map[string]app.VersionedDigest)}
}

// snapshot returns the cached snapshot of queueID if it holds every alert
// in alertIDs (an absent alert is held with version 0).
func (c *stateCache) snapshot(queueID string, alertIDs []string) (app.Snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.queues[queueID]
	if !ok {
		return app.Snapshot{}, false
	}
	for _, id := range alertIDs {
		if _, ok := s.Alerts[id]; !ok {
			return app.Snapshot{}, false
		}
	}
	return s, true
}

// cachedAlertIDs adds to ids the alerts cached for queueID, so that a read
// after a miss keeps them.
func (c *stateCache) cachedAlertIDs(queueID string, ids []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.queues[queueID].Alerts {
		ids = appendNew(ids, id)
	}
	return ids
}

// loaded caches a snapshot read from the store for alertIDs, holding
// those absent with version 0, and returns it as cached.
func (c *stateCache) loaded(queueID string, s app.Snapshot, alertIDs []string) app.Snapshot {
	if s.Alerts == nil {
		s.Alerts = make(map[string]app.VersionedAlert, len(alertIDs))
	}
	for _, id := range alertIDs {
		if _, ok := s.Alerts[id]; !ok {
			s.Alerts[id] = app.VersionedAlert{}
		}
	}
	s.Seen = false
	if queueID != app.DefaultQueue { // its version is both Versions: not worth the special case
		c.putQueue(queueID, s)
	}
	return s
}

func (c *stateCache) putQueue(queueID string, s app.Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	evictOne(c.queues, queueID, maxCachedQueues)
	c.queues[queueID] = s
}

// stormState returns the cached storm records of channels and digests
// named, and the channels and digests not cached.
func (c *stateCache) stormState(channels, digestIDs []string) (storms map[string]app.VersionedStorm, digests map[string]app.VersionedDigest, missC, missD []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	storms, digests = make(map[string]app.VersionedStorm, len(channels)), make(map[string]app.VersionedDigest, len(digestIDs)+1)
	for _, ch := range channels {
		vs, ok := c.storms[ch]
		if !ok {
			missC = append(missC, ch)
			continue
		}
		storms[ch] = vs
		if vs.Storm.Digest > 0 {
			digestIDs = appendNew(digestIDs, app.DigestID(ch, vs.Storm.Digest))
		}
	}
	for _, id := range digestIDs {
		if vd, ok := c.digests[id]; ok {
			digests[id] = vd
		} else {
			missD = append(missD, id)
		}
	}
	return storms, digests, missC, missD
}

// stormsLoaded caches storm records read for channels (absent ones with
// version 0) and the digests read.
func (c *stateCache) stormsLoaded(channels []string, storms map[string]app.VersionedStorm, digests map[string]app.VersionedDigest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range channels {
		vs, ok := storms[ch]
		if !ok {
			vs = app.VersionedStorm{Storm: app.Storm{Channel: ch}}
		}
		evictOne(c.storms, ch, maxCachedStorms)
		c.storms[ch] = vs
	}
	for id, vd := range digests {
		vd.Digest.Members = nil
		evictOne(c.digests, id, maxCachedDigests)
		c.digests[id] = vd
	}
}

// answered keeps the cache true to the store's answer to ch: what ch
// wrote of storms and digests is cached and its queue's snapshot dropped
// (an event's caller caches it again, as committed); after a failure
// everything ch was built on is dropped, since any of it may be what moved.
func (c *stateCache) answered(ch app.Change, err error) {
	if err != nil {
		c.forget(ch)
		return
	}
	c.stormsCommitted(ch)
	if ch.QueueID != "" {
		c.forgetQueue(ch.QueueID)
	}
}

// stormsCommitted caches the storm records and digests ch wrote.
func (c *stateCache) stormsCommitted(ch app.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range ch.Storms {
		evictOne(c.storms, w.Storm.Channel, maxCachedStorms)
		c.storms[w.Storm.Channel] = app.VersionedStorm{Storm: w.Storm, Version: w.Version + 1}
	}
	for _, w := range ch.Digests {
		d := w.Digest
		d.Members = nil
		evictOne(c.digests, d.ID, maxCachedDigests)
		c.digests[d.ID] = app.VersionedDigest{Digest: d, Version: w.Version + 1}
	}
}

func (c *stateCache) forgetQueue(queueID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.queues, queueID)
}

// forget drops every entry ch was built on: after a failed commit any of
// them may be stale.
func (c *stateCache) forget(ch app.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.queues, ch.QueueID)
	for _, w := range ch.Storms {
		delete(c.storms, w.Storm.Channel)
	}
	for _, w := range ch.Digests {
		delete(c.digests, w.Digest.ID)
		if channel, _, err := app.ParseDigestID(w.Digest.ID); err == nil {
			delete(c.storms, channel)
		}
	}
}

// committed caches the state of a queue after ch, committed on snap:
// latest are its latest values after ch.
func (c *stateCache) committed(snap app.Snapshot, ch app.Change, latest map[string]float64) {
	if ch.QueueID == app.DefaultQueue || ch.Snooze != nil || ch.Route != nil || ch.Hours != nil {
		c.forgetQueue(ch.QueueID)
		return
	}
	next := snap
	next.Seen = false
	next.Versions.Queue++
	next.Queue.Known = true
	next.Queue.Latest = latest
	if !ch.ObservedAt.IsZero() {
		at := make(map[string]time.Time, len(snap.Queue.LatestAt)+len(ch.Latest))
		maps.Copy(at, snap.Queue.LatestAt)
		for k := range ch.Latest {
			at[k] = ch.ObservedAt
		}
		next.Queue.LatestAt = at
	}
	if ch.QueueName != "" {
		next.Queue.Name = ch.QueueName
	}
	next.Alerts = make(map[string]app.VersionedAlert, len(snap.Alerts)+len(ch.Alerts))
	maps.Copy(next.Alerts, snap.Alerts)
	for _, w := range ch.Alerts {
		next.Alerts[w.Alert.ID] = app.VersionedAlert{Alert: w.Alert, Version: w.Version + 1}
	}
	c.putQueue(ch.QueueID, next)
}

// evictOne makes room for key in m, which holds at most limit entries,
// by dropping an arbitrary other entry (map iteration order is random
// enough for a cache whose misses cost one read).
func evictOne[V any](m map[string]V, key string, limit int) {
	if _, ok := m[key]; ok || len(m) < limit {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}
