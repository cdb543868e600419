package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// SetThreshold stores a threshold, replacing one for the same queue, media
// type and metric. A rule on every media type keeps the field it had
// before media types (the metric's name; app.ThresholdKey).
func (r *Redis) SetThreshold(ctx context.Context, t app.Threshold) error {
	data, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode threshold: %w", err)
	}
	_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, r.thresholdsKey(t.QueueID), t.Key(), data)
		p.HIncrBy(ctx, r.queueKey(t.QueueID), versionField, 1)
		p.SAdd(ctx, r.thresholdQueuesKey(), t.QueueID)
		return nil
	})
	return unavailable(err)
}

// DeleteThreshold removes the queue's thresholds that app.Threshold.Unsets
// selects for media and metric, and returns them.
func (r *Redis) DeleteThreshold(ctx context.Context, queueID, media string, metric app.Metric) ([]app.Threshold, error) {
	k := r.thresholdsKey(queueID)
	h, err := r.rdb.HGetAll(ctx, k).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	var removed []app.Threshold
	for _, t := range decodeThresholds(h) {
		if t.Unsets(media, metric) {
			removed = append(removed, t)
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, t := range removed {
			p.HDel(ctx, k, t.Key())
		}
		p.HIncrBy(ctx, r.queueKey(queueID), versionField, 1)
		if len(removed) == len(h) {
			p.SRem(ctx, r.thresholdQueuesKey(), queueID)
		}
		return nil
	})
	return removed, unavailable(err)
}

// Thresholds lists every stored threshold, default first, then by queue.
func (r *Redis) Thresholds(ctx context.Context) ([]app.Threshold, error) {
	queues, err := r.rdb.SMembers(ctx, r.thresholdQueuesKey()).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(queues))
	for i, q := range queues {
		cmds[i] = pipe.HGetAll(ctx, r.thresholdsKey(q))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable(err)
	}
	var out []app.Threshold
	for _, c := range cmds {
		for _, t := range decodeThresholds(c.Val()) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b app.Threshold) int {
		if (a.QueueID == app.DefaultQueue) != (b.QueueID == app.DefaultQueue) {
			if a.QueueID == app.DefaultQueue {
				return -1
			}
			return 1
		}
		if a.QueueID != b.QueueID {
			if a.QueueID < b.QueueID {
				return -1
			}
			return 1
		}
		if a.Metric != b.Metric {
			return slices.Index(app.Metrics, a.Metric) - slices.Index(app.Metrics, b.Metric)
		}
		return mediaOrder(a.MediaType) - mediaOrder(b.MediaType)
	})
	return out, nil
}

// mediaOrder places a rule on every media type first, then app.MediaTypes'
// display order.
func mediaOrder(media string) int {
	if media == "" {
		return -1
	}
	return slices.Index(app.MediaTypes, media)
}

// KnownQueues maps every queue ID slabot has seen (in events or the
// directory) to its name, "" when the name is unknown.
func (r *Redis) KnownQueues(ctx context.Context) (map[string]string, error) {
	m, err := r.rdb.HGetAll(ctx, r.namesKey()).Result()
	return m, unavailable(err)
}

var leaseScript = redis.NewScript(`
local h = redis.call('GET', KEYS[1])
if not h then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if h == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// AcquireLease takes the named lease for holder, or renews it if holder
// has it; it reports false while another holder's lease is live.
func (r *Redis) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	n, err := leaseScript.Run(ctx, r.rdb, []string{r.leaseKey(name)}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, unavailable(err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up if holder has it, so another replica
// takes over at once instead of after the TTL.
func (r *Redis) ReleaseLease(ctx context.Context, name, holder string) error {
	return unavailable(releaseScript.Run(ctx, r.rdb, []string{r.leaseKey(name)}, holder).Err())
}

// SaveQueues replaces the cached Genesys queue directory and records the
// names for /sla name resolution.
func (r *Redis) SaveQueues(ctx context.Context, queues []app.QueueInfo) error {
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, r.directoryKey())
		for _, q := range queues {
			data, err := json.Marshal(q)
			if err != nil {
				return fmt.Errorf("encode queue: %w", err)
			}
			p.HSet(ctx, r.directoryKey(), q.ID, data)
			p.HSet(ctx, r.namesKey(), q.ID, q.Name)
			p.HSet(ctx, r.queueKey(q.ID), "name", q.Name)
			if len(q.ServiceLevels) > 0 {
				// Beside the name, so the engine's one read of the queue
				// has the targets that rules on "target" follow.
				targets, err := json.Marshal(q.ServiceLevels)
				if err != nil {
					return fmt.Errorf("encode targets: %w", err)
				}
				p.HSet(ctx, r.queueKey(q.ID), targetsField, targets)
			} else {
				p.HDel(ctx, r.queueKey(q.ID), targetsField)
			}
			p.HIncrBy(ctx, r.queueKey(q.ID), versionField, 1) // the engine's cached name is stale
		}
		return nil
	})
	return unavailable(err)
}

// targetsField is the queue hash field holding the queue's service-level
// targets per media type (app.Queue.Targets), from the directory.
const targetsField = "targets"

// Queues returns the cached Genesys queue directory.
func (r *Redis) Queues(ctx context.Context) ([]app.QueueInfo, error) {
	h, err := r.rdb.HGetAll(ctx, r.directoryKey()).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	out := make([]app.QueueInfo, 0, len(h))
	for _, v := range h {
		var q app.QueueInfo
		if err := json.Unmarshal([]byte(v), &q); err == nil {
			out = append(out, q)
		}
	}
	slices.SortFunc(out, func(a, b app.QueueInfo) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

// OpenAlerts lists the pending, firing and acknowledged alerts.
func (r *Redis) OpenAlerts(ctx context.Context) ([]app.Alert, error) {
	ids, err := r.rdb.SMembers(ctx, r.openKey()).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, 0, len(ids))
	for _, id := range ids {
		k, err := r.alertKey(id)
		if err != nil {
			continue
		}
		cmds = append(cmds, pipe.HMGet(ctx, k, "v", "data"))
	}
	if len(cmds) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable(err)
		}
	}
	out := make([]app.Alert, 0, len(cmds))
	for _, c := range cmds {
		if va, ok, err := decodeAlert(c.Val()); err == nil && ok && (va.Alert.State.Open() || va.Alert.State == app.StatePending) {
			out = append(out, va.Alert)
		}
	}
	slices.SortFunc(out, func(a, b app.Alert) int { return a.FiredAt.Compare(b.FiredAt) })
	return out, nil
}

// QueueStates returns the stored state of each queue (app.DefaultQueue
// holds the all-queues snooze).
func (r *Redis) QueueStates(ctx context.Context, ids []string) ([]app.Queue, error) {
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, r.queueKey(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, unavailable(err)
		}
	}
	out := make([]app.Queue, len(ids))
	for i, c := range cmds {
		out[i] = decodeQueue(ids[i], c.Val())
	}
	return out, nil
}

// AppendHistory records an entry (bounded: 100 per queue, 500 in all).
func (r *Redis) AppendHistory(ctx context.Context, h app.HistoryEntry) error {
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode history: %w", err)
	}
	_, err = r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for k, n := range map[string]int64{r.historyKey(h.QueueID): 99, r.historyKey(""): 499} {
			p.LPush(ctx, k, data)
			p.LTrim(ctx, k, 0, n)
		}
		return nil
	})
	return unavailable(err)
}

// History returns up to limit entries, newest first, for queueID or ("") all.
func (r *Redis) History(ctx context.Context, queueID string, limit int) ([]app.HistoryEntry, error) {
	raw, err := r.rdb.LRange(ctx, r.historyKey(queueID), 0, int64(limit)-1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]app.HistoryEntry, 0, len(raw))
	for _, s := range raw {
		var h app.HistoryEntry
		if json.Unmarshal([]byte(s), &h) == nil {
			out = append(out, h)
		}
	}
	return out, nil
}

// MarkOnce records key for ttl and reports whether it was new; Slack event
// retries (same event_id) use it to be processed once.
func (r *Redis) MarkOnce(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := r.rdb.SetNX(ctx, r.onceKey(key), "1", ttl).Result()
	return ok, unavailable(err)
}

// OpenAlertCount counts pending, firing and acknowledged alerts.
func (r *Redis) OpenAlertCount(ctx context.Context) (int64, error) {
	n, err := r.rdb.SCard(ctx, r.openKey()).Result()
	return n, unavailable(err)
}
