package engine

import (
	"slices"
	"sync"
)

// keyLocks serialises, within one process, work on the same keys: the
// events of one queue (so that concurrent requests about a queue wait for
// each other instead of losing compare-and-set races on its version), and
// the changes that touch a channel's storm state (every post in a storm
// updates the channel's storm record). Across replicas the versions
// checked by the commit keep them correct; within one, the locks keep
// them from wasting work. Queue locks are always taken before channel
// locks, never while holding one.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes the locks of keys (in sorted order, so that two holders
// never wait for each other) and returns the func that releases them.
func (l *keyLocks) lock(keys []string) (unlock func()) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	held := make([]*keyLock, 0, len(keys))
	for _, k := range keys {
		l.mu.Lock()
		if l.m == nil {
			l.m = make(map[string]*keyLock)
		}
		cl := l.m[k]
		if cl == nil {
			cl = &keyLock{}
			l.m[k] = cl
		}
		cl.refs++
		l.mu.Unlock()
		cl.mu.Lock()
		held = append(held, cl)
	}
	return func() {
		for i, cl := range held {
			cl.mu.Unlock()
			l.mu.Lock()
			if cl.refs--; cl.refs == 0 {
				delete(l.m, keys[i])
			}
			l.mu.Unlock()
		}
	}
}
