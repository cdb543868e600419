package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// Durations the store applies on its own.
const (
	// resolvedFor keeps a resolved alert (its episode counter and message
	// ts) long enough for late notifications and for /sla history.
	resolvedFor = 7 * 24 * time.Hour
)

// Load reads, in one round trip, everything the engine needs to evaluate
// observations of one queue. It reads in one MULTI, so that the versions
// it returns are those of the state it returns.
func (r *Redis) Load(ctx context.Context, queueID, eventKey string, alertIDs []string) (app.Snapshot, error) {
	snaps, err := r.LoadMany(ctx, []app.LoadRequest{{QueueID: queueID, EventKey: eventKey, AlertIDs: alertIDs}})
	if err != nil {
		return app.Snapshot{}, err
	}
	return snaps[0], nil
}

// LoadMany reads the snapshots of several queues as Load does, all in one
// round trip and one MULTI.
func (r *Redis) LoadMany(ctx context.Context, reqs []app.LoadRequest) ([]app.Snapshot, error) {
	pipe := r.rdb.TxPipeline()
	reads := make([]func() (app.Snapshot, error), len(reqs))
	for i, req := range reqs {
		var err error
		if reads[i], err = r.queueLoad(ctx, pipe, req); err != nil {
			return nil, err
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	snaps := make([]app.Snapshot, len(reqs))
	for i, read := range reads {
		var err error
		if snaps[i], err = read(); err != nil {
			return nil, err
		}
	}
	return snaps, nil
}

// queueLoad queues the reads of one snapshot on pipe and returns the func
// that decodes them once it ran.
func (r *Redis) queueLoad(ctx context.Context, pipe redis.Pipeliner, req app.LoadRequest) (func() (app.Snapshot, error), error) {
	queueID := req.QueueID
	var seen *redis.Cmd
	if req.EventKey != "" {
		var err error
		if seen, err = r.queueSeen(ctx, pipe, queueID, req.EventKey, req.EventSentAt, req.At); err != nil {
			return nil, err
		}
	}
	queue := pipe.HGetAll(ctx, r.queueKey(queueID))
	all := pipe.HMGet(ctx, r.queueKey(app.DefaultQueue), "snooze_until", "hours", versionField, "snooze_by")
	own := pipe.HGetAll(ctx, r.thresholdsKey(queueID))
	defaults := pipe.HGetAll(ctx, r.thresholdsKey(app.DefaultQueue))
	alerts := make([]*redis.SliceCmd, len(req.AlertIDs))
	for i, id := range req.AlertIDs {
		k, err := r.alertKey(id)
		if err != nil {
			return nil, err
		}
		alerts[i] = pipe.HMGet(ctx, k, "v", "data")
	}
	return func() (app.Snapshot, error) {
		snap := app.Snapshot{
			Seen:       seen != nil && seen.Val() == int64(1),
			Queue:      decodeQueue(queueID, queue.Val()),
			Thresholds: decodeThresholds(own.Val()),
			Defaults:   decodeThresholds(defaults.Val()),
			Alerts:     make(map[string]app.VersionedAlert, len(req.AlertIDs)),
		}
		snap.Versions.Queue, _ = strconv.ParseInt(queue.Val()[versionField], 10, 64)
		if vals := all.Val(); len(vals) == 4 {
			if ms, err := strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64); vals[0] != nil && err == nil {
				snap.AllSnoozedUntil = time.UnixMilli(ms)
			}
			if s, ok := vals[1].(string); ok {
				snap.DefaultHours = decodeHours(s)
			}
			if s, ok := vals[2].(string); ok {
				snap.Versions.Default, _ = strconv.ParseInt(s, 10, 64)
			}
			snap.AllSnoozedBy, _ = vals[3].(string)
		}
		for i, id := range req.AlertIDs {
			va, ok, err := decodeAlert(alerts[i].Val())
			if err != nil {
				return app.Snapshot{}, fmt.Errorf("alert %s: %w", id, err)
			}
			if ok {
				snap.Alerts[id] = va
			}
		}
		return snap, nil
	}, nil
}

// versionField is the queue hash field holding the queue's commit version
// (app.Versions): every commit of the queue, and every change of its
// thresholds or directory name, increments it.
const versionField = "cv"

func decodeQueue(id string, h map[string]string) app.Queue {
	q := app.Queue{ID: id, Name: h["name"], Route: h["route"], SnoozedBy: h["snooze_by"], Latest: make(map[string]float64),
		Known: h["known"] == "1"}
	if ms, err := strconv.ParseInt(h["snooze_until"], 10, 64); err == nil {
		q.SnoozedUntil = time.UnixMilli(ms)
	}
	q.Hours = decodeHours(h["hours"])
	if s := h[targetsField]; s != "" {
		var t map[string]app.ServiceLevelTarget
		if json.Unmarshal([]byte(s), &t) == nil {
			q.Targets = t
		}
	}
	for k, v := range h {
		if name, ok := strings.CutPrefix(k, "m:"); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q.Latest[name] = f
			}
		}
		if name, ok := strings.CutPrefix(k, "t:"); ok {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
				if q.LatestAt == nil {
					q.LatestAt = make(map[string]time.Time)
				}
				q.LatestAt[name] = time.UnixMilli(ms)
			}
		}
	}
	return q
}

// decodeHours reads a queue's stored business hours; nil when none (or
// unreadable: a queue then alerts at all hours rather than never).
func decodeHours(s string) *app.Hours {
	if s == "" {
		return nil
	}
	var h app.Hours
	if err := json.Unmarshal([]byte(s), &h); err != nil || !h.Set() {
		return nil
	}
	return &h
}

// decodeThresholds reads a queue's stored rules, keyed by
// app.ThresholdKey. Rules stored before media types have no media type:
// they apply to every one, as they always did.
func decodeThresholds(h map[string]string) map[string]app.Threshold {
	out := make(map[string]app.Threshold, len(h))
	for _, v := range h {
		var t app.Threshold
		if err := json.Unmarshal([]byte(v), &t); err == nil {
			out[t.Key()] = t
		}
	}
	return out
}

func decodeAlert(vals []any) (app.VersionedAlert, bool, error) {
	if len(vals) != 2 || vals[0] == nil || vals[1] == nil {
		return app.VersionedAlert{}, false, nil
	}
	v, err := strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64)
	if err != nil {
		return app.VersionedAlert{}, false, fmt.Errorf("bad version: %w", err)
	}
	var a app.Alert
	if err := json.Unmarshal([]byte(fmt.Sprint(vals[1])), &a); err != nil {
		return app.VersionedAlert{}, false, fmt.Errorf("bad alert data: %w", err)
	}
	return app.VersionedAlert{Alert: a, Version: v}, true, nil
}

// Due returns up to limit alert IDs whose time-driven evaluation is due.
func (r *Redis) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := r.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: r.dueKey(), ByScore: true,
		Start: "-inf", Stop: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	return ids, nil
}
