package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// History compaction. The commit script writes each series' points into
// raw day strings, 2 bytes a minute (history.go); a day is written only
// while it is today or, through the carry of a value over a quiet spell,
// until carryMinutes after its last point. CompactHistory then moves each
// completed day into the series' one compact string ("<series key>:c",
// historycodec.go) and deletes the raw day: yesterday at one point a
// minute, older days at one point per HistoryCoarseStep. The commit script
// is unchanged: it never reads the compact string.
//
// The carry: the script fills the minutes after a series' last point with
// the value that held, up to carryMinutes, when the series' next point
// comes; it finds that last point in the raw day strings. A day whose last
// point is the series' last is therefore compacted only once the carry
// window has passed, and the compactor then fills it itself with the
// queue's latest value, as the script or MetricHistory would have; the
// script, finding no raw day to carry from, adds nothing more.
const (
	// HistoryCoarseStep is the resolution of history older than yesterday
	// (UTC): /sla preview sees the worst value of each such step.
	HistoryCoarseStep = app.HistoryCoarseStep
	// HistoryFineFor is how far back history keeps one point a minute, at
	// least: today and yesterday (UTC).
	HistoryFineFor = app.HistoryFineFor

	coarseStep = int(HistoryCoarseStep / time.Minute)
	// compactBatch bounds the series one pipeline looks at.
	compactBatch = 200
)

// compactKey is the compact string of a series.
func compactKey(seriesKey string) string { return seriesKey + ":c" }

// compactedKey records the last day whose compaction pass finished.
func (r *Redis) compactedKey() string { return r.prefix + "history-compacted" }

// CompactStats is what one CompactHistory pass did.
type CompactStats struct {
	// Series looked at, and rewritten; Pending are those with a day whose
	// carry window is still open, left for a later pass.
	Series, Rewritten, Pending int
	// RawDays is how many raw day strings were compacted and deleted.
	RawDays int
	// Skipped is set when today's pass had already finished.
	Skipped bool
}

// CompactHistory compacts the metric history of every known queue (see
// above). It is cheap when there is nothing to do: once a pass has
// finished with no series pending, later calls the same UTC day return
// at once. Run it every minute or so, on one replica at a time (a lease);
// two at once only repeat each other's work (every write is a
// compare-and-set with WATCH).
func (r *Redis) CompactHistory(ctx context.Context, now time.Time) (CompactStats, error) {
	var st CompactStats
	nowMin := now.Unix() / 60
	today := nowMin / dayMinutes
	done, err := r.rdb.Get(ctx, r.compactedKey()).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return st, unavailable(err)
	}
	if err == nil && done >= today {
		st.Skipped = true
		return st, nil
	}
	series, err := r.allSeries(ctx)
	if err != nil {
		return st, err
	}
	for len(series) > 0 {
		batch := series[:min(compactBatch, len(series))]
		series = series[len(batch):]
		if err := r.compactBatch(ctx, batch, nowMin, &st); err != nil {
			return st, err
		}
	}
	if st.Pending == 0 {
		// Kept two days: a pass for today is then never mistaken for done.
		if err := r.rdb.Set(ctx, r.compactedKey(), today, 48*time.Hour).Err(); err != nil {
			return st, unavailable(err)
		}
	}
	return st, nil
}

// seriesRef is one history series of a queue, with the queue's latest
// value of it (hasLatest false when unreadable).
type seriesRef struct {
	key       string
	metric    app.Metric
	latest    float64
	hasLatest bool
}

// allSeries lists the series of every known queue, from the latest values
// in the queues' hashes: a series has history only if it has one.
func (r *Redis) allSeries(ctx context.Context) ([]seriesRef, error) {
	ids, err := r.rdb.HKeys(ctx, r.namesKey()).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	var out []seriesRef
	for len(ids) > 0 {
		batch := ids[:min(compactBatch, len(ids))]
		ids = ids[len(batch):]
		pipe := r.rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, len(batch))
		for i, q := range batch {
			cmds[i] = pipe.HGetAll(ctx, r.queueKey(q))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, unavailable(err)
		}
		for i, q := range batch {
			for f, v := range cmds[i].Val() {
				k, ok := strings.CutPrefix(f, "m:")
				m, isM := metricOf(k)
				if !ok || !isM {
					continue
				}
				x, err := strconv.ParseFloat(v, 64)
				out = append(out, seriesRef{key: r.historySeriesKey(q, k), metric: m, latest: x, hasLatest: err == nil})
			}
		}
	}
	return out, nil
}

// compactBatch looks at the headers of a batch of series and compacts
// those with work to do.
func (r *Redis) compactBatch(ctx context.Context, batch []seriesRef, nowMin int64, st *CompactStats) error {
	today := nowMin / dayMinutes
	first := today - keepDays
	pipe := r.rdb.Pipeline()
	heads := make([]*redis.StringCmd, len(batch))
	lens := make([][]*redis.IntCmd, len(batch))
	for i, s := range batch {
		heads[i] = pipe.GetRange(ctx, compactKey(s.key), 0, 11)
		lens[i] = make([]*redis.IntCmd, today-first)
		for d := range lens[i] {
			lens[i][d] = pipe.StrLen(ctx, historyDayKey(s.key, first+int64(d)))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return unavailable(err)
	}
	for i, s := range batch {
		st.Series++
		work := false
		for _, c := range lens[i] {
			work = work || c.Val() > 0
		}
		if h := heads[i].Val(); h != "" {
			asOf, ok := compactAsOf([]byte(h))
			work = work || !ok || asOf < today
		}
		if !work {
			continue
		}
		if err := r.compactOne(ctx, s, nowMin, st); err != nil {
			return err
		}
	}
	return nil
}

// compactOne rewrites one series' compact string from it and its raw
// days, atomically with WATCH: a commit writing the series meanwhile makes
// it try again.
func (r *Redis) compactOne(ctx context.Context, s seriesRef, nowMin int64, st *CompactStats) error {
	today := nowMin / dayMinutes
	first := today - keepDays
	ck := compactKey(s.key)
	keys := []string{ck}
	for d := first; d <= today; d++ {
		keys = append(keys, historyDayKey(s.key, d))
	}
	for range 3 {
		var res compactResult
		err := r.rdb.Watch(ctx, func(tx *redis.Tx) error {
			pipe := tx.Pipeline()
			cmds := make([]*redis.StringCmd, len(keys))
			for i, k := range keys {
				cmds[i] = pipe.Get(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			compact, _ := cmds[0].Bytes()
			raw := make(map[int64][]byte)
			for i, c := range cmds[1:] {
				if b, err := c.Bytes(); err == nil && len(b) > 0 {
					raw[first+int64(i)] = b
				}
			}
			var err error
			res, err = compactSeries(s.metric, compact, raw, s.latest, s.hasLatest, nowMin)
			if err != nil {
				r.log.Warn("compact history unreadable: rewritten from the raw days", "series", s.key, "err", err)
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				if res.compact == nil {
					p.Del(ctx, ck)
				} else {
					p.Set(ctx, ck, res.compact, time.Duration((res.newest+keepDays)*dayMinutes-nowMin)*time.Minute)
				}
				for _, d := range res.deleted {
					p.Del(ctx, historyDayKey(s.key, d))
				}
				return nil
			})
			return err
		}, keys...)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return fmt.Errorf("compact history %s: %w", s.key, unavailable(err))
		}
		st.Rewritten++
		st.RawDays += len(res.deleted)
		if res.pending {
			st.Pending++
		}
		return nil
	}
	st.Pending++ // written to all the while: the next pass tries again
	return nil
}

// compactResult is what compactSeries decided for one series.
type compactResult struct {
	compact []byte  // the new compact string, nil when there is nothing to keep
	newest  int64   // its newest day
	deleted []int64 // raw days to delete (compacted, or out of the window)
	pending bool    // a raw day was kept for its open carry window
}

// compactSeries computes a series' new compact string from its current
// one, its raw day strings (by day) and the queue's latest value of it, at
// minute nowMin. A raw day before today is compacted when a later raw day
// has a point (the script has then carried its last value already) or
// when its last point's carry window has passed (filled here with the
// latest value); one whose window is still open stays raw. Today stays
// raw. Blocks of yesterday and today keep one point a minute, older ones
// are coarsened, and days out of the 7-day window are dropped. An
// unreadable compact string is reported, and replaced.
func compactSeries(m app.Metric, compact []byte, raw map[int64][]byte, latest float64, hasLatest bool, nowMin int64) (compactResult, error) {
	var res compactResult
	today := nowMin / dayMinutes
	oldest := today - historySlots/dayMinutes // the window's first day
	days := make(map[int64][]uint16)          // one point a minute
	var decodeErr error
	if len(compact) > 0 {
		_, blocks, err := decodeCompact(compact, nil)
		decodeErr = err
		for _, b := range blocks {
			days[b.Day] = b.minutes()
		}
	}
	day := func(d int64) []uint16 {
		if days[d] == nil {
			days[d] = make([]uint16, dayMinutes)
		}
		return days[d]
	}
	lastDay := int64(-1)
	for d, b := range raw {
		if len(b) >= 2 {
			lastDay = max(lastDay, d)
		}
	}
	for d := today - keepDays; d < today; d++ {
		b := raw[d]
		if len(b) < 2 {
			if len(b) > 0 {
				res.deleted = append(res.deleted, d)
			}
			continue
		}
		if d == lastDay {
			last := d*dayMinutes + int64(len(b))/2 - 1
			if nowMin <= last+carryMinutes {
				res.pending = true
				continue
			}
			if hasLatest {
				p := encodePoint(m, latest)
				for t := last + 1; t <= last+carryMinutes && t/dayMinutes <= today; t++ {
					if pts := day(t / dayMinutes); pts[t%dayMinutes] == noPoint {
						pts[t%dayMinutes] = p
					}
				}
			}
		}
		pts := day(d)
		for i := 0; 2*i+1 < len(b) && i < dayMinutes; i++ {
			if p := uint16(b[2*i])<<8 | uint16(b[2*i+1]); p != noPoint {
				pts[i] = p
			}
		}
		res.deleted = append(res.deleted, d)
	}
	var blocks []histBlock
	for d, pts := range days {
		switch {
		case d < oldest || d > today:
			continue
		case d >= today-1:
			blocks = append(blocks, histBlock{Day: d, Step: 1, Points: pts})
		default:
			blocks = append(blocks, histBlock{Day: d, Step: coarseStep, Points: coarsen(m, pts, coarseStep)})
		}
	}
	out := encodeCompact(today, blocks)
	for _, b := range blocks {
		if hasPoint(b.Points) {
			res.newest = max(res.newest, b.Day)
		}
	}
	if res.newest > 0 {
		res.compact = out
	}
	return res, decodeErr
}

func hasPoint(pts []uint16) bool {
	for _, p := range pts {
		if p != noPoint {
			return true
		}
	}
	return false
}
