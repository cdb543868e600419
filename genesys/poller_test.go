package genesys

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// memStore is an in-memory Directory and Lease; lease TTLs follow the
// injected clock.
type memStore struct {
	clock      app.Clock
	mu         sync.Mutex
	queues     []app.QueueInfo
	thresholds []app.Threshold
	saves      int
	holder     string
	expires    time.Time
}

func newMemStore(clock app.Clock) *memStore { return &memStore{clock: clock} }

func (s *memStore) SaveQueues(_ context.Context, queues []app.QueueInfo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queues = slices.Clone(queues)
	s.saves++
	return nil
}

func (s *memStore) Queues(context.Context) ([]app.QueueInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queues), nil
}

func (s *memStore) Thresholds(context.Context) ([]app.Threshold, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.thresholds), nil
}

func (s *memStore) AcquireLease(_ context.Context, name, holder string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != LeaseName {
		return false, errors.New("unexpected lease " + name)
	}
	now := s.clock.Now()
	if s.holder != "" && s.holder != holder && now.Before(s.expires) {
		return false, nil
	}
	s.holder, s.expires = holder, now.Add(ttl)
	return true, nil
}

func (s *memStore) ReleaseLease(_ context.Context, name, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder == holder {
		s.holder = ""
	}
	return nil
}

func (s *memStore) leaseHolder() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.clock.Now().Before(s.expires) {
		return ""
	}
	return s.holder
}

// recorder is an Ingester that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []app.Event
}

func (r *recorder) Ingest(_ context.Context, ev app.Event) (app.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return app.Processed, nil
}

func (r *recorder) take() []app.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// announcer records announcements; failing makes the next ones fail.
type announcer struct {
	mu      sync.Mutex
	texts   []string
	failing int
}

func (a *announcer) Announce(_ context.Context, text string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failing > 0 {
		a.failing--
		return errors.New("slack unavailable")
	}
	a.texts = append(a.texts, text)
	return nil
}

func (a *announcer) posted() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.texts)
}

// rig is one fake organisation with a poller's collaborators.
type rig struct {
	clock *app.ManualClock
	f     *fakeGenesys
	store *memStore
	in    *recorder
	ann   *announcer
	c     *Client
}

func newRig(t *testing.T) *rig {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	return &rig{clock: clock, f: f, store: newMemStore(clock), in: &recorder{}, ann: &announcer{}, c: f.client(t, nil)}
}

func (r *rig) poller(opts PollerOptions) *Poller {
	opts.Clock = r.clock
	if opts.Holder == "" {
		opts.Holder = "replica-a"
	}
	return NewPoller(r.c, PollerDeps{Ingester: r.in, Directory: r.store, Lease: r.store, Announcer: r.ann}, opts)
}

func TestPollerLongWaitNamesQueue(t *testing.T) {
	r := newRig(t)
	ids := r.f.addQueues(3)
	now := r.clock.Now()
	r.f.edit(func(f *fakeGenesys) {
		f.queues[1].Name = "Support"
		f.queues[1].Waiting = map[string][]time.Time{"voice": {now.Add(-7 * time.Minute), now.Add(-time.Minute)}}
	})
	threshold := app.Threshold{QueueID: ids[1], Metric: app.LongestWait, Value: 300}
	r.store.thresholds = []app.Threshold{threshold}
	// The client's clock runs 2 minutes slow: the wait follows the
	// server's Date header, not it.
	r.c.clock = offsetClock{r.clock, -2 * time.Minute}

	if err := r.poller(PollerOptions{}).Cycle(context.Background()); err != nil {
		t.Fatalf("Cycle: %v", err)
	}
	events := r.in.take()
	if len(events) != 1 {
		t.Fatalf("ingested %d events, want 1 (only the queue with a threshold): %+v", len(events), events)
	}
	ev := events[0]
	if ev.QueueID != ids[1] || ev.QueueName != "Support" || ev.Key != "" {
		t.Errorf("event = %+v, want queue %s named Support without a key", ev, ids[1])
	}
	wait, ok := obsValue(ev, "voice", app.LongestWait)
	if !ok || !near(wait, 420) {
		t.Errorf("longest wait = %v (present %v), want 420", wait, ok)
	}
	if !threshold.Breached(wait) {
		t.Errorf("longest wait %v does not breach %v", wait, threshold)
	}
	if got, _ := obsValue(ev, "voice", app.Waiting); got != 2 {
		t.Errorf("waiting = %v, want 2", got)
	}
	if r.store.saves != 1 || len(r.store.queues) != 3 {
		t.Errorf("directory saves = %d with %d queues, want 1 with 3", r.store.saves, len(r.store.queues))
	}
}

func TestPollerChoosesQueues(t *testing.T) {
	tests := []struct {
		name       string
		queues     []string
		thresholds []app.Threshold
		builtin    bool
		want       []int // indexes of fake queues
	}{
		{name: "nothing to watch"},
		{name: "queues with a threshold", thresholds: []app.Threshold{
			{QueueID: "00000000-0000-4000-8000-000000000001", Metric: app.Waiting, Value: 5},
			{QueueID: "00000000-0000-4000-8000-000000000003", Metric: app.LongestWait, Value: 60},
			{QueueID: "00000000-0000-4000-8000-000000000003", Metric: app.Waiting, Value: 9},
			{QueueID: "not-in-directory", Metric: app.Waiting, Value: 9},
		}, want: []int{1, 3}},
		{name: "default threshold watches all", thresholds: []app.Threshold{
			{QueueID: "00000000-0000-4000-8000-000000000001", Metric: app.Waiting, Value: 5},
			{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300},
		}, want: []int{0, 1, 2, 3}},
		{name: "built-in default watches all", builtin: true, want: []int{0, 1, 2, 3}},
		{name: "GENESYS_QUEUES by name, any case, and by ID",
			queues: []string{"queue 2", " QUEUE 0", "00000000-0000-4000-8000-000000000003", "Queue 2", "Nope"},
			thresholds: []app.Threshold{
				{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300},
			}, want: []int{2, 0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			ids := r.f.addQueues(4)
			r.store.thresholds = tt.thresholds
			err := r.poller(PollerOptions{Queues: tt.queues, BuiltinDefault: tt.builtin}).Cycle(context.Background())
			if err != nil {
				t.Fatalf("Cycle: %v", err)
			}
			var got []string
			for _, c := range r.f.callsTo(pathObservations) {
				got = append(got, c.Body.queueIDs()...)
			}
			var want []string
			for _, i := range tt.want {
				want = append(want, ids[i])
			}
			if !slices.Equal(got, want) {
				t.Errorf("polled %v, want %v", got, want)
			}
			for _, ev := range r.in.take() {
				if ev.QueueName == "" {
					t.Errorf("event for %s has no queue name", ev.QueueID)
				}
			}
		})
	}
}

func TestPollerLeaseFailover(t *testing.T) {
	r := newRig(t)
	r.f.addQueues(2)
	r.store.thresholds = []app.Threshold{{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}}
	a := r.poller(PollerOptions{Holder: "replica-a"})
	b := r.poller(PollerOptions{Holder: "replica-b"})
	ctx := context.Background()
	polls := func() int { return len(r.f.callsTo(pathObservations)) }

	t.Run("crashed holder: lease expires", func(t *testing.T) {
		mustCycle(t, a)
		mustCycle(t, b)
		if got := polls(); got != 1 {
			t.Fatalf("polls = %d after both cycled, want 1 (only the holder)", got)
		}
		// a stops without releasing. Within the TTL b still waits.
		r.clock.Advance(20 * time.Second)
		mustCycle(t, b)
		if got := polls(); got != 1 {
			t.Fatalf("polls = %d before the lease expired, want 1", got)
		}
		r.clock.Advance(11 * time.Second) // 31s > 3 intervals
		mustCycle(t, b)
		if got, holder := polls(), r.store.leaseHolder(); got != 2 || holder != "replica-b" {
			t.Fatalf("polls = %d, holder %q; want 2, replica-b", got, holder)
		}
		mustCycle(t, a) // a comes back: b holds the lease
		if got := polls(); got != 2 {
			t.Errorf("polls = %d after a returned, want 2", got)
		}
	})

	t.Run("stopped holder: Run releases the lease", func(t *testing.T) {
		c := r.poller(PollerOptions{Holder: "replica-c"})
		r.clock.Advance(31 * time.Second) // b's lease expires; c takes it
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Run(runCtx)
		}()
		waitFor(t, func() bool { return r.store.leaseHolder() == "replica-c" })
		stop()
		<-done
		if h := r.store.leaseHolder(); h != "" {
			t.Fatalf("lease held by %q after Run returned, want released", h)
		}
		before := polls()
		mustCycle(t, b) // no clock advance: the lease is free at once
		if got := polls(); got != before+1 || r.store.leaseHolder() != "replica-b" {
			t.Errorf("polls %d → %d, holder %q; want b to poll at once", before, got, r.store.leaseHolder())
		}
	})
}

func mustCycle(t *testing.T, p *Poller) {
	t.Helper()
	if err := p.Cycle(context.Background()); err != nil {
		t.Fatalf("Cycle(%s): %v", p.opts.Holder, err)
	}
}

// waitFor polls cond until it holds; it fails the test after a generous
// deadline rather than asserting any timing.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPollerStaleWarning(t *testing.T) {
	r := newRig(t)
	r.f.addQueues(2)
	r.store.thresholds = []app.Threshold{{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}}
	p := r.poller(PollerOptions{})
	ctx := context.Background()
	mustCycle(t, p)

	r.f.edit(func(f *fakeGenesys) {
		f.down[pathObservations] = fakeFail{Status: http.StatusBadGateway,
			Body: `{"message":"upstream <timeout> & retry","status":502}`}
	})
	for i := 1; i <= 6; i++ {
		r.clock.Advance(10 * time.Second)
		if err := p.Cycle(ctx); err == nil {
			t.Fatalf("failing cycle %d returned no error", i)
		}
		want := 0
		if i >= 3 {
			want = 1
		}
		if got := len(r.ann.posted()); got != want {
			t.Fatalf("after %d failed cycles: %d announcements, want %d", i, got, want)
		}
	}
	warning := r.ann.posted()[0]
	for _, want := range []string{"stale", "3 times", "HTTP 502", "upstream &lt;timeout&gt; &amp; retry"} {
		if !strings.Contains(warning, want) {
			t.Errorf("warning %q does not contain %q", warning, want)
		}
	}
	if strings.Contains(warning, r.f.secret) {
		t.Errorf("warning contains the secret")
	}

	r.f.edit(func(f *fakeGenesys) { delete(f.down, pathObservations) })
	r.ann.failing = 1 // the all-clear fails once and is retried
	for i := 1; i <= 3; i++ {
		r.clock.Advance(10 * time.Second)
		mustCycle(t, p)
	}
	posted := r.ann.posted()
	if len(posted) != 2 {
		t.Fatalf("announcements = %q, want one warning and one all-clear", posted)
	}
	if !strings.Contains(posted[1], "recovered") || !strings.Contains(posted[1], "1m 10s") {
		t.Errorf("all-clear = %q, want it to say recovered after 1m 10s", posted[1])
	}
}

func TestPollerStaleOnRateLimit(t *testing.T) {
	r := newRig(t)
	r.f.addQueues(1)
	r.store.thresholds = []app.Threshold{{QueueID: app.DefaultQueue, Metric: app.Waiting, Value: 3}}
	p := r.poller(PollerOptions{})
	r.f.edit(func(f *fakeGenesys) {
		f.script[pathObservations] = []fakeFail{{Status: http.StatusTooManyRequests, RetryAfter: "60"}}
	})
	for range 3 {
		if err := p.Cycle(context.Background()); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("Cycle err = %v, want ErrRateLimited", err)
		}
		r.clock.Advance(10 * time.Second)
	}
	if got := len(r.f.callsTo(pathObservations)); got != 1 {
		t.Errorf("observation requests = %d, want 1 (none during Retry-After)", got)
	}
	posted := r.ann.posted()
	if len(posted) != 1 || !strings.Contains(posted[0], "rate limited") {
		t.Errorf("announcements = %q, want one stale warning naming the rate limit", posted)
	}
}

func TestPollerZeroFillsVanishedMedia(t *testing.T) {
	r := newRig(t)
	ids := r.f.addQueues(1)
	r.store.thresholds = []app.Threshold{{QueueID: ids[0], Metric: app.Waiting, Value: 1}}
	now := r.clock.Now()
	r.f.edit(func(f *fakeGenesys) {
		f.queues[0].Waiting = map[string][]time.Time{"voice": {now.Add(-time.Minute), now}}
	})
	p := r.poller(PollerOptions{})
	mustCycle(t, p)
	r.in.take()
	// Nothing waits any more and the answer no longer mentions voice.
	r.f.edit(func(f *fakeGenesys) { f.queues[0].Waiting, f.queues[0].Media = nil, nil })
	r.clock.Advance(10 * time.Second)
	mustCycle(t, p)
	events := r.in.take()
	if len(events) != 1 {
		t.Fatalf("events = %+v", events)
	}
	for _, m := range []app.Metric{app.Waiting, app.LongestWait} {
		if got, ok := obsValue(events[0], "voice", m); !ok || got != 0 {
			t.Errorf("voice %s = %v (present %v), want 0", m, got, ok)
		}
	}
}

func TestPollerServiceLevelCadence(t *testing.T) {
	r := newRig(t)
	ids := r.f.addQueues(1)
	r.store.thresholds = []app.Threshold{{QueueID: ids[0], Metric: app.ServiceLevel, Value: 80}}
	r.f.edit(func(f *fakeGenesys) {
		f.queues[0].Agg = map[string]fakeAgg{"voice": {Offered: 10, Abandoned: 2, SLNum: 6, SLDen: 8}}
	})
	p := r.poller(PollerOptions{})
	var slEvents int
	for range 13 { // two minutes of 10-second cycles, and one more
		mustCycle(t, p)
		for _, ev := range r.in.take() {
			if _, ok := obsValue(ev, "voice", app.ServiceLevel); ok {
				slEvents++
				if ev.QueueName == "" {
					t.Errorf("service-level event without queue name")
				}
			}
		}
		r.clock.Advance(10 * time.Second)
	}
	if got := len(r.f.callsTo(pathAggregates)); got != 3 || slEvents != 3 {
		t.Errorf("aggregate queries = %d, service-level events = %d; want 3 each (at 0s, 60s, 120s)", got, slEvents)
	}
}
