package faulttest

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/bench/rig"
)

// basePlan is the stream every scenario runs: queues breaching and
// recovering twice each, a dozen queues in CI and a hundred in the long
// version. Two episodes per queue stay clear of the known issue that
// TestFlappingAlertKeepsEveryResolution shows, so that each scenario
// tests its own fault.
func basePlan(name string) plan {
	return plan{name: name, queues: pick(12, 100), episodes: 2, breaches: 2, gap: pick(40*time.Millisecond, 60*time.Millisecond)}
}

// settleTime bounds the wait for the last messages: Slack's per-channel
// pacing, retries with backoff after an outage, and the 30 s after which
// a dead replica's outbox entries are reclaimed. It is a bound, not a
// wait: a run that settles sooner goes on at once. In CI the scenarios
// run beside every other package's race-built tests on 2 cores, where
// the Slack-faults scenario (a few seconds of outage, then backoffs up to
// 8 s per channel) took over 2 minutes twice and 60 s alone: so 5
// minutes there too.
var settleTime = pick(5*time.Minute, 5*time.Minute)

// Redis killed mid-stream and restarted with its append-only file, as a
// production Redis would be: webhooks during the outage answer 503 and are
// retried; nothing acknowledged is lost and nothing is sent twice.
func TestRedisRestartMidStream(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{persistent: true})
	p := basePlan("redis")
	c.route(p)
	outage := pick(3*time.Second, 10*time.Second)
	restart := func() {
		c.redis.Kill()
		time.Sleep(outage)
		if err := c.redis.Restart(context.Background()); err != nil {
			t.Error(err)
		}
	}
	faults := []fault{{at: 0.3, do: restart}}
	if long {
		faults = append(faults, fault{at: 0.7, do: restart})
	}
	st := c.stream(p, faults...)
	if st.refused.Load()+st.failed.Load() == 0 {
		t.Error("no webhook was refused during the Redis outage: the fault missed the stream")
	}
	check(t, "redis restarted", c.settle(p, settleTime), st)
}

// slabot killed with SIGKILL mid-stream and started again: webhooks in
// flight fail and are retried, outbox entries the dead process held are
// reclaimed by the new one.
func TestSlabotKilledMidStream(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{})
	p := basePlan("kill")
	c.route(p)
	kill := func() {
		if err := c.bots[0].Restart(context.Background()); err != nil {
			t.Error(err)
		}
	}
	faults := []fault{{at: 0.4, do: kill}}
	if long {
		faults = append(faults, fault{at: 0.15, do: kill}, fault{at: 0.75, do: kill})
	}
	st := c.stream(p, faults...)
	tl := c.settle(p, settleTime)
	if answerLostIsKnown && tl.repeated > 0 && tl.repeated == tl.duplicated && tl.lost() == 0 {
		t.Logf("known issue (TestSlackPostedButAnswerLost): %d messages posted again after a kill: %s", tl.repeated, tl)
		tl.duplicated, tl.repeated, tl.problems = 0, 0, nil
	}
	check(t, "slabot killed", tl, st)
}

// Slack answering 429 with Retry-After, 500s, an error saying
// internal_error, a call that times out without taking effect, and an
// outage during which every call answers 503.
func TestSlackFaults(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{})
	p := basePlan("slack")
	c.route(p)
	var (
		mu          sync.Mutex
		outageUntil time.Time
		outage      = pick(5*time.Second, 30*time.Second)
		faults      = make(map[string]int)
	)
	c.slack.SetFault(func(call rig.Call, n int) rig.Fault {
		method := call.Method
		mu.Lock()
		defer mu.Unlock()
		if method == "chat.postMessage" && n == 10 {
			outageUntil = time.Now().Add(outage)
		}
		var f rig.Fault
		switch {
		case time.Now().Before(outageUntil):
			f = rig.Fault{Status: http.StatusServiceUnavailable}
		case method == "chat.postMessage" && n == 3:
			f = rig.Fault{Hang: true} // times out; Slack never saw it
		case method == "chat.postMessage" && n%5 == 1:
			f = rig.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second}
		case method == "chat.postMessage" && n%7 == 2:
			f = rig.Fault{Status: http.StatusInternalServerError}
		case method == "chat.update" && n%4 == 1:
			f = rig.Fault{Status: http.StatusInternalServerError}
		case method == "chat.update" && n%9 == 2:
			f = rig.Fault{SlackError: "internal_error"}
		default:
			return f
		}
		kind := f.SlackError
		switch {
		case f.Hang:
			kind = "timeout"
		case f.Status != 0:
			kind = strconv.Itoa(f.Status)
		}
		faults[method+" "+kind]++
		return f
	})
	st := c.stream(p)
	tl := c.settle(p, settleTime)
	mu.Lock()
	t.Logf("faults injected: %v, %s outage from the 10th chat.postMessage", faults, outage)
	mu.Unlock()
	check(t, "slack faults", tl, st)
}

// Two replicas on one Redis behind a round-robin client, each event sent
// to both at once: exactly one replica records it, and Slack sees each
// episode once.
func TestTwoReplicasSameEventsTwice(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{replicas: 2})
	p := basePlan("twice")
	p.copies, p.spread = 2, true
	c.route(p)
	st := c.stream(p)
	if got, want := st.processed.Load(), int64(p.total()); got != want {
		t.Errorf("%d events processed; want %d (each exactly once)", got, want)
	}
	if got, want := st.duplicate.Load(), int64(p.total()); got != want {
		t.Errorf("%d copies answered duplicate; want %d", got, want)
	}
	check(t, "two replicas, events twice", c.settle(p, settleTime), st)
}

// Every webhook replayed: once at once, and the whole stream again
// afterwards. Replays answer duplicate and change nothing.
func TestReplayEveryEvent(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{})
	p := basePlan("replay")
	p.copies = 2
	c.route(p)
	st := c.stream(p)
	again := c.stream(p)
	if got, want := st.processed.Load(), int64(p.total()); got != want {
		t.Errorf("%d events processed; want %d", got, want)
	}
	if got, want := st.duplicate.Load()+again.duplicate.Load(), int64(3*p.total()); got != want || again.processed.Load() != 0 {
		t.Errorf("%d replays answered duplicate and %d processed; want %d and 0", got, again.processed.Load(), want)
	}
	check(t, "every event replayed", c.settle(p, settleTime), st)
}
