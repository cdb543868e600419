package genesys

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// chunkRig is a fake organisation of 250 queues (three observation chunks),
// every one with voice aggregates, watched through the built-in default.
type chunkRig struct {
	*rig
	ids    []string
	pauses []time.Duration
	p      *Poller
}

func newChunkRig(t *testing.T) *chunkRig {
	t.Helper()
	r := &chunkRig{rig: newRig(t)}
	r.ids = r.f.addQueues(250)
	r.f.edit(func(f *fakeGenesys) {
		for _, q := range f.queues {
			q.Agg = map[string]fakeAgg{"voice": {Offered: 40, SLNum: 30, SLDen: 40}}
		}
	})
	// Pauses move the fake clock instead of waiting.
	r.p = r.poller(PollerOptions{BuiltinDefault: true, Sleep: func(_ context.Context, d time.Duration) error {
		r.pauses = append(r.pauses, d)
		r.clock.Advance(d)
		return nil
	}})
	return r
}

// chunk returns the queue IDs of observation chunk n (1-based).
func (r *chunkRig) chunk(n int) []string {
	return r.ids[(n-1)*maxPredicates : min(n*maxPredicates, len(r.ids))]
}

// observed returns the queues the engine got observations for (events with
// agents on queue) and those it got service levels for, since last asked.
func (r *chunkRig) observed() (obs, sl map[string]bool) {
	obs, sl = map[string]bool{}, map[string]bool{}
	for _, ev := range r.in.take() {
		if _, ok := obsValue(ev, "", app.Agents); ok {
			obs[ev.QueueID] = true
		}
		if _, ok := obsValue(ev, "voice", app.ServiceLevel); ok {
			sl[ev.QueueID] = true
		}
	}
	return obs, sl
}

// polledChunks names the chunks of the observation requests from the
// from-th on, in order ("2" for a request with chunk 2's queues).
func (r *chunkRig) polledChunks(from int) []int {
	var out []int
	for _, c := range r.f.callsTo(pathObservations)[from:] {
		ids := c.Body.queueIDs()
		for n := 1; n <= 3; n++ {
			if slices.Equal(ids, r.chunk(n)) {
				out = append(out, n)
			}
		}
	}
	return out
}

func missing(ids []string, got map[string]bool) int {
	n := 0
	for _, id := range ids {
		if !got[id] {
			n++
		}
	}
	return n
}

// TestPollerRateLimitMidCycle: a 429 on chunk 2 no longer ends the cycle
// for good. A short Retry-After pauses the cycle and it carries on; a long
// one ends it, and the next cycle starts at the chunk it could not reach,
// so even when the next cycle is rate-limited too every chunk is reached
// within two cycles.
func TestPollerRateLimitMidCycle(t *testing.T) {
	t.Run("Retry-After within the interval: pause and carry on", func(t *testing.T) {
		r := newChunkRig(t)
		r.f.failCall(pathObservations, 2, fakeFail{Status: http.StatusTooManyRequests, RetryAfter: "4"})
		if err := r.p.Cycle(context.Background()); err != nil {
			t.Fatalf("Cycle: %v, want the pause to absorb the 429", err)
		}
		if !slices.Equal(r.pauses, []time.Duration{4 * time.Second}) {
			t.Errorf("pauses = %v, want one of 4s", r.pauses)
		}
		if got := r.polledChunks(0); !slices.Equal(got, []int{1, 2, 2, 3}) {
			t.Errorf("observation requests by chunk = %v, want 1, 2 (429), 2, 3", got)
		}
		obs, sl := r.observed()
		if n := missing(r.ids, obs); n != 0 {
			t.Errorf("%d queues without observations after the cycle", n)
		}
		if n := missing(r.ids, sl); n != 0 {
			t.Errorf("%d queues without service levels after the cycle", n)
		}
	})

	t.Run("Retry-After beyond the interval: the next cycle starts where this one stopped", func(t *testing.T) {
		r := newChunkRig(t)
		tooMany := fakeFail{Status: http.StatusTooManyRequests, RetryAfter: "12"}
		// Cycle 1: chunk 1, then 429. Cycle 2: two chunks, then 429 again.
		r.f.edit(func(f *fakeGenesys) { f.script[pathObservations] = []fakeFail{{}, tooMany, {}, {}, tooMany} })
		ctx := context.Background()
		if err := r.p.Cycle(ctx); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("cycle 1: err = %v, want ErrRateLimited", err)
		}
		if got := r.polledChunks(0); !slices.Equal(got, []int{1, 2}) {
			t.Fatalf("cycle 1 requests by chunk = %v, want 1, 2 (429) and chunk 3 left for later", got)
		}
		obs1, _ := r.observed()

		r.clock.Advance(10 * time.Second)
		if err := r.p.Cycle(ctx); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("cycle 2: err = %v, want ErrRateLimited", err)
		}
		if !slices.Equal(r.pauses, []time.Duration{2 * time.Second}) {
			t.Errorf("pauses = %v, want 2s (the rest of cycle 1's Retry-After)", r.pauses)
		}
		if got := r.polledChunks(2); !slices.Equal(got, []int{2, 3, 1}) {
			t.Errorf("cycle 2 requests by chunk = %v, want 2, 3, 1 (429)", got)
		}
		obs2, _ := r.observed()
		for id := range obs2 {
			obs1[id] = true
		}
		if n := missing(r.ids, obs1); n != 0 {
			t.Errorf("%d queues not reached within two cycles", n)
		}

		// Recovered: the third cycle polls everything, service levels too,
		// and nobody was told the data is stale.
		r.clock.Advance(10 * time.Second)
		mustCycle(t, r.p)
		obs, sl := r.observed()
		if n, m := missing(r.ids, obs), missing(r.ids, sl); n != 0 || m != 0 {
			t.Errorf("after recovery %d queues lack observations and %d service levels", n, m)
		}
		if got := r.ann.posted(); len(got) != 0 {
			t.Errorf("announcements = %q, want none for two rate-limited cycles", got)
		}
	})
}

// TestPollerFailingChunkGoesOn: a chunk answering 500 is logged and skipped;
// the chunks after it and the service levels of every queue still arrive.
func TestPollerFailingChunkGoesOn(t *testing.T) {
	r := newChunkRig(t)
	logs := &logBuffer{}
	r.p.log = debugLogger(logs)
	r.f.failCall(pathObservations, 2, fakeFail{Status: http.StatusInternalServerError,
		Body: `{"message":"analytics backend unavailable","status":500}`})
	err := r.p.Cycle(context.Background())
	if se, ok := errors.AsType[*StatusError](err); !ok || se.Status != http.StatusInternalServerError {
		t.Fatalf("Cycle err = %v, want the chunk's HTTP 500", err)
	}
	if got := r.polledChunks(0); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("observation requests by chunk = %v, want 1, 2 (500), 3", got)
	}
	obs, sl := r.observed()
	if n := missing(r.chunk(2), obs); n != len(r.chunk(2)) {
		t.Errorf("chunk 2 has observations for %d queues, want none", len(r.chunk(2))-n)
	}
	if n := missing(append(r.chunk(1), r.chunk(3)...), obs); n != 0 {
		t.Errorf("%d queues of chunks 1 and 3 without observations", n)
	}
	if n := missing(r.ids, sl); n != 0 {
		t.Errorf("%d queues without service levels, want all 250", n)
	}
	if got := len(r.f.callsTo(pathAggregates)); got != 3 {
		t.Errorf("aggregate requests = %d, want 3", got)
	}
	if l := logs.String(); !strings.Contains(l, "going on with the next") || !strings.Contains(l, "analytics backend unavailable") {
		t.Errorf("log does not record the failed chunk:\n%s", l)
	}
}

// TestPollerStaleNamesQueue: when one chunk keeps failing, the stale-data
// warning names its queues (their data is three intervals old), not the
// queues that are current.
func TestPollerStaleNamesQueue(t *testing.T) {
	r := newChunkRig(t)
	ctx := context.Background()
	mustCycle(t, r.p)
	third := r.chunk(3)
	r.f.edit(func(f *fakeGenesys) {
		f.downIf = func(c fakeCall) (fakeFail, bool) {
			return fakeFail{Status: http.StatusServiceUnavailable}, c.Path == pathObservations && slices.Equal(c.Body.queueIDs(), third)
		}
	})
	for i := 1; i <= 3; i++ {
		r.clock.Advance(10 * time.Second)
		if err := r.p.Cycle(ctx); err == nil {
			t.Fatalf("cycle %d: no error with chunk 3 down", i)
		}
		if got, want := len(r.ann.posted()), i/3; got != want {
			t.Fatalf("after %d failing cycles: %d announcements, want %d", i, got, want)
		}
	}
	warning := r.ann.posted()[0]
	for _, want := range []string{"stale", "*Queue 200*, *Queue 201*", "*Queue 209* and 40 more", "30s", "3 times", "HTTP 503"} {
		if !strings.Contains(warning, want) {
			t.Errorf("warning %q does not contain %q", warning, want)
		}
	}
	for _, current := range []string{"*Queue 0*", "*Queue 199*", "all 250"} {
		if strings.Contains(warning, current) {
			t.Errorf("warning %q names %s, whose data is current", warning, current)
		}
	}

	// Recovery posts the all-clear.
	r.f.edit(func(f *fakeGenesys) { f.downIf = nil })
	r.clock.Advance(10 * time.Second)
	mustCycle(t, r.p)
	if posted := r.ann.posted(); len(posted) != 2 || !strings.Contains(posted[1], "recovered") {
		t.Fatalf("announcements = %q, want the warning and the all-clear", posted)
	}
	got := nameList([]app.QueueInfo{{ID: "q1", Name: "Claims <EU>"}, {ID: "q2"}})
	if got != "*Claims &lt;EU&gt;*, *q2*" {
		t.Errorf("nameList = %q", got)
	}
}
