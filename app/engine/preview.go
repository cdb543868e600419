package engine

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/slabot/slabot/app"
)

// maxPreviewQueues bounds the work of previewing the default rule: it
// looks at the first queues without their own rule, in ID order.
const maxPreviewQueues = 100

// Preview replays the stored history of a queue (or, for DefaultQueue, of
// the queues without their own rule for the metric) against t as the
// engine would evaluate it, on t's media type only when it has one, a
// target rule against each queue's own target (series of queues whose
// target is unknown are counted in NoTarget, not replayed), as the
// engine would evaluate it: its for-duration, its clear band and each
// queue's business hours. Its volume gate cannot be replayed (volumes are
// not stored); observations the queue's rule ignored at the time are not
// in the history either. Nothing is changed.
func (e *Engine) Preview(ctx context.Context, t app.Threshold) (app.Preview, error) {
	if err := t.Validate(); err != nil {
		return app.Preview{}, err
	}
	queues := []string{t.QueueID}
	if t.QueueID == app.DefaultQueue {
		var err error
		if queues, err = e.defaultedQueues(ctx, t.MediaType, t.Metric); err != nil {
			return app.Preview{}, err
		}
	}
	states, err := e.records().QueueStates(ctx, append(slices.Clone(queues), app.DefaultQueue))
	if err != nil {
		return app.Preview{}, err
	}
	defaults := states[len(states)-1].Hours
	now := e.clock.Now()
	p := app.Preview{Queues: len(queues)}
	for i, q := range queues {
		series, err := e.store.MetricHistory(ctx, q, t.Metric, now)
		if err != nil {
			return app.Preview{}, fmt.Errorf("history of %s: %w", q, err)
		}
		hours := states[i].Hours
		if hours == nil || !hours.Set() {
			hours = defaults
		}
		sched := e.zones.Schedule(hours)
		for _, s := range series {
			if t.MediaType != "" && s.MediaType != t.MediaType {
				continue
			}
			rule, ok := t.Resolve(states[i].Targets, s.MediaType)
			if !ok {
				p.NoTarget++
				continue
			}
			replay(s, rule, sched, now, &p)
		}
	}
	return p, nil
}

// defaultedQueues are the known queues the default rule for media and m
// applies to: those without their own rule for m on every media type or on
// media, at most maxPreviewQueues.
func (e *Engine) defaultedQueues(ctx context.Context, media string, m app.Metric) ([]string, error) {
	known, err := e.records().KnownQueues(ctx)
	if err != nil {
		return nil, err
	}
	rules, err := e.records().Thresholds(ctx)
	if err != nil {
		return nil, err
	}
	own := make(map[string]bool)
	for _, r := range rules {
		if r.Metric == m && (r.MediaType == "" || r.MediaType == media) {
			own[r.QueueID] = true
		}
	}
	var out []string
	for _, id := range slices.Sorted(maps.Keys(known)) {
		if id != app.DefaultQueue && !own[id] && app.ValidateQueueID(id) == nil {
			out = append(out, id)
		}
		if len(out) == maxPreviewQueues {
			break
		}
	}
	return out, nil
}

// replay runs one series through t, minute by minute, adding what t would
// have done to p. A minute without data changes nothing.
func replay(s app.Series, t app.Threshold, sched app.Schedule, now time.Time, p *app.Preview) {
	const (
		ok = iota
		pending
		firing
	)
	state := ok
	var since time.Time
	first := -1
	var open bool
	var change time.Time // when the schedule next opens or closes
	end := func(at time.Time) {
		d := at.Sub(since)
		p.Breaching += d
		p.Longest = max(p.Longest, d)
		state = ok
	}
	for i, v := range s.Values {
		if math.IsNaN(v) {
			continue
		}
		at := s.Start.Add(time.Duration(i) * s.Step)
		if first < 0 {
			first = i
			open, change = sched.Open(at), sched.Next(at)
		}
		for !change.IsZero() && !at.Before(change) {
			open, change = sched.Open(change), sched.Next(change)
		}
		switch {
		case !open:
			if state == firing {
				end(at)
			}
			state = ok
		case state == ok && t.Breached(v):
			state, since = pending, at
			if t.For <= 0 {
				state = firing
				p.Episodes++
			}
		case state == pending && !t.Breached(v):
			state = ok
		case state == pending && at.Sub(since) >= t.For:
			state, since = firing, at
			p.Episodes++
		case state == firing && !t.Holds(v):
			end(at)
		}
	}
	if first < 0 {
		return
	}
	p.Series++
	p.Covered = max(p.Covered, min(now.Sub(s.Start.Add(time.Duration(first)*s.Step)), app.HistorySpan))
	if state == firing {
		end(now)
		p.Now = true
	}
}
