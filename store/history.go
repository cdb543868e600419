package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// Metric history for threshold previews: one point a minute for each of a
// queue's series (media type and metric), over the last 7 days.
//
// Each series is one Redis string per UTC day, "<series key>:<day>" (days
// since the Unix epoch): dayMinutes 2-byte points, minute m of the day at
// offset 2m, so a day costs only up to its last minute written, and the
// series' last minute written is the end of its latest day string. Days
// before today are compacted by CompactHistory (compact.go) into one
// compact string per series. A point is the first value seen in its minute,
// encoded by encodePoint; a minute without data reads as noPoint, the zero
// bytes Redis pads a string with. The commit script writes a series at
// most once a minute: the first observation of a new minute fills the
// minutes since the last one with the value that held during them
// (Genesys notifies only on change), for at most carryMinutes, and writes
// its own point.
const (
	historySlots = 7 * 24 * 60
	dayMinutes   = 24 * 60
	// carryMinutes bounds how long a value is assumed to hold without an
	// event: longer gaps are more likely an outage than a steady queue.
	carryMinutes = 6 * 60
	// keepDays: day d's string expires carryMinutes into day d+keepDays,
	// once no 7-day window covers it and no carry from its last point can
	// reach into one.
	keepDays = 8
	noPoint  = 0
	// historyCacheSize bounds each of historyCache's two generations.
	historyCacheSize = 1 << 14
)

// historySeriesKey is the series of latestKey of a queue; its day strings
// are named from it by historyDayKey and by the commit script.
func (r *Redis) historySeriesKey(queueID, latestKey string) string {
	return r.prefix + "{" + queueID + "}:h:" + latestKey
}

func historyDayKey(seriesKey string, day int64) string {
	return seriesKey + ":" + strconv.FormatInt(day, 10)
}

// encodePoint packs a metric value into 2 bytes, never noPoint: 1 + whole
// seconds for longest_wait (up to 18 h), whole counts, and percentages in
// hundredths. Larger values are capped: far past any threshold either way.
func encodePoint(m app.Metric, v float64) uint16 {
	if m.IsRate() {
		v *= 100
	}
	v = math.Round(v)
	switch {
	case math.IsNaN(v) || v < 0:
		return 1
	case v >= math.MaxUint16-1:
		return math.MaxUint16
	}
	return uint16(v) + 1
}

func decodePoint(m app.Metric, p uint16) float64 {
	if m.IsRate() {
		return float64(p-1) / 100
	}
	return float64(p - 1)
}

func pointBytes(p uint16) string { return string([]byte{byte(p >> 8), byte(p)}) }

// metricOf is the metric a latest key ("media/metric") is about.
func metricOf(latestKey string) (app.Metric, bool) {
	i := strings.LastIndexByte(latestKey, '/')
	m, err := app.ParseMetric(latestKey[i+1:])
	return m, err == nil && string(m) == latestKey[i+1:]
}

// historyArgs are the commit script's history points of c: its series
// keys, the minute of c.At, and for each series its latest value and the
// value that held before (c.Prior, or ""). It leaves out the series this
// process has already committed in that minute (historyCommitted): the
// script would only find them written, and everything while the memory
// guard has paused history.
func (r *Redis) historyArgs(c app.Change) (keys []string, minute int64, args []any) {
	if c.At.IsZero() || c.QueueID == "" || r.historyOff.Load() {
		return nil, 0, nil
	}
	minute = c.At.Unix() / 60
	for k, v := range c.Latest {
		m, ok := metricOf(k)
		if !ok {
			continue
		}
		key := r.historySeriesKey(c.QueueID, k)
		if r.hist.has(key, minute) {
			continue
		}
		prev := ""
		if p, ok := c.Prior[k]; ok {
			prev = pointBytes(encodePoint(m, p))
		}
		keys = append(keys, key)
		args = append(args, pointBytes(encodePoint(m, v)), prev)
	}
	return keys, minute, args
}

// historyCommitted records that the series keys historyArgs gave for a
// change at time at were committed. Commit calls it only once the script
// has succeeded: a failed one wrote nothing.
func (r *Redis) historyCommitted(keys []string, at time.Time) {
	if len(keys) > 0 {
		r.hist.add(keys, at.Unix()/60)
	}
}

// historyCache is the last minute this process committed of each series
// recently written, so that events after the first of a minute send no
// history: the script writes a series at most once a minute, and minutes
// only move forward, so skipping is right whoever wrote the series since.
// Two generations bound it: when the current one is full it becomes the
// previous, and the previous is dropped. The zero value is ready to use.
type historyCache struct {
	mu        sync.Mutex
	cur, prev map[string]int64
}

// has reports whether series key was committed in minute (or later).
func (c *historyCache) has(key string, minute int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.cur[key]
	if !ok {
		m, ok = c.prev[key]
	}
	return ok && m >= minute
}

func (c *historyCache) add(keys []string, minute int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if c.cur == nil || len(c.cur) >= historyCacheSize {
			c.prev, c.cur = c.cur, make(map[string]int64)
		}
		if m, ok := c.cur[k]; !ok || m < minute {
			c.cur[k] = minute
		}
	}
}

// historyLua is the commit script's last section: c.series series keys
// (key()), each with its point in minute c.minute and the prior point or
// "" (arg()). A series' last minute written is the
// end of today's string or, on the first write of a day, of the most
// recent day string still kept; without a prior point there is nothing to
// carry, so no need to look. That earlier day is then complete, and is
// rewritten once with SET: SETRANGE leaves room to grow, up to as much
// again. Day strings are named from the series key, whose hash tag (and
// so cluster slot) they share.
const historyLua = `
local np = c.series or 0
if np > 0 then
  local m = c.minute
  local daym, carry, keep = DAYM, CARRY, KEEP
  local day, first = math.floor(m / daym), m - SLOTS + 1
  local base
  local function dkey(d) return base .. string.format('%d', d) end
  -- Seconds until carry minutes into day d + keep (see keepDays).
  local function ttl(d) return ((d + keep) * daym + carry - m) * 60 end
  for j = 1, np do
    local p, prev = arg(), arg()
    base = key() .. ':'
    local today = dkey(day)
    local n = redis.call('STRLEN', today)
    local last, lastDay = -1, day
    if n > 0 then
      last = day * daym + math.floor(n / 2) - 1
    elseif prev ~= '' then
      for d = day - 1, day - keep, -1 do
        local l = redis.call('STRLEN', dkey(d))
        if l > 0 then
          last, lastDay = d * daym + math.floor(l / 2) - 1, d
          break
        end
      end
    end
    if m > last then
      -- Minutes h0 … h1 held the prior value: those within carry of the
      -- last point and in the window. The rest until m have no data.
      local h0, h1 = math.max(last + 1, first), -1
      if last >= 0 and prev ~= '' then h1 = math.min(m - 1, last + carry) end
      while h0 <= h1 and math.floor(h0 / daym) < day do
        local d = math.floor(h0 / daym)
        local e = math.min(h1, d * daym + daym - 1)
        redis.call('SETRANGE', dkey(d), 2 * (h0 - d * daym), string.rep(prev, e - h0 + 1))
        if d ~= lastDay then redis.call('EXPIRE', dkey(d), ttl(d)) end
        h0 = e + 1
      end
      -- An earlier last day gets no more points: keep it at its size (a
      -- day keep days back is past every window, and about to expire).
      if last >= 0 and lastDay < day and lastDay > day - keep then
        local k = dkey(lastDay)
        redis.call('SET', k, redis.call('GET', k), 'EX', ttl(lastDay))
      end
      local off, s = 2 * (m - day * daym), p
      if h0 <= h1 then
        off = 2 * (h0 - day * daym)
        s = string.rep(prev, h1 - h0 + 1) .. string.rep(string.char(0, 0), m - 1 - h1) .. p
      end
      -- Today's string is rewritten whole with SET: one grown by SETRANGE
      -- keeps spare room, up to as much again (and today's is the largest
      -- part of a series' history once older days are compacted).
      if n == 0 then
        redis.call('SET', today, string.rep(string.char(0), off) .. s, 'EX', ttl(day))
      else
        local cur = redis.call('GET', today)
        redis.call('SET', today, cur .. string.rep(string.char(0), off - n) .. s, 'keepttl') -- lower case: KEEP is a placeholder
      end
    end
  end
end
`

// historyScript is historyLua with its constants in place.
func historyScript() string {
	return strings.NewReplacer("SLOTS", strconv.Itoa(historySlots), "DAYM", strconv.Itoa(dayMinutes),
		"CARRY", strconv.Itoa(carryMinutes), "KEEP", strconv.Itoa(keepDays)).Replace(historyLua)
}

// MetricHistory returns the history of metric m of a queue, one series per
// media type, each covering the 7 days up to now, one value a minute
// (NaN where there is no data). Days CompactHistory has compacted come
// from the series' compact string: today and yesterday (UTC) at one point
// a minute, older days at HistoryCoarseStep, each coarse point repeated
// over its minutes. Raw day strings not compacted yet are read as they
// are, and take precedence. Minutes after the last point of the raw days
// hold the queue's latest value, as they did, for at most carryMinutes
// (the compactor has already filled that carry in for compacted days).
func (r *Redis) MetricHistory(ctx context.Context, queueID string, m app.Metric, now time.Time) ([]app.Series, error) {
	q, err := r.rdb.HGetAll(ctx, r.queueKey(queueID)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	var latestKeys []string
	var latest []float64
	for f, v := range q {
		k, ok := strings.CutPrefix(f, "m:")
		if mm, isM := metricOf(k); !ok || !isM || mm != m {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		latestKeys, latest = append(latestKeys, k), append(latest, x)
	}
	if len(latestKeys) == 0 {
		return nil, nil
	}
	nowMin := now.Unix() / 60
	start := nowMin - historySlots + 1
	// Days from the one before the window's first (its last point may
	// still carry into the window) to today.
	day0, days := start/dayMinutes-1, nowMin/dayMinutes-start/dayMinutes+2
	pipe := r.rdb.Pipeline()
	cmds := make([][]*redis.StringCmd, len(latestKeys))
	compacts := make([]*redis.StringCmd, len(latestKeys))
	for i, k := range latestKeys {
		series := r.historySeriesKey(queueID, k)
		compacts[i] = pipe.Get(ctx, compactKey(series))
		cmds[i] = make([]*redis.StringCmd, days)
		for d := range cmds[i] {
			cmds[i][d] = pipe.Get(ctx, historyDayKey(series, day0+int64(d)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	out := make([]app.Series, 0, len(latestKeys))
	for i, k := range latestKeys {
		s := app.Series{MediaType: k[:strings.LastIndexByte(k, '/')], Start: time.Unix(start*60, 0), Step: time.Minute,
			Values: make([]float64, historySlots)}
		for j := range s.Values {
			s.Values[j] = math.NaN()
		}
		has := false
		set := func(t int64, p uint16) {
			if p != noPoint && t >= start && t <= nowMin {
				s.Values[t-start], has = decodePoint(m, p), true
			}
		}
		if b, err := compacts[i].Bytes(); err == nil {
			_, blocks, err := decodeCompact(b, func(d int64) bool { return d >= day0 })
			if err != nil {
				r.log.Warn("compact history unreadable: left out", "queue_id", queueID, "series", k, "err", err)
			}
			for _, blk := range blocks {
				t0 := blk.Day * dayMinutes
				for j, p := range blk.Points {
					for n := range int64(blk.Step) {
						set(t0+int64(j*blk.Step)+n, p)
					}
				}
			}
		} else if !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("history of %s %s: %w", queueID, k, unavailable(err))
		}
		last := int64(-1)
		for d, cmd := range cmds[i] {
			b, err := cmd.Bytes()
			switch {
			case errors.Is(err, redis.Nil):
				continue
			case err != nil:
				return nil, fmt.Errorf("history of %s %s: %w", queueID, k, unavailable(err))
			}
			t0 := (day0 + int64(d)) * dayMinutes
			for j := 0; 2*j+1 < len(b); j++ {
				set(t0+int64(j), uint16(b[2*j])<<8|uint16(b[2*j+1]))
			}
			if len(b) >= 2 {
				last = t0 + int64(len(b))/2 - 1
			}
		}
		if last >= 0 {
			for t := max(last+1, start); t <= min(nowMin, last+carryMinutes); t++ {
				if math.IsNaN(s.Values[t-start]) {
					s.Values[t-start], has = latest[i], true
				}
			}
		}
		if has {
			out = append(out, s)
		}
	}
	return out, nil
}
