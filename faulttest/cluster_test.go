package faulttest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slabot/slabot/bench/rig"
)

// cluster is one test's deployment: a private redis-server, a fake Slack
// and one or more slabot replicas sharing them.
type cluster struct {
	t      *testing.T
	dir    string
	redis  *rig.Redis
	slack  *rig.FakeSlack
	bots   []*rig.Slabot
	sender *rig.Sender
}

type clusterOptions struct {
	replicas int
	// persistent runs Redis with an fsync'd append-only file, so that a
	// restart keeps every acknowledged write, as in production.
	persistent bool
	env        []string
}

func newCluster(t *testing.T, opts clusterOptions) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the slabot binary against a real redis-server; skipped with -short")
	}
	dir, err := os.MkdirTemp("", "ft") // short: Unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := &cluster{t: t, dir: dir, sender: rig.NewSender(8)}
	t.Cleanup(c.close)
	if c.redis, err = rig.StartRedis(ctx, dir, rig.RedisOptions{Persistent: opts.persistent}); err != nil {
		t.Fatal(err)
	}
	if c.slack, err = rig.NewFakeSlack(rig.BotToken); err != nil {
		t.Fatal(err)
	}
	for i := range max(opts.replicas, 1) {
		bot, err := rig.StartSlabot(ctx, rig.SlabotOptions{Bin: slabotBin, Dir: dir, Name: fmt.Sprintf("slabot%d", i),
			RedisURL: c.redis.URL, SlackURL: c.slack.URL, Env: append([]string{"LOG_LEVEL=info"}, opts.env...)})
		if err != nil {
			t.Fatal(err)
		}
		c.bots = append(c.bots, bot)
	}
	return c
}

// close stops the replicas with SIGTERM (a race report or an unclean exit
// fails the test), then Redis and the fake, and shows the logs of a
// failed test.
func (c *cluster) close() {
	for _, b := range c.bots {
		if b.Process == nil {
			continue
		}
		if err := b.Stop(25 * time.Second); err != nil {
			c.t.Errorf("%s: %v\n%s", b.Name, err, rig.Tail(b.Log, 4000))
		}
		if log := rig.Tail(b.Log, 1<<20); strings.Contains(log, "WARNING: DATA RACE") {
			c.t.Errorf("%s reported a data race:\n%s", b.Name, log[strings.Index(log, "WARNING: DATA RACE"):])
		}
	}
	if c.redis != nil {
		c.redis.Close()
	}
	if c.slack != nil {
		c.slack.Close()
	}
	if c.t.Failed() {
		for _, b := range c.bots {
			c.t.Logf("--- %s log (tail):\n%s", b.Name, rig.Tail(b.Log, 6000))
		}
	}
	_ = os.RemoveAll(c.dir)
}

func (c *cluster) urls() []string {
	out := make([]string, len(c.bots))
	for i, b := range c.bots {
		out[i] = b.URL
	}
	return out
}

// plan is a stream of breach episodes: for each queue, episodes times
// some breaching observations then one recovery, each a webhook event
// with a unique id.
type plan struct {
	name     string // distinguishes the queues and event ids of a test
	queues   int
	episodes int
	breaches int           // breaching observations per episode
	gap      time.Duration // pause after each of a queue's events
	copies   int           // how many times each event is sent (replays)
	spread   bool          // send the copies to different replicas at once
}

func (p plan) queue(i int) string { return fmt.Sprintf("%s-q%03d", p.name, i) }

func (p plan) total() int { return p.queues * p.episodes * (p.breaches + 1) }

// event is the body of observation j (0…breaches) of episode ep of queue
// qi: j < breaches breach the 300 s threshold, j == breaches recovers.
func (p plan) event(qi, ep, j int) []byte {
	value := 100.0
	if j < p.breaches {
		value = 400 + 10*float64(j)
	}
	id := fmt.Sprintf("%s-q%03d-e%02d-o%d", p.name, qi, ep, j)
	return rig.MetricEvent(nil, id, p.queue(qi), fmt.Sprintf("Fault %s %03d", p.name, qi), value)
}

// route gives every queue of p a channel of its own, so that Slack's
// per-channel pacing (one new message a second) does not make the test
// wait for every message of every queue in turn.
func (c *cluster) route(p plan) {
	c.t.Helper()
	queues := make([]string, p.queues)
	for i := range queues {
		queues[i] = p.queue(i)
	}
	err := rig.RouteQueues(context.Background(), c.redis.URL, queues, func(i int) string { return fmt.Sprintf("C0FT%06d", i) })
	if err != nil {
		c.t.Fatal(err)
	}
}

// streamStats counts what the webhook senders saw.
type streamStats struct {
	sent, processed, duplicate atomic.Int64
	refused, failed            atomic.Int64 // 5xx answers and connection errors, retried
}

func (s *streamStats) String() string {
	return fmt.Sprintf("webhooks %d (processed %d, duplicate %d), retried after %d 5xx and %d connection errors",
		s.sent.Load(), s.processed.Load(), s.duplicate.Load(), s.refused.Load(), s.failed.Load())
}

// fault runs do once when the stream has delivered the fraction at of
// its events, while the stream goes on.
type fault struct {
	at float64
	do func()
}

// stream sends p's events, each queue's in order from its own goroutine,
// retrying refusals as EventBridge would, and runs the faults on the way.
func (c *cluster) stream(p plan, faults ...fault) *streamStats {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pick(3*time.Minute, 15*time.Minute))
	defer cancel()
	var (
		st      streamStats
		wg, fwg sync.WaitGroup
		fired   = make([]atomic.Bool, len(faults))
		done    atomic.Int64
		urls    = c.urls()
		copies  = max(p.copies, 1)
		trigger = func() {
			n := done.Add(1)
			for i, f := range faults {
				if float64(n) >= f.at*float64(p.total()) && fired[i].CompareAndSwap(false, true) {
					fwg.Go(f.do)
				}
			}
		}
	)
	send := func(qi, first int, body []byte) {
		d, err := c.sender.Deliver(ctx, urls, first, body)
		st.sent.Add(1)
		st.refused.Add(int64(d.Refused))
		st.failed.Add(int64(d.Failed))
		switch {
		case err != nil:
			c.t.Errorf("queue %d: %v", qi, err)
		case d.Status == "processed":
			st.processed.Add(1)
		case d.Status == "duplicate":
			st.duplicate.Add(1)
		default:
			c.t.Errorf("queue %d: status %q", qi, d.Status)
		}
	}
	for qi := range p.queues {
		wg.Go(func() {
			for ep := range p.episodes {
				for j := 0; j <= p.breaches; j++ {
					body := p.event(qi, ep, j)
					if p.spread {
						var cw sync.WaitGroup
						for k := range copies {
							cw.Go(func() { send(qi, qi+k, body) })
						}
						cw.Wait()
					} else {
						for k := range copies {
							send(qi, qi+k, body)
						}
					}
					trigger()
					time.Sleep(p.gap)
				}
			}
		})
	}
	wg.Wait()
	fwg.Wait()
	return &st
}

// settle waits until the fake Slack shows every episode of p alerted and
// resolved and the outbox is empty, then a little longer for any late
// duplicate, and returns the final tally.
func (c *cluster) settle(p plan, timeout time.Duration) tally {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tl := audit(c.slack.Calls(), p)
		depth, err := c.outboxDepth()
		if tl.lost() == 0 && err == nil && depth == 0 {
			break
		}
		if time.Now().After(deadline) {
			c.t.Errorf("not settled after %s (outbox depth %v, %v): %s", timeout, depth, err, tl)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	return audit(c.slack.Calls(), p)
}

// outboxDepth reads slabot_outbox_depth from the first replica that answers.
func (c *cluster) outboxDepth() (float64, error) {
	var last error
	for _, b := range c.bots {
		v, err := outboxGauge(b.URL)
		if err == nil {
			return v, nil
		}
		last = err
	}
	return 0, last
}

// outboxGauge reads slabot_outbox_depth from one replica, giving up after 2 s.
func outboxGauge(url string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return rig.Gauge(ctx, url, "slabot_outbox_depth")
}
