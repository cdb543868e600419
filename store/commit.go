package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// commitScript applies a Change atomically: it checks the expected queue
// versions and the version of every alert, storm record and digest it
// writes, then records the event key (SET NX), and writes nothing unless
// all of that passes. It returns 1 on success, 0 for a seen event key, -1
// or -2 when the queue's or the default queue's version moved, and -(2+k)
// when the k-th versioned record (alerts, then storm records, then
// digests) lost a race. A change without a queue ID (a digest's own step)
// writes nothing of any queue; one with a queue ID increments its version.
//
// KEYS: seen, queue, outbox, due, open, names, queue history, global
// history, default queue, then alert keys, storm keys, digest keys.
// ARGV: seenTTL, queueID, queueName, nAlerts, nStorms, nDigests, expected
// queue version, expected default version (-1: unchecked), known; per
// alert (id, version, data, dueMs, open, ttl, pruneField, was open: "1",
// "0" or "" unknown); per storm
// (version, data); per digest (id, version, data, dueMs, ttl); then
// nMembers, (digest index, field, member)…; nLatest, (field, value)…;
// nNotes, payloads…; nUndue, ids…; nFields, (field, value or "" to
// delete)…; nHistory, entries…; then the metric history section
// (history.go), whose series keys come last in KEYS.
var commitScript = redis.NewScript(commitLua + historyScript() + "return 1\n")

const commitLua = `
local seenTTL = tonumber(ARGV[1])
-- A replay is a duplicate, whatever moved since: checked only on the
-- failure path, so that a commit that passes costs one SET NX for it.
local function lost(code)
  if seenTTL > 0 and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
  return code
end
local eq, ed = tonumber(ARGV[7]), tonumber(ARGV[8])
if eq >= 0 and tonumber(redis.call('HGET', KEYS[2], 'cv') or '0') ~= eq then return lost(-1) end
if ed >= 0 and tonumber(redis.call('HGET', KEYS[9], 'cv') or '0') ~= ed then return lost(-2) end
local na, ns, nd = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local widths = {8, 2, 5}
local verAt = {1, 0, 1}
local counts = {na, ns, nd}
local i, k, n = 10, 10, 2
for kind = 1, 3 do
  for r = 1, counts[kind] do
    n = n + 1
    -- Checked even when the queue's version was: it also guards against a
    -- writer that does not move the queue's version (an older slabot in a
    -- rolling deploy).
    local v = tonumber(redis.call('HGET', KEYS[k], 'v') or '0')
    if v ~= tonumber(ARGV[i + verAt[kind]]) then return lost(-n) end
    i, k = i + widths[kind], k + 1
  end
end
if seenTTL > 0 and not redis.call('SET', KEYS[1], '1', 'NX', 'EX', seenTTL) then return 0 end
local queued = ARGV[2] ~= ''
if queued then
  if ARGV[9] ~= '1' and redis.call('HSETNX', KEYS[2], 'known', '1') == 1 then redis.call('HSETNX', KEYS[6], ARGV[2], '') end
  if ARGV[3] ~= '' then
    redis.call('HSET', KEYS[2], 'name', ARGV[3])
    redis.call('HSET', KEYS[6], ARGV[2], ARGV[3])
  end
end
i, k = 10, 10
for r = 1, na do
  local key, id = KEYS[k], ARGV[i]
  redis.call('HSET', key, 'v', tonumber(ARGV[i + 1]) + 1, 'data', ARGV[i + 2])
  if ARGV[i + 6] ~= '' then redis.call('HDEL', key, ARGV[i + 6]) end
  local ttl, was = tonumber(ARGV[i + 5]), ARGV[i + 7]
  local due = tonumber(ARGV[i + 3])
  if due > 0 then redis.call('ZADD', KEYS[4], due, id) else redis.call('ZREM', KEYS[4], id) end
  -- An open alert has no TTL and is in the open set; a closed one has a
  -- TTL and is not. Skip what the alert's previous state already did.
  if ARGV[i + 4] == '1' then
    if was ~= '1' then
      redis.call('PERSIST', key)
      redis.call('SADD', KEYS[5], id)
    end
  else
    redis.call('EXPIRE', key, ttl)
    if was ~= '0' then redis.call('SREM', KEYS[5], id) end
  end
  i, k = i + 8, k + 1
end
for r = 1, ns do
  redis.call('HSET', KEYS[k], 'v', tonumber(ARGV[i]) + 1, 'data', ARGV[i + 1])
  i, k = i + 2, k + 1
end
for r = 1, nd do
  local key, id = KEYS[k], ARGV[i]
  redis.call('HSET', key, 'v', tonumber(ARGV[i + 1]) + 1, 'data', ARGV[i + 2])
  local ttl = tonumber(ARGV[i + 4])
  if ttl > 0 then redis.call('EXPIRE', key, ttl) else redis.call('PERSIST', key) end
  local due = tonumber(ARGV[i + 3])
  if due > 0 then redis.call('ZADD', KEYS[4], due, id) else redis.call('ZREM', KEYS[4], id) end
  i, k = i + 5, k + 1
end
local nm = tonumber(ARGV[i]); i = i + 1
for j = 0, nm - 1 do
  redis.call('HSET', KEYS[9 + na + ns + tonumber(ARGV[i + 3 * j])], ARGV[i + 3 * j + 1], ARGV[i + 3 * j + 2])
end
i = i + 3 * nm
local nl = tonumber(ARGV[i]); i = i + 1
local fv = {}
if queued then -- the new version, and the latest values, in one HSET
  if eq >= 0 then fv[1], fv[2] = 'cv', eq + 1 else redis.call('HINCRBY', KEYS[2], 'cv', 1) end
end
for j = 0, nl - 1 do
  fv[#fv + 1] = 'm:' .. ARGV[i + 2 * j]
  fv[#fv + 1] = ARGV[i + 2 * j + 1]
end
if #fv > 0 then redis.call('HSET', KEYS[2], unpack(fv)) end
i = i + 2 * nl
local nn = tonumber(ARGV[i]); i = i + 1
for j = 0, nn - 1 do redis.call('XADD', KEYS[3], '*', 'n', ARGV[i + j]) end
i = i + nn
local nu = tonumber(ARGV[i]); i = i + 1
for j = 0, nu - 1 do redis.call('ZREM', KEYS[4], ARGV[i + j]) end
i = i + nu
local nf = tonumber(ARGV[i]); i = i + 1
for j = 0, nf - 1 do
  local f, v = ARGV[i + 2 * j], ARGV[i + 2 * j + 1]
  if v == '' then redis.call('HDEL', KEYS[2], f) else redis.call('HSET', KEYS[2], f, v) end
end
i = i + 2 * nf
local nh = tonumber(ARGV[i]); i = i + 1
for j = 0, nh - 1 do
  redis.call('LPUSH', KEYS[7], ARGV[i + j])
  redis.call('LPUSH', KEYS[8], ARGV[i + j])
end
if nh > 0 then
  redis.call('LTRIM', KEYS[7], 0, 99)
  redis.call('LTRIM', KEYS[8], 0, 499)
end
i = i + nh
local hk0 = 10 + na + ns + nd
`

// Commit applies c atomically (see commitScript). Concurrent commits
// share round trips (commitQueue).
func (r *Redis) Commit(ctx context.Context, c app.Change) error {
	keys, args, hkeys, err := r.commitArgs(c)
	if err != nil {
		return err
	}
	res, err := r.commits.run(ctx, r, scriptCall{keys: keys, args: args})
	if err != nil {
		return unavailable(err)
	}
	return r.committed(c, res, hkeys)
}

// CommitMany applies each change as Commit does, all in one round trip
// (a pipeline of script calls, each atomic on its own). It returns one
// error per change, nil for those applied.
func (r *Redis) CommitMany(ctx context.Context, cs []app.Change) []error {
	errs := make([]error, len(cs))
	hkeys := make([][]string, len(cs))
	calls := make([]scriptCall, 0, len(cs))
	at := make([]int, 0, len(cs))
	for i, c := range cs {
		var call scriptCall
		if call.keys, call.args, hkeys[i], errs[i] = r.commitArgs(c); errs[i] == nil {
			calls, at = append(calls, call), append(at, i)
		}
	}
	if len(calls) == 0 {
		return errs
	}
	r.evalCommits(ctx, calls)
	for n, i := range at {
		if calls[n].err != nil {
			errs[i] = unavailable(calls[n].err)
			continue
		}
		errs[i] = r.committed(cs[i], calls[n].res, hkeys[i])
	}
	return errs
}

// committed reads the commit script's answer res for c.
func (r *Redis) committed(c app.Change, res int, hkeys []string) error {
	switch {
	case res == 0:
		return app.ErrDuplicate
	case res == -1:
		return fmt.Errorf("queue %s changed: %w", c.QueueID, app.ErrConflict)
	case res == -2:
		return fmt.Errorf("default queue changed: %w", app.ErrConflict)
	case res < 0 && -res-2 <= len(c.Alerts):
		return fmt.Errorf("alert %s: %w", c.Alerts[-res-3].Alert.ID, app.ErrConflict)
	case res < 0 && -res-2 <= len(c.Alerts)+len(c.Storms):
		return fmt.Errorf("storm record of %s: %w", c.Storms[-res-3-len(c.Alerts)].Storm.Channel, app.ErrConflict)
	case res < 0:
		return fmt.Errorf("digest %s: %w", c.Digests[-res-3-len(c.Alerts)-len(c.Storms)].Digest.ID, app.ErrConflict)
	}
	r.historyCommitted(hkeys, c.At)
	return nil
}

// commitArgs are the commit script's keys and arguments for c, and the
// metric history series among the keys.
func (r *Redis) commitArgs(c app.Change) (keys []string, args []any, hkeys []string, err error) {
	if (len(c.Latest) > 0 || c.Snooze != nil || c.Route != nil || c.Hours != nil || c.QueueName != "" || c.EventKey != "") && c.QueueID == "" {
		return nil, nil, nil, fmt.Errorf("%w: a change of queue state names no queue", app.ErrBadEvent)
	}
	keys = make([]string, 0, 9+len(c.Alerts)+len(c.Storms)+len(c.Digests))
	seenTTL := 0
	seen := r.queueKey(c.QueueID)
	if c.EventKey != "" {
		seen, seenTTL = r.seenKey(c.QueueID, c.EventKey), int(SeenFor/time.Second)
	}
	keys = append(keys, seen, r.queueKey(c.QueueID), r.outboxKey(), r.dueKey(), r.openKey(), r.namesKey(),
		r.historyKey(c.QueueID), r.historyKey(""), r.queueKey(app.DefaultQueue))
	expectQueue, expectDefault := int64(-1), int64(-1)
	if c.Expect != nil {
		expectQueue, expectDefault = c.Expect.Queue, c.Expect.Default
	}
	known := "0"
	if c.Known {
		known = "1"
	}
	args = make([]any, 0, 16+2*len(c.Latest)+7*len(c.Alerts)+len(c.Notifications)+len(c.Undue))
	args = append(args, seenTTL, c.QueueID, c.QueueName, len(c.Alerts), len(c.Storms), len(c.Digests),
		expectQueue, expectDefault, known)
	for _, w := range c.Alerts {
		k, err := r.alertKey(w.Alert.ID)
		if err != nil {
			return nil, nil, nil, err
		}
		keys = append(keys, k)
		data, err := json.Marshal(w.Alert)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode alert: %w", err)
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
		was := "" // unknown: do all
		if w.Prior != nil {
			was = "0"
			if *w.Prior == app.StatePending || w.Prior.Open() {
				was = "1"
			}
		}
		args = append(args, w.Alert.ID, w.Version, data, dueMillis(w.Due), isOpen, ttl, prune, was)
	}
	for _, w := range c.Storms {
		keys = append(keys, r.stormKey(w.Storm.Channel))
		data, err := json.Marshal(w.Storm)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode storm record: %w", err)
		}
		args = append(args, w.Version, data)
	}
	for _, w := range c.Digests {
		k, err := r.digestKey(w.Digest.ID)
		if err != nil {
			return nil, nil, nil, err
		}
		keys = append(keys, k)
		data, err := json.Marshal(w.Digest)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode digest: %w", err)
		}
		ttl := 0
		if w.Digest.Closed() {
			ttl = int(resolvedFor / time.Second)
		}
		args = append(args, w.Digest.ID, w.Version, data, dueMillis(w.Due), ttl)
	}
	var members []any
	for i, w := range c.Digests {
		for _, m := range w.Members {
			data, err := json.Marshal(m)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("encode digest member: %w", err)
			}
			members = append(members, i+1, memberField(m), data)
		}
	}
	args = append(args, len(members)/3)
	args = append(args, members...)
	args = append(args, len(c.Latest))
	for k, v := range c.Latest {
		args = append(args, k, strconv.FormatFloat(v, 'g', -1, 64))
	}
	args = append(args, len(c.Notifications))
	for _, n := range c.Notifications {
		payload, err := json.Marshal(n)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode notification: %w", err)
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
	if c.Hours != nil {
		hours := ""
		if c.Hours.Set() {
			data, err := json.Marshal(c.Hours)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("encode hours: %w", err)
			}
			hours = string(data)
		}
		fields = append(fields, "hours", hours)
	}
	args = append(args, len(fields)/2)
	args = append(args, fields...)
	args = append(args, len(c.History))
	for _, h := range c.History {
		data, err := json.Marshal(h)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode history: %w", err)
		}
		args = append(args, data)
	}
	hkeys, hargs := r.historyArgs(c)
	keys = append(keys, hkeys...)
	args = append(args, len(hkeys))
	args = append(args, hargs...)
	return keys, args, hkeys, nil
}

// dueMillis is a due time as a sorted-set score; 0 means none.
func dueMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixMilli(), 1)
}

// keepMessages is how many episodes' message ts an alert keeps. A queue
// that flaps faster than Slack's pacing builds a backlog of updates and
// resolutions for old episodes; their message ts must outlive it.
const keepMessages = 100

func tsField(episode int) string { return "ts:" + strconv.Itoa(episode) }
