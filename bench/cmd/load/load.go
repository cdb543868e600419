package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slabot/slabot/bench/rig"
)

// threshold is the longest-wait threshold slabot runs with
// (SLA_DEFAULT_LONGEST_WAIT=300s); the generated values straddle it.
const threshold = 300

// workload generates the events of one measurement: unique IDs, queues
// taken in turn from a fixed set, and values that breach for four events
// of a queue and recover for the next four, so alerts keep firing and
// resolving.
type workload struct {
	runID  string
	queues int
	batch  int // events per request; 1 sends single events
	next   atomic.Int64
}

// body appends the next request's body to dst.
func (w *workload) body(dst []byte) []byte {
	if w.batch <= 1 {
		return w.event(dst, w.next.Add(1))
	}
	last := w.next.Add(int64(w.batch))
	dst = append(dst, '[')
	for n := last - int64(w.batch) + 1; n <= last; n++ {
		if dst[len(dst)-1] != '[' {
			dst = append(dst, ',')
		}
		dst = w.event(dst, n)
	}
	return append(dst, ']')
}

func (w *workload) event(dst []byte, n int64) []byte {
	q := n % int64(w.queues)
	k := n / int64(w.queues)
	value := float64(200 + n%60)
	if (k/4)%2 == 1 {
		value = threshold + 1 + float64(n%60)
	}
	id := w.runID + "-" + strconv.FormatInt(n, 10)
	qid := "bench-q" + strconv.FormatInt(q, 10)
	return rig.MetricEvent(dst, id, qid, "Queue "+strconv.FormatInt(q, 10), value)
}

// sample is what one measurement window observed.
type sample struct {
	requests, events, failed int
	all                      int // every request completed, warm-up included
	elapsed                  time.Duration
	latencies                []time.Duration
	server, redis            [2]rig.Stat // at the start and end of the window
	redisCommands            float64
}

// watched is a process whose resource use a measurement reports.
type watched interface{ Stat() (rig.Stat, error) }

// drive runs a closed loop of conc connections against url: warm-up, then
// a measured window of length d during which latencies are kept and the
// server's and Redis's CPU time are read at both ends.
func drive(ctx context.Context, url string, conc int, w *workload, warmup, d time.Duration,
	server watched, redis *rig.Redis) (sample, error) {
	sender := rig.NewSender(conc)
	defer sender.Client.CloseIdleConnections()
	const (
		warm = iota
		measure
		stop
	)
	var (
		phase atomic.Int32
		wg    sync.WaitGroup
		mu    sync.Mutex
		s     sample
	)
	for range conc {
		wg.Go(func() {
			var (
				buf    []byte
				lats   = make([]time.Duration, 0, 4096)
				n, bad int
				total  int
			)
			for {
				p := phase.Load()
				if p == stop || ctx.Err() != nil {
					break
				}
				buf = w.body(buf[:0])
				t0 := time.Now()
				code, _, err := sender.Post(ctx, url, buf)
				lat := time.Since(t0)
				total++
				if p == measure && phase.Load() == measure {
					n++
					lats = append(lats, lat)
					if err != nil || code != http.StatusOK {
						bad++
					}
				}
			}
			mu.Lock()
			s.requests += n
			s.all += total
			s.failed += bad
			s.latencies = append(s.latencies, lats...)
			mu.Unlock()
		})
	}
	sleep(ctx, warmup)
	before, err := snapshot(ctx, server, redis)
	if err != nil {
		phase.Store(stop)
		wg.Wait()
		return s, err
	}
	start := time.Now()
	phase.Store(measure)
	sleep(ctx, d)
	phase.Store(stop)
	s.elapsed = time.Since(start)
	after, err := snapshot(ctx, server, redis)
	wg.Wait()
	if err != nil {
		return s, err
	}
	s.server = [2]rig.Stat{before.server, after.server}
	s.redis = [2]rig.Stat{before.redis, after.redis}
	s.redisCommands = after.commands - before.commands
	s.events = s.requests * max(w.batch, 1)
	if ctx.Err() != nil {
		return s, ctx.Err()
	}
	return s, nil
}

type snap struct {
	server, redis rig.Stat
	commands      float64
}

func snapshot(ctx context.Context, server watched, redis *rig.Redis) (snap, error) {
	var s snap
	var err error
	if s.server, err = server.Stat(); err != nil {
		return s, err
	}
	if s.redis, err = redis.Stat(); err != nil {
		return s, err
	}
	info, err := redis.Info(ctx, "stats")
	if err != nil {
		return s, err
	}
	s.commands = info["total_commands_processed"]
	return s, nil
}

// result is one measurement reduced to the reported figures.
type result struct {
	target, phase string
	conc, batch   int
	reqPerSec     float64
	eventsPerSec  float64
	p50, p99      time.Duration
	cpuPerReq     float64 // server CPU µs per request
	redisPerReq   float64 // redis-server CPU µs per request
	cmdsPerReq    float64 // Redis commands per request
	rssMB         float64
	failed        int
}

func reduce(target, phase string, conc, batch int, s sample) result {
	r := result{target: target, phase: phase, conc: conc, batch: batch, failed: s.failed}
	if s.requests == 0 {
		return r
	}
	sec := s.elapsed.Seconds()
	n := float64(s.requests)
	r.reqPerSec = n / sec
	r.eventsPerSec = float64(s.events) / sec
	slices.Sort(s.latencies)
	r.p50 = percentile(s.latencies, 0.50)
	r.p99 = percentile(s.latencies, 0.99)
	r.cpuPerReq = float64((s.server[1].CPU - s.server[0].CPU).Microseconds()) / n
	r.redisPerReq = float64((s.redis[1].CPU - s.redis[0].CPU).Microseconds()) / n
	r.cmdsPerReq = s.redisCommands / n
	r.rssMB = float64(s.server[1].RSS) / (1 << 20)
	return r
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (r result) String() string {
	return fmt.Sprintf("%-8s %-8s c%-3d %8.0f req/s %9.0f ev/s p50 %6.2fms p99 %6.2fms cpu %6.0fµs/req redis %5.0fµs/req %4.1f cmds/req rss %5.1fMB failed %d",
		r.target, r.phase, r.conc, r.reqPerSec, r.eventsPerSec, ms(r.p50), ms(r.p99), r.cpuPerReq, r.redisPerReq, r.cmdsPerReq, r.rssMB, r.failed)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
