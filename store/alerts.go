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
	// SeenFor is how long an event key is remembered (DESIGN §2.1).
	SeenFor = 24 * time.Hour
	// resolvedFor keeps a resolved alert (its episode counter and message
	// ts) long enough for late notifications and for /sla history.
	resolvedFor = 7 * 24 * time.Hour
)

// Load reads, in one round trip, everything the engine needs to evaluate
// observations of one queue.
func (r *Redis) Load(ctx context.Context, queueID, eventKey string, alertIDs []string) (app.Snapshot, error) {
	pipe := r.rdb.Pipeline()
	var seen *redis.IntCmd
	if eventKey != "" {
		seen = pipe.Exists(ctx, r.seenKey(queueID, eventKey))
	}
	queue := pipe.HGetAll(ctx, r.queueKey(queueID))
	all := pipe.HGet(ctx, r.queueKey(app.DefaultQueue), "snooze_until")
	own := pipe.HGetAll(ctx, r.thresholdsKey(queueID))
	defaults := pipe.HGetAll(ctx, r.thresholdsKey(app.DefaultQueue))
	alerts := make([]*redis.SliceCmd, len(alertIDs))
	for i, id := range alertIDs {
		k, err := r.alertKey(id)
		if err != nil {
			return app.Snapshot{}, err
		}
		alerts[i] = pipe.HMGet(ctx, k, "v", "data")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return app.Snapshot{}, unavailable(err)
	}
	snap := app.Snapshot{
		Seen:       seen != nil && seen.Val() > 0,
		Queue:      decodeQueue(queueID, queue.Val()),
		Thresholds: decodeThresholds(own.Val()),
		Defaults:   decodeThresholds(defaults.Val()),
		Alerts:     make(map[string]app.VersionedAlert, len(alertIDs)),
	}
	if ms, err := strconv.ParseInt(all.Val(), 10, 64); err == nil {
		snap.AllSnoozedUntil = time.UnixMilli(ms)
	}
	for i, id := range alertIDs {
		va, ok, err := decodeAlert(alerts[i].Val())
		if err != nil {
			return app.Snapshot{}, fmt.Errorf("alert %s: %w", id, err)
		}
		if ok {
			snap.Alerts[id] = va
		}
	}
	return snap, nil
}

func decodeQueue(id string, h map[string]string) app.Queue {
	q := app.Queue{ID: id, Name: h["name"], Route: h["route"], SnoozedBy: h["snooze_by"], Latest: make(map[string]float64)}
	if ms, err := strconv.ParseInt(h["snooze_until"], 10, 64); err == nil {
		q.SnoozedUntil = time.UnixMilli(ms)
	}
	for k, v := range h {
		if name, ok := strings.CutPrefix(k, "m:"); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q.Latest[name] = f
			}
		}
	}
	return q
}

func decodeThresholds(h map[string]string) map[app.Metric]app.Threshold {
	out := make(map[app.Metric]app.Threshold, len(h))
	for _, v := range h {
		var t app.Threshold
		if err := json.Unmarshal([]byte(v), &t); err == nil {
			out[t.Metric] = t
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

// commitScript applies a Change atomically: it checks the event key and
// every alert version first and writes nothing unless all pass. It returns
// 1 on success, 0 for a seen event key and -k when alert k lost a race.
//
// KEYS: seen, queue, outbox, due, open, names, alert keys…
// KEYS also: queue history, global history (after names, before alerts).
// ARGV: seenTTL, queueID, queueName, nLatest, (field, value)…, then per
// alert (id, version, data, dueMs, open, ttl, pruneField), then nNotes,
// payloads…, then nUndue, ids…, then nFields, (field, value or "" to
// delete)…, then nHistory, entries…
var commitScript = redis.NewScript(`
local seenTTL = tonumber(ARGV[1])
if seenTTL > 0 and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local nl = tonumber(ARGV[4])
local a0 = 5 + 2 * nl
local nalerts = #KEYS - 8
for k = 1, nalerts do
  local v = tonumber(redis.call('HGET', KEYS[8 + k], 'v') or '0')
  if v ~= tonumber(ARGV[a0 + (k - 1) * 7 + 1]) then return -k end
end
if seenTTL > 0 then redis.call('SET', KEYS[1], '1', 'EX', seenTTL) end
if redis.call('HSETNX', KEYS[2], 'known', '1') == 1 then redis.call('HSETNX', KEYS[6], ARGV[2], '') end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'name', ARGV[3])
  redis.call('HSET', KEYS[6], ARGV[2], ARGV[3])
end
for k = 0, nl - 1 do
  redis.call('HSET', KEYS[2], 'm:' .. ARGV[5 + 2 * k], ARGV[6 + 2 * k])
end
for k = 1, nalerts do
  local b = a0 + (k - 1) * 7
  local key, id = KEYS[8 + k], ARGV[b]
  redis.call('HSET', key, 'v', tonumber(ARGV[b + 1]) + 1, 'data', ARGV[b + 2])
  if ARGV[b + 6] ~= '' then redis.call('HDEL', key, ARGV[b + 6]) end
  local ttl = tonumber(ARGV[b + 5])
  if ttl > 0 then redis.call('EXPIRE', key, ttl) else redis.call('PERSIST', key) end
  local due = tonumber(ARGV[b + 3])
  if due > 0 then redis.call('ZADD', KEYS[4], due, id) else redis.call('ZREM', KEYS[4], id) end
  if ARGV[b + 4] == '1' then redis.call('SADD', KEYS[5], id) else redis.call('SREM', KEYS[5], id) end
end
local i = a0 + nalerts * 7
local nn = tonumber(ARGV[i]); i = i + 1
for k = 0, nn - 1 do redis.call('XADD', KEYS[3], '*', 'n', ARGV[i + k]) end
i = i + nn
local nu = tonumber(ARGV[i]); i = i + 1
for k = 0, nu - 1 do redis.call('ZREM', KEYS[4], ARGV[i + k]) end
i = i + nu
local nf = tonumber(ARGV[i]); i = i + 1
for k = 0, nf - 1 do
  local f, v = ARGV[i + 2 * k], ARGV[i + 2 * k + 1]
  if v == '' then redis.call('HDEL', KEYS[2], f) else redis.call('HSET', KEYS[2], f, v) end
end
i = i + 2 * nf
local nh = tonumber(ARGV[i]); i = i + 1
for k = 0, nh - 1 do
  redis.call('LPUSH', KEYS[7], ARGV[i + k])
  redis.call('LPUSH', KEYS[8], ARGV[i + k])
end
if nh > 0 then
  redis.call('LTRIM', KEYS[7], 0, 99)
  redis.call('LTRIM', KEYS[8], 0, 499)
end
return 1
`)

// Commit applies c atomically (see commitScript).
func (r *Redis) Commit(ctx context.Context, c app.Change) error {
	keys := make([]string, 0, 6+len(c.Alerts))
	seenTTL := 0
	seen := r.queueKey(c.QueueID)
	if c.EventKey != "" {
		seen, seenTTL = r.seenKey(c.QueueID, c.EventKey), int(SeenFor/time.Second)
	}
	keys = append(keys, seen, r.queueKey(c.QueueID), r.outboxKey(), r.dueKey(), r.openKey(), r.namesKey(),
		r.historyKey(c.QueueID), r.historyKey(""))
	args := make([]any, 0, 6+2*len(c.Latest)+7*len(c.Alerts)+len(c.Notifications)+len(c.Undue))
	args = append(args, seenTTL, c.QueueID, c.QueueName, len(c.Latest))
	for k, v := range c.Latest {
		args = append(args, k, strconv.FormatFloat(v, 'g', -1, 64))
	}
	for _, w := range c.Alerts {
		k, err := r.alertKey(w.Alert.ID)
		if err != nil {
			return err
		}
		keys = append(keys, k)
		data, err := json.Marshal(w.Alert)
		if err != nil {
			return fmt.Errorf("encode alert: %w", err)
		}
		var due int64
		if !w.Due.IsZero() {
			due = max(w.Due.UnixMilli(), 1)
		}
		isOpen, ttl := "0", 0
		if w.Alert.State == app.StatePending || w.Alert.State.Open() {
			isOpen = "1"
		} else {
			ttl = int(resolvedFor / time.Second)
		}
		prune := ""
		if w.Alert.Episode > keepMessages {
			prune = tsField(w.Alert.Episode - keepMessages)
		}
		args = append(args, w.Alert.ID, w.Version, data, due, isOpen, ttl, prune)
	}
	args = append(args, len(c.Notifications))
	for _, n := range c.Notifications {
		payload, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("encode notification: %w", err)
		}
		args = append(args, payload)
	}
	args = append(args, len(c.Undue))
	for _, id := range c.Undue {
		args = append(args, id)
	}
	var fields []any
	if sn := c.Snooze; sn != nil {
		until := ""
		if !sn.Until.IsZero() {
			until = strconv.FormatInt(sn.Until.UnixMilli(), 10)
		}
		fields = append(fields, "snooze_until", until, "snooze_by", sn.By)
	}
	if c.Route != nil {
		fields = append(fields, "route", *c.Route)
	}
	args = append(args, len(fields)/2)
	args = append(args, fields...)
	args = append(args, len(c.History))
	for _, h := range c.History {
		data, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("encode history: %w", err)
		}
		args = append(args, data)
	}
	res, err := commitScript.Run(ctx, r.rdb, keys, args...).Int()
	switch {
	case err != nil:
		return unavailable(err)
	case res == 0:
		return app.ErrDuplicate
	case res < 0:
		return fmt.Errorf("alert %s: %w", c.Alerts[-res-1].Alert.ID, app.ErrConflict)
	}
	return nil
}

// keepMessages is how many episodes' message ts an alert keeps. A queue
// that flaps faster than Slack's pacing builds a backlog of updates and
// resolutions for old episodes; their message ts must outlive it.
const keepMessages = 100

func tsField(episode int) string { return "ts:" + strconv.Itoa(episode) }

// Due returns up to limit alert IDs whose time-driven evaluation is due.
func (r *Redis) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	ids, err := r.rdb.ZRangeByScore(ctx, r.dueKey(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	return ids, nil
}
