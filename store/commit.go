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

// commitScript applies a Change atomically. Its first argument is a
// commitHeader, with a record of named fields for each alert, storm
// record, digest and digest member it writes. The stored form of each of
// those follows, in the same order, then the queue's latest values (key,
// value), the notifications, the history entries and the metric history
// points (history.go), as the header's counts say. KEYS start with the
// queue's keys and the global ones (see commitArgs; the first is the
// common start of the queue's mark sets' keys, whose {queue} tag they
// share), then one key per alert (and after it, when the write ends a
// breach episode, the list of ended episodes it joins: episodes.go), storm
// record and digest, then the metric history series.
//
// It checks the expected queue versions and the version of every record
// it writes, then records the event key's mark (seen.go), and writes nothing
// unless all of that passes. It returns 1 on success, 0 for a seen event
// key, -1 or -2 when the queue's or the default queue's version moved,
// and -(2+k) when the k-th versioned record (alerts, then storm records,
// then digests) lost a race. A change without a queue (a digest's own
// step) writes nothing of any queue; one with a queue increments its
// version.
var commitScript = redis.NewScript(seenLua + commitLua + historyScript() + "return 1\n")

const commitLua = `
local c = cjson.decode(ARGV[1])
local none = {}
local alerts, storms, digests, members = c.alerts or none, c.storms or none, c.digests or none, c.members or none
local versioned = {alerts, storms, digests}
local seenBase, queueKey, outboxKey, dueKey, openKey, namesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local queueHistoryKey, historyKey, defaultKey = KEYS[7], KEYS[8], KEYS[9]
local keyAt, at = 9, 1
local function key() keyAt = keyAt + 1; return KEYS[keyAt] end
local function arg() at = at + 1; return ARGV[at] end

-- Each record's key and stored form, in the header's order.
for _, records in ipairs(versioned) do
  for _, r in ipairs(records) do
    r.key, r.data = key(), arg()
    if r.ep then r.epkey = key() end -- the list of its day's ended episodes
  end
end
for _, m in ipairs(members) do m.data = arg() end
local fv = {} -- the queue's latest values (and, below, its new version): one HSET
for _ = 1, c.latest or 0 do
  local f = arg()
  fv[#fv + 1] = 'm:' .. f
  fv[#fv + 1] = arg()
  if c.latest_at then -- when the value was observed, to order later events
    fv[#fv + 1] = 't:' .. f
    fv[#fv + 1] = c.latest_at
  end
end
local notes, entries = {}, {}
for r = 1, c.notes or 0 do notes[r] = arg() end
for r = 1, c.entries or 0 do entries[r] = arg() end

-- A replay is a duplicate, whatever moved since: checked only on the
-- failure path, so that a commit that passes looks for its mark once, as
-- it adds it (an SCARD and an SADD, for an event that carries a stamp).
local function lost(code)
  if c.seen and seen(seenBase, c.seen, false) then return 0 end
  return code
end
if c.expect_queue then
  if tonumber(redis.call('HGET', queueKey, 'cv') or '0') ~= c.expect_queue then return lost(-1) end
  if tonumber(redis.call('HGET', defaultKey, 'cv') or '0') ~= c.expect_default then return lost(-2) end
end
-- Each record's version is checked even when the queue's was: it also
-- guards against a writer that does not move the queue's version (an
-- older slabot in a rolling deploy).
local n = 2
for _, records in ipairs(versioned) do
  for _, r in ipairs(records) do
    n = n + 1
    if tonumber(redis.call('HGET', r.key, 'v') or '0') ~= r.version then return lost(-n) end
  end
end
if c.seen and seen(seenBase, c.seen, true) then return 0 end

local queued = c.queue ~= ''
if queued then
  if not c.known and redis.call('HSETNX', queueKey, 'known', '1') == 1 then redis.call('HSETNX', namesKey, c.queue, '') end
  if c.name then
    redis.call('HSET', queueKey, 'name', c.name)
    redis.call('HSET', namesKey, c.queue, c.name)
  end
end
for _, a in ipairs(alerts) do
  redis.call('HSET', a.key, 'v', a.version + 1, 'data', a.data)
  if a.prune then redis.call('HDEL', a.key, a.prune) end
  if a.due > 0 then redis.call('ZADD', dueKey, a.due, a.id) else redis.call('ZREM', dueKey, a.id) end
  -- An open alert has no TTL and is in the open set; a closed one has a
  -- TTL and is not. Skip what the alert's previous state already did
  -- (was_open is absent when that state is unknown).
  if a.open then
    if a.was_open ~= true then
      redis.call('PERSIST', a.key)
      redis.call('SADD', openKey, a.id)
    end
  else
    redis.call('EXPIRE', a.key, a.ttl)
    local closed = 0
    if a.was_open ~= false then closed = redis.call('SREM', openKey, a.id) end
    -- An episode ends, and is recorded, exactly when its alert leaves
    -- the open set: once, whatever retries and replicas do.
    if closed == 1 and a.ep then
      redis.call('RPUSH', a.epkey, a.ep)
      redis.call('EXPIRE', a.epkey, a.ep_ttl)
    end
  end
end
for _, s in ipairs(storms) do
  redis.call('HSET', s.key, 'v', s.version + 1, 'data', s.data)
end
for _, d in ipairs(digests) do
  redis.call('HSET', d.key, 'v', d.version + 1, 'data', d.data)
  if d.ttl > 0 then redis.call('EXPIRE', d.key, d.ttl) else redis.call('PERSIST', d.key) end
  if d.due > 0 then redis.call('ZADD', dueKey, d.due, d.id) else redis.call('ZREM', dueKey, d.id) end
end
for _, m in ipairs(members) do
  redis.call('HSET', digests[m.digest].key, m.field, m.data)
end
if queued then
  if c.at then fv[#fv + 1], fv[#fv + 2] = 'at', c.at end -- the queue's last data, for ExpireQueues
  if c.expect_queue then
    fv[#fv + 1], fv[#fv + 2] = 'cv', c.expect_queue + 1
  else
    redis.call('HINCRBY', queueKey, 'cv', 1)
  end
end
if #fv > 0 then redis.call('HSET', queueKey, unpack(fv)) end
for _, payload in ipairs(notes) do redis.call('XADD', outboxKey, '*', 'n', payload) end
for _, id in ipairs(c.undue or none) do redis.call('ZREM', dueKey, id) end
for f, v in pairs(c.fields or none) do
  if v == '' then redis.call('HDEL', queueKey, f) else redis.call('HSET', queueKey, f, v) end
end
for _, e in ipairs(entries) do
  redis.call('LPUSH', queueHistoryKey, e)
  redis.call('LPUSH', historyKey, e)
end
if #entries > 0 then
  redis.call('LTRIM', queueHistoryKey, 0, 99)
  redis.call('LTRIM', historyKey, 0, 499)
end
`

// commitHeader is the commit script's first argument: what a change does
// to its queue, and how many records of each kind follow.
type commitHeader struct {
	Queue string `json:"queue"`
	Name  string `json:"name,omitempty"` // the queue's new name
	// Seen is the event key's mark (seen.go); nil: no event key.
	Seen *markRecord `json:"seen,omitempty"`
	// ExpectQueue and ExpectDefault, when set, are the queue's and the
	// default queue's versions the change was decided on.
	ExpectQueue   *int64 `json:"expect_queue,omitempty"`
	ExpectDefault *int64 `json:"expect_default,omitempty"`
	// Known skips adding the queue to the index of known queues.
	Known bool `json:"known,omitempty"`
	// Fields are queue hash fields to set ("" deletes).
	Fields map[string]string `json:"fields,omitempty"`
	Undue  []string          `json:"undue,omitempty"`

	Alerts  []alertRecord  `json:"alerts,omitempty"`
	Storms  []stormRecord  `json:"storms,omitempty"`
	Digests []digestRecord `json:"digests,omitempty"`
	Members []memberRecord `json:"members,omitempty"`
	Latest  int            `json:"latest,omitempty"` // latest values, each a LatestKey and a value
	// LatestAt is when the latest values were observed (Unix ms), if known.
	LatestAt int64 `json:"latest_at,omitempty"`
	// At is when the latest values were committed (Unix ms): the queue's
	// last data, for ExpireQueues.
	At      int64 `json:"at,omitempty"`
	Notes   int   `json:"notes,omitempty"`
	Entries int   `json:"entries,omitempty"` // /sla history entries
	// Series metric history points follow, all of minute Minute.
	Series int   `json:"series,omitempty"`
	Minute int64 `json:"minute,omitempty"`
}

// alertRecord is how the commit script writes one alert.
type alertRecord struct {
	ID      string `json:"id"`
	Version int64  `json:"version"` // the stored version it replaces
	Due     int64  `json:"due"`     // time-driven index score; 0: none
	Open    bool   `json:"open"`
	TTL     int    `json:"ttl"`             // seconds a closed alert is kept
	Prune   string `json:"prune,omitempty"` // a message ts field too old to keep
	// WasOpen is the stored alert's openness, when known.
	WasOpen *bool `json:"was_open,omitempty"`
	// Episode is the record of the breach episode this write ends, if
	// it ends one (episodes.go), and EpisodeTTL the seconds its day's
	// list is kept; its key follows the alert's.
	Episode    string `json:"ep,omitempty"`
	EpisodeTTL int    `json:"ep_ttl,omitempty"`
}

type stormRecord struct {
	Version int64 `json:"version"`
}

type digestRecord struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Due     int64  `json:"due"`
	TTL     int    `json:"ttl"` // 0: kept while open
}

type memberRecord struct {
	Digest int    `json:"digest"` // 1-based, among the change's digests
	Field  string `json:"field"`
}

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
	h := commitHeader{Queue: c.QueueID, Name: c.QueueName, Known: c.Known, Undue: c.Undue,
		Notes: len(c.Notifications), Entries: len(c.History)}
	if c.EventKey != "" {
		rec := r.marks.record(c.EventKey, c.EventSentAt, c.At)
		h.Seen = &rec
	}
	if c.Expect != nil {
		h.ExpectQueue, h.ExpectDefault = &c.Expect.Queue, &c.Expect.Default
	}
	if h.Fields, err = queueFields(c); err != nil {
		return nil, nil, nil, err
	}
	keys = make([]string, 0, 9+len(c.Alerts)+len(c.Storms)+len(c.Digests))
	keys = append(keys, r.seenBase(c.QueueID), r.queueKey(c.QueueID), r.outboxKey(), r.dueKey(), r.openKey(), r.namesKey(),
		r.historyKey(c.QueueID), r.historyKey(""), r.queueKey(app.DefaultQueue))
	var records []any // after the header: each record's stored form, and so on
	add := func(stored any) error {
		data, err := json.Marshal(stored)
		records = append(records, data)
		return err
	}
	for _, w := range c.Alerts {
		k, err := r.alertKey(w.Alert.ID)
		if err != nil {
			return nil, nil, nil, err
		}
		keys = append(keys, k)
		rec := alertRecord{ID: w.Alert.ID, Version: w.Version, Due: dueMillis(w.Due), Open: w.Alert.State == app.StatePending || w.Alert.State.Open()}
		if !rec.Open {
			rec.TTL = int(resolvedFor / time.Second)
		}
		if w.Alert.Episode > keepMessages {
			rec.Prune = tsField(w.Alert.Episode - keepMessages)
		}
		if w.Prior != nil {
			was := *w.Prior == app.StatePending || w.Prior.Open()
			rec.WasOpen = &was
		}
		if line, ek, ttl, ends := r.episodeRecord(w.Alert); ends && (rec.WasOpen == nil || *rec.WasOpen) {
			rec.Episode, rec.EpisodeTTL = line, ttl
			keys = append(keys, ek)
		}
		h.Alerts = append(h.Alerts, rec)
		if err := add(w.Alert); err != nil {
			return nil, nil, nil, fmt.Errorf("encode alert: %w", err)
		}
	}
	for _, w := range c.Storms {
		keys = append(keys, r.stormKey(w.Storm.Channel))
		h.Storms = append(h.Storms, stormRecord{Version: w.Version})
		if err := add(w.Storm); err != nil {
			return nil, nil, nil, fmt.Errorf("encode storm record: %w", err)
		}
	}
	for _, w := range c.Digests {
		k, err := r.digestKey(w.Digest.ID)
		if err != nil {
			return nil, nil, nil, err
		}
		keys = append(keys, k)
		rec := digestRecord{ID: w.Digest.ID, Version: w.Version, Due: dueMillis(w.Due)}
		if w.Digest.Closed() {
			rec.TTL = int(resolvedFor / time.Second)
		}
		h.Digests = append(h.Digests, rec)
		if err := add(w.Digest); err != nil {
			return nil, nil, nil, fmt.Errorf("encode digest: %w", err)
		}
	}
	for i, w := range c.Digests {
		for _, m := range w.Members {
			h.Members = append(h.Members, memberRecord{Digest: i + 1, Field: memberField(m)})
			if err := add(m); err != nil {
				return nil, nil, nil, fmt.Errorf("encode digest member: %w", err)
			}
		}
	}
	for k, v := range c.Latest {
		records = append(records, k, strconv.FormatFloat(v, 'g', -1, 64))
	}
	h.Latest = len(c.Latest)
	if h.Latest > 0 && !c.At.IsZero() {
		h.At = c.At.UnixMilli()
	}
	if !c.ObservedAt.IsZero() {
		h.LatestAt = c.ObservedAt.UnixMilli()
	}
	for _, n := range c.Notifications {
		payload, err := json.Marshal(n)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode notification: %w", err)
		}
		records = append(records, payload)
	}
	for _, e := range c.History {
		data, err := json.Marshal(e)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode history: %w", err)
		}
		records = append(records, data)
	}
	hkeys, minute, points := r.historyArgs(c)
	keys = append(keys, hkeys...)
	h.Series, h.Minute = len(hkeys), minute
	header, err := json.Marshal(h)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode commit: %w", err)
	}
	args = make([]any, 0, 1+len(records)+len(points))
	args = append(args, header)
	args = append(args, records...)
	args = append(args, points...)
	return keys, args, hkeys, nil
}

// queueFields are the queue hash fields c sets ("" deletes one): its
// snooze, route and business hours.
func queueFields(c app.Change) (map[string]string, error) {
	if c.Snooze == nil && c.Route == nil && c.Hours == nil {
		return nil, nil
	}
	fields := make(map[string]string, 4)
	if sn := c.Snooze; sn != nil {
		until := ""
		if !sn.Until.IsZero() {
			until = strconv.FormatInt(sn.Until.UnixMilli(), 10)
		}
		fields["snooze_until"], fields["snooze_by"] = until, sn.By
	}
	if c.Route != nil {
		fields["route"] = *c.Route
	}
	if c.Hours != nil {
		hours := ""
		if c.Hours.Set() {
			data, err := json.Marshal(c.Hours)
			if err != nil {
				return nil, fmt.Errorf("encode hours: %w", err)
			}
			hours = string(data)
		}
		fields["hours"] = hours
	}
	return fields, nil
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
