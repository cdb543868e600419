package store

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// QueueIdleFor is how long a queue that nobody configured, with no open
// alert, is kept after its last data: webhooks may name queues at will, and
// without an end each would stay in Redis, and in /sla list, for good.
const QueueIdleFor = 8 * 24 * time.Hour

// expireQueueScript forgets one queue if it is still idle: its last data
// (the "at" field the commit script writes with every latest value) is
// older than the cutoff, and it has no rule, route, business hours or
// snooze. Checked and done in one step, so a commit of fresh data racing
// with it either lands first (and the queue is kept) or finds the queue
// gone and starts it afresh (its version moved, so no cached state of it
// is trusted).
//
// KEYS: queue, thresholds, queue history, names. ARGV: queue ID, cutoff
// (Unix ms), now (Unix ms).
var expireQueueScript = redis.NewScript(`
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '')
if not at or at >= tonumber(ARGV[2]) then return 0 end
local cfg = redis.call('HMGET', KEYS[1], 'route', 'hours', 'snooze_until')
if (cfg[1] and cfg[1] ~= '') or (cfg[2] and cfg[2] ~= '') then return 0 end
if tonumber(cfg[3] or '') and tonumber(cfg[3]) > tonumber(ARGV[3]) then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
`)

// ExpireQueues forgets the queues idle for QueueIdleFor at now (see
// expireQueueScript), except those with an open alert, and returns how
// many it forgot. Queues the directory lists are written again at its next
// refresh; a queue that sends data again is known again.
func (r *Redis) ExpireQueues(ctx context.Context, now time.Time) (int, error) {
	openIDs, err := r.rdb.SMembers(ctx, r.openKey()).Result()
	if err != nil {
		return 0, unavailable(err)
	}
	busy := make(map[string]bool, len(openIDs))
	for _, id := range openIDs {
		if q, _, _, err := app.ParseAlertID(id); err == nil {
			busy[q] = true
		}
	}
	if err := expireQueueScript.Load(ctx, r.rdb).Err(); err != nil {
		return 0, unavailable(err)
	}
	cutoff := strconv.FormatInt(now.Add(-QueueIdleFor).UnixMilli(), 10)
	nowMs := strconv.FormatInt(now.UnixMilli(), 10)
	forgotten := 0
	var cursor uint64
	for {
		kv, next, err := r.rdb.HScan(ctx, r.namesKey(), cursor, "", 500).Result()
		if err != nil {
			return forgotten, unavailable(err)
		}
		pipe := r.rdb.Pipeline()
		var cmds []*redis.Cmd
		for i := 0; i+1 < len(kv); i += 2 {
			q := kv[i]
			if busy[q] || q == app.DefaultQueue {
				continue
			}
			cmds = append(cmds, expireQueueScript.EvalSha(ctx, pipe,
				[]string{r.queueKey(q), r.thresholdsKey(q), r.historyKey(q), r.namesKey()}, q, cutoff, nowMs))
		}
		if len(cmds) > 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				return forgotten, unavailable(err)
			}
			for _, c := range cmds {
				if n, _ := c.Int(); n == 1 {
					forgotten++
				}
			}
		}
		if cursor = next; cursor == 0 {
			return forgotten, nil
		}
	}
}
