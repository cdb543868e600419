package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// Metric history for threshold previews: one point a minute for each of a
// queue's series (media type and metric), over the last 7 days.
//
// Each series is one Redis string of fixed size, a ring: a 4-byte header
// holding the last minute written (minutes since the Unix epoch, big
// endian), then historySlots 2-byte points, minute m at slot m mod
// historySlots. A point is the first value seen in its minute, encoded by
// encodePoint; noPoint marks a minute without data. The commit script
// writes a series at most once a minute: the first observation of a new
// minute fills the minutes since the last one with the value that held
// during them (Genesys notifies only on change), for at most carryMinutes,
// and writes its own point. Memory is bounded by construction: 20,164
// bytes of data per series, whatever the event rate.
const (
	historySlots = 7 * 24 * 60
	historyBytes = 4 + 2*historySlots
	// carryMinutes bounds how long a value is assumed to hold without an
	// event: longer gaps are more likely an outage than a steady queue.
	carryMinutes = 6 * 60
	noPoint      = math.MaxUint16
	// historyTTL drops the series of a queue no longer seen.
	historyTTL = 8 * 24 * time.Hour
)

func (r *Redis) historySeriesKey(queueID, latestKey string) string {
	return r.prefix + "{" + queueID + "}:h:" + latestKey
}

// encodePoint packs a metric value into 2 bytes: whole seconds for
// longest_wait (up to 18 h), whole counts, and percentages in hundredths.
// Larger values are capped: far past any threshold either way.
func encodePoint(m app.Metric, v float64) uint16 {
	if m.IsRate() {
		v *= 100
	}
	v = math.Round(v)
	switch {
	case math.IsNaN(v) || v < 0:
		return 0
	case v >= noPoint:
		return noPoint - 1
	}
	return uint16(v)
}

func decodePoint(m app.Metric, p uint16) float64 {
	if m.IsRate() {
		return float64(p) / 100
	}
	return float64(p)
}

func pointBytes(p uint16) string { return string([]byte{byte(p >> 8), byte(p)}) }

// metricOf is the metric a latest key ("media/metric") is about.
func metricOf(latestKey string) (app.Metric, bool) {
	i := strings.LastIndexByte(latestKey, '/')
	m, err := app.ParseMetric(latestKey[i+1:])
	return m, err == nil && string(m) == latestKey[i+1:]
}

// historyArgs are the commit script's history points of c: its latest
// values, in minute c.At, each with the value that held before (c.Prior).
func (r *Redis) historyArgs(c app.Change) (keys []string, args []any) {
	if c.At.IsZero() || c.QueueID == "" {
		return nil, nil
	}
	minute := c.At.Unix() / 60
	for k, v := range c.Latest {
		m, ok := metricOf(k)
		if !ok {
			continue
		}
		prev := ""
		if p, ok := c.Prior[k]; ok {
			prev = pointBytes(encodePoint(m, p))
		}
		keys = append(keys, r.historySeriesKey(c.QueueID, k))
		args = append(args, minute, pointBytes(encodePoint(m, v)), prev)
	}
	return keys, args
}

// historyLua is the commit script's last section: KEYS from index hk0 on
// are series, ARGV from i on: nPoints, (minute, point, prior point or "")….
const historyLua = `
local np = tonumber(ARGV[i]); i = i + 1
local slots, carry, ttl = ` + "SLOTS, CARRY, TTL" + `
local none = string.char(255, 255)
local function header(m)
  return string.char(math.floor(m / 16777216) % 256, math.floor(m / 65536) % 256, math.floor(m / 256) % 256, m % 256)
end
for j = 1, np do
  local key, m, p, prev = KEYS[hk0 + j - 1], tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local h = redis.call('GETRANGE', key, 0, 3)
  local last = -1
  if #h == 4 then
    local a, b, c, d = string.byte(h, 1, 4)
    last = ((a * 256 + b) * 256 + c) * 256 + d
  else
    redis.call('SET', key, header(m) .. string.rep(none, slots))
  end
  if m > last then
    if last >= 0 and m - last > 1 then
      -- Minutes t0 … m-1 that the ring still covers: those within carry
      -- of the last point held its value (prev), the rest have no data.
      local t0 = math.max(last + 1, m - slots + 1)
      local n = m - t0
      local held = 0
      if prev ~= '' then held = math.max(0, math.min(m - 1, last + carry) - t0 + 1) end
      local fill = string.rep(prev, held) .. string.rep(none, n - held)
      local s = t0 % slots
      local first = math.min(n, slots - s)
      redis.call('SETRANGE', key, 4 + s * 2, string.sub(fill, 1, first * 2))
      if n > first then redis.call('SETRANGE', key, 4, string.sub(fill, first * 2 + 1)) end
    end
    redis.call('SETRANGE', key, 4 + (m % slots) * 2, p)
    redis.call('SETRANGE', key, 0, header(m))
    redis.call('EXPIRE', key, ttl)
  end
end
`

// historyScript is historyLua with its constants in place.
func historyScript() string {
	return strings.NewReplacer("SLOTS", strconv.Itoa(historySlots), "CARRY", strconv.Itoa(carryMinutes),
		"TTL", strconv.Itoa(int(historyTTL/time.Second))).Replace(historyLua)
}

// MetricHistory returns the history of metric m of a queue, one series per
// media type, each covering the 7 days up to now, one value a minute
// (NaN where there is no data). Minutes after the last point written hold
// the queue's latest value, as they did, for at most carryMinutes.
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
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(latestKeys))
	for i, k := range latestKeys {
		cmds[i] = pipe.Get(ctx, r.historySeriesKey(queueID, k))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	nowMin := now.Unix() / 60
	out := make([]app.Series, 0, len(latestKeys))
	for i, k := range latestKeys {
		raw, err := cmds[i].Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil || len(raw) != historyBytes {
			return nil, fmt.Errorf("history of %s %s: %w", queueID, k, app.ErrUnavailable)
		}
		last := int64(raw[0])<<24 | int64(raw[1])<<16 | int64(raw[2])<<8 | int64(raw[3])
		start := nowMin - historySlots + 1
		s := app.Series{MediaType: k[:strings.LastIndexByte(k, '/')], Start: time.Unix(start*60, 0), Step: time.Minute,
			Values: make([]float64, historySlots)}
		for j := range s.Values {
			t := start + int64(j)
			switch {
			case t <= last && t > last-historySlots:
				slot := t % historySlots
				if p := uint16(raw[4+2*slot])<<8 | uint16(raw[5+2*slot]); p != noPoint {
					s.Values[j] = decodePoint(m, p)
					continue
				}
				s.Values[j] = math.NaN()
			case t > last && t-last <= carryMinutes:
				s.Values[j] = latest[i]
			default:
				s.Values[j] = math.NaN()
			}
		}
		out = append(out, s)
	}
	return out, nil
}
