package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slabot/slabot/bench/rig"
)

// latencyResult is breach-to-Slack latency: from sending a breaching
// webhook to the fake Slack receiving its chat.postMessage.
type latencyResult struct {
	label     string
	samples   int
	p50, p99  time.Duration
	max       time.Duration
	delivered int
}

// latencyProbe measures breach-to-Slack latency for n queues, each routed
// to its own channel so that Slack's per-channel pacing (one new message
// per second) does not queue them behind one another, with the fake
// answering at once. Breaches are sent one at a time, 25 ms apart. With
// background set, a closed loop of 8 connections keeps sending the
// single-event workload (alerts for the default channel) meanwhile.
func (h *harness) latencyProbe(ctx context.Context, n int, background bool) (latencyResult, error) {
	label := "idle"
	if background {
		label = "under c8 load"
	}
	res := latencyResult{label: label, samples: n}
	fake, err := rig.NewFakeSlack(rig.BotToken)
	if err != nil {
		return res, err
	}
	defer fake.Close()
	red, bot, err := h.startSlabot(ctx, "latency", fake.URL)
	if err != nil {
		return res, err
	}
	defer red.Close()
	defer bot.Kill()

	queue := func(i int) string { return "lat-q" + strconv.Itoa(i) }
	queues := make([]string, n)
	for i := range queues {
		queues[i] = queue(i)
	}
	if err := rig.RouteQueues(ctx, red.URL, queues, func(i int) string { return fmt.Sprintf("C0LAT%06d", i) }); err != nil {
		return res, err
	}
	var (
		mu       sync.Mutex
		received = make(map[string]time.Time, n)
	)
	fake.OnCall(func(c rig.Call) {
		if c.Method != "chat.postMessage" || c.ThreadTS != "" {
			return
		}
		if id, _, ok := c.AlertEpisode(); ok {
			q, _, _ := strings.Cut(id, "/")
			mu.Lock()
			if _, seen := received[q]; !seen {
				received[q] = c.At
			}
			mu.Unlock()
		}
	})

	bctx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	var bg sync.WaitGroup
	if background {
		w := &workload{runID: "bg", queues: h.cfg.queues, batch: 1}
		bg.Go(func() { _, _ = drive(bctx, bot.URL, 8, w, time.Hour, time.Hour, bot, red) })
		sleep(ctx, time.Second)
	}

	sender := rig.NewSender(1)
	sent := make(map[string]time.Time, n)
	var buf []byte
	for i := range n {
		q := queue(i)
		buf = rig.MetricEvent(buf[:0], "lat-"+strconv.Itoa(i), q, "Latency "+strconv.Itoa(i), 400)
		t0 := time.Now()
		code, body, err := sender.Post(ctx, bot.URL, buf)
		if err != nil || code != http.StatusOK {
			return res, fmt.Errorf("latency breach %d: %d %s %v", i, code, body, err)
		}
		sent[q] = t0
		sleep(ctx, 25*time.Millisecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		mu.Lock()
		got := len(received)
		mu.Unlock()
		if got >= n {
			break
		}
		sleep(ctx, 20*time.Millisecond)
	}
	stopBackground()
	bg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var lats []time.Duration
	for q, t0 := range sent {
		if at, ok := received[q]; ok {
			lats = append(lats, at.Sub(t0))
		}
	}
	slices.Sort(lats)
	res.delivered = len(lats)
	res.p50, res.p99 = percentile(lats, 0.5), percentile(lats, 0.99)
	if len(lats) > 0 {
		res.max = lats[len(lats)-1]
	}
	return res, nil
}

// openResult is slabot's memory with many open alerts.
type openResult struct {
	alerts        int
	open          float64 // slabot_open_alerts as /metrics reports it
	rssMB         float64
	maxRSSMB      float64
	redisMemoryMB float64
}

// openAlertsProbe opens n alerts (one breach each for n queues, sent over
// 8 connections), lets slabot settle for two seconds, and reads its
// memory and Redis's.
func (h *harness) openAlertsProbe(ctx context.Context, n int) (openResult, error) {
	res := openResult{alerts: n}
	fake, err := rig.NewFakeSlack(rig.BotToken)
	if err != nil {
		return res, err
	}
	defer fake.Close()
	red, bot, err := h.startSlabot(ctx, "open", fake.URL)
	if err != nil {
		return res, err
	}
	defer red.Close()
	defer bot.Kill()

	sender := rig.NewSender(8)
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, 8)
	)
	for range 8 {
		wg.Go(func() {
			var buf []byte
			for i := next.Add(1) - 1; i < int64(n) && ctx.Err() == nil; i = next.Add(1) - 1 {
				q := "open-q" + strconv.FormatInt(i, 10)
				buf = rig.MetricEvent(buf[:0], "open-"+strconv.FormatInt(i, 10), q, "Open "+strconv.FormatInt(i, 10), 400)
				if _, err := sender.Deliver(ctx, []string{bot.URL}, 0, buf); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	sleep(ctx, 2*time.Second)
	st, err := bot.Stat()
	if err != nil {
		return res, err
	}
	res.rssMB, res.maxRSSMB = float64(st.RSS)/(1<<20), float64(st.MaxRSS)/(1<<20)
	info, err := red.Info(ctx, "memory")
	if err != nil {
		return res, err
	}
	res.redisMemoryMB = info["used_memory"] / (1 << 20)
	res.open, err = rig.Gauge(ctx, bot.URL, "slabot_open_alerts")
	return res, err
}
