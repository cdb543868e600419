package genesys

import (
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// TestRequestsPerMinute counts what watching 1,000 queues costs at the
// default 10-second interval, against Genesys Cloud's limit of 300 requests
// per minute per OAuth client.
func TestRequestsPerMinute(t *testing.T) {
	r := newRig(t)
	r.f.addQueues(1000)
	r.f.edit(func(f *fakeGenesys) {
		for _, q := range f.queues {
			q.Media = nil // request counts do not depend on the answers' size; keep the run short
		}
	})
	r.store.thresholds = []app.Threshold{{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}}
	p := r.poller(PollerOptions{})
	if got := p.interval(); got != 10*time.Second {
		t.Fatalf("interval = %v, want the 10s default", got)
	}
	type count struct{ token, directory, observations, aggregates int }
	snapshot := func() count {
		return count{r.f.tokensIssued(), len(r.f.callsTo(pathQueues)),
			len(r.f.callsTo(pathObservations)), len(r.f.callsTo(pathAggregates))}
	}
	const minutes = 10
	perMinute := make([]count, 0, minutes)
	prev := snapshot()
	for range minutes {
		for range 6 {
			mustCycle(t, p)
			r.clock.Advance(10 * time.Second)
		}
		now := snapshot()
		perMinute = append(perMinute, count{now.token - prev.token, now.directory - prev.directory,
			now.observations - prev.observations, now.aggregates - prev.aggregates})
		prev = now
	}
	total := 0
	for i, c := range perMinute {
		n := c.token + c.directory + c.observations + c.aggregates
		total += n
		t.Logf("minute %2d: %3d requests (token %d, directory pages %d, observations %d, aggregates %d)",
			i+1, n, c.token, c.directory, c.observations, c.aggregates)
		if c.observations != 60 || c.aggregates != 10 {
			t.Errorf("minute %d: observations %d, aggregates %d; want 60 (10 chunks × 6 cycles) and 10", i+1, c.observations, c.aggregates)
		}
		if n > 100 {
			t.Errorf("minute %d: %d requests, want far below 300", i+1, n)
		}
	}
	if got := perMinute[0].directory; got != 10 {
		t.Errorf("directory pages in the first minute = %d, want 10", got)
	}
	t.Logf("average over %d minutes: %.1f requests/minute", minutes, float64(total)/minutes)

	// Ten more minutes: the directory refresh comes due once.
	before := snapshot()
	for range 60 {
		mustCycle(t, p)
		r.clock.Advance(10 * time.Second)
	}
	if got := snapshot().directory - before.directory; got != 10 {
		t.Errorf("directory pages over the next 10 minutes = %d, want 10 (one refresh)", got)
	}
}

func TestIntervalStretchesForManyQueues(t *testing.T) {
	r := newRig(t)
	p := r.poller(PollerOptions{})
	tests := []struct {
		watched int
		want    time.Duration
	}{
		{0, 10 * time.Second},
		{1000, 10 * time.Second},
		{2000, 10 * time.Second},
		{3000, 15 * time.Second},
		{6000, 30 * time.Second},
	}
	for _, tt := range tests {
		p.watched = tt.watched
		if got := p.interval(); got != tt.want {
			t.Errorf("interval for %d queues = %v, want %v", tt.watched, got, tt.want)
		}
		if got := p.leaseTTL(); got != 3*tt.want {
			t.Errorf("lease TTL for %d queues = %v, want %v", tt.watched, got, 3*tt.want)
		}
	}
}
