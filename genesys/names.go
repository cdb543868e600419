package genesys

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/slabot/slabot/app"
)

// NameFinder looks queue names up in the directory; *Client implements it.
type NameFinder interface {
	QueuesNamed(ctx context.Context, name string) ([]app.QueueInfo, error)
}

// Bounds of the name cache.
const (
	// DefaultNameTTL is how long a directory answer is reused: long
	// enough that a supervisor retrying a command, or a typo typed again,
	// costs no further call; short enough that a queue created in Genesys
	// Cloud a minute ago is found.
	DefaultNameTTL = time.Minute
	// maxCachedNames bounds the cache, whatever names people type.
	maxCachedNames = 256
)

// QueueNames answers QueuesNamed from a short-lived cache in front of a
// NameFinder. Only answers are cached, never failures, so a directory
// outage does not outlive itself. It is safe for concurrent use.
type QueueNames struct {
	src   NameFinder
	ttl   time.Duration
	clock app.Clock

	mu    sync.Mutex
	cache map[string]namedAnswer
}

type namedAnswer struct {
	queues []app.QueueInfo
	until  time.Time
}

// NewQueueNames caches src's answers for ttl (DefaultNameTTL when 0) by
// clock (the system clock when nil).
func NewQueueNames(src NameFinder, ttl time.Duration, clock app.Clock) *QueueNames {
	if ttl <= 0 {
		ttl = DefaultNameTTL
	}
	if clock == nil {
		clock = app.SystemClock{}
	}
	return &QueueNames{src: src, ttl: ttl, clock: clock, cache: make(map[string]namedAnswer)}
}

// QueuesNamed returns the directory's queues named name, from the cache
// when it answered for the same name (any case) within the TTL.
func (n *QueueNames) QueuesNamed(ctx context.Context, name string) ([]app.QueueInfo, error) {
	key := strings.ToLower(strings.Join(strings.Fields(name), " "))
	now := n.clock.Now()
	n.mu.Lock()
	a, ok := n.cache[key]
	n.mu.Unlock()
	if ok && now.Before(a.until) {
		return a.queues, nil
	}
	queues, err := n.src.QueuesNamed(ctx, name)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.cache) >= maxCachedNames {
		for k, a := range n.cache {
			if !now.Before(a.until) {
				delete(n.cache, k)
			}
		}
		if len(n.cache) >= maxCachedNames {
			clear(n.cache)
		}
	}
	n.cache[key] = namedAnswer{queues: queues, until: now.Add(n.ttl)}
	return queues, nil
}
