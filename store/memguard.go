package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Memory guard. Managed Redis plans run with maxmemory-policy noeviction:
// once full, every write fails, alert state included. Metric history is
// the bulk of slabot's memory and the least important part of it, so the
// guard gives it up first: above GuardPauseAt of the limit this replica
// stops writing history points (commits carry none: historyArgs), and
// above GuardShedAt the oldest day of every series' history is dropped,
// a day a minute at most across replicas.
const (
	GuardPauseAt = 0.80
	GuardShedAt  = 0.95
	// guardResumeAt is below GuardPauseAt so that the guard does not flap
	// around it.
	guardResumeAt = 0.75
)

// MemoryStatus is Redis's memory use against its limit.
type MemoryStatus struct {
	Used, Max int64
}

// Ratio is Used/Max, 0 when no limit is known.
func (m MemoryStatus) Ratio() float64 {
	if m.Max <= 0 {
		return 0
	}
	return float64(m.Used) / float64(m.Max)
}

// Memory reads used_memory and maxmemory (INFO memory). maxmemory 0
// (no limit set, or a managed plan that hides it) is replaced by
// fallbackMax (REDIS_MAXMEMORY); Max stays 0 when neither is known.
func (r *Redis) Memory(ctx context.Context, fallbackMax int64) (MemoryStatus, error) {
	info, err := r.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return MemoryStatus{}, unavailable(err)
	}
	var st MemoryStatus
	for line := range strings.SplitSeq(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "used_memory":
			st.Used = n
		case "maxmemory":
			st.Max = n
		}
	}
	if st.Max <= 0 {
		st.Max = fallbackMax
	}
	return st, nil
}

// PauseHistory stops (or, with false, resumes) this process writing
// metric history points: its commits then carry none.
func (r *Redis) PauseHistory(paused bool) { r.historyOff.Store(paused) }

// HistoryPaused reports whether PauseHistory stopped history writes.
func (r *Redis) HistoryPaused() bool { return r.historyOff.Load() }

// ShedHistory drops the oldest day of metric history still kept (the
// earliest block of any series' compact string, or the earliest raw day
// before yesterday when nothing is compacted yet) from every series. It
// returns the day dropped, -1 when only today and yesterday are left, so
// nothing was. A compact string that cannot be rewritten (Redis refusing
// writes) is deleted: DEL frees memory even when Redis is full.
func (r *Redis) ShedHistory(ctx context.Context, now time.Time) (int64, error) {
	today := now.Unix() / 60 / dayMinutes
	series, err := r.allSeries(ctx)
	if err != nil {
		return -1, err
	}
	// The oldest day: from the blocks' framing only, and the raw days.
	oldest := int64(-1)
	note := func(d int64) {
		if d < today-1 && (oldest < 0 || d < oldest) {
			oldest = d
		}
	}
	err = r.eachSeriesHistory(ctx, series, today, func(s seriesRef, compact []byte, raw map[int64]int64) {
		if len(compact) > 0 {
			_, _, _ = decodeCompact(compact, func(d int64) bool { note(d); return false })
		}
		for d := range raw {
			note(d)
		}
	})
	if err != nil || oldest < 0 {
		return -1, err
	}
	err = r.eachSeriesHistory(ctx, series, today, func(s seriesRef, compact []byte, raw map[int64]int64) {
		ck := compactKey(s.key)
		if _, ok := raw[oldest]; ok {
			r.rdb.Del(ctx, historyDayKey(s.key, oldest))
		}
		if len(compact) == 0 {
			return
		}
		asOf, blocks, err := decodeCompact(compact, func(d int64) bool { return d != oldest })
		if err != nil {
			r.rdb.Del(ctx, ck)
			return
		}
		out := encodeCompact(asOf, blocks)
		if len(blocks) == 0 {
			r.rdb.Del(ctx, ck)
		} else if err := r.rdb.SetArgs(ctx, ck, out, redis.SetArgs{KeepTTL: true}).Err(); err != nil {
			r.rdb.Del(ctx, ck)
		}
	})
	return oldest, err
}

// eachSeriesHistory calls fn with each series' compact string and the
// lengths of its raw days up to yesterday, a batch at a time.
func (r *Redis) eachSeriesHistory(ctx context.Context, series []seriesRef, today int64, fn func(s seriesRef, compact []byte, raw map[int64]int64)) error {
	first := today - keepDays
	for len(series) > 0 {
		batch := series[:min(compactBatch, len(series))]
		series = series[len(batch):]
		pipe := r.rdb.Pipeline()
		compacts := make([]*redis.StringCmd, len(batch))
		lens := make([][]*redis.IntCmd, len(batch))
		for i, s := range batch {
			compacts[i] = pipe.Get(ctx, compactKey(s.key))
			lens[i] = make([]*redis.IntCmd, today-first)
			for d := range lens[i] {
				lens[i][d] = pipe.StrLen(ctx, historyDayKey(s.key, first+int64(d)))
			}
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return unavailable(err)
		}
		for i, s := range batch {
			raw := make(map[int64]int64)
			for d, c := range lens[i] {
				if c.Val() > 0 {
					raw[first+int64(d)] = c.Val()
				}
			}
			b, _ := compacts[i].Bytes()
			fn(s, b, raw)
		}
	}
	return nil
}

// MemoryGuard watches Redis's memory and protects alert state from
// history (see above). Each replica runs one: the pause is per process.
type MemoryGuard struct {
	Store *Redis
	// Max is the limit to use when Redis reports maxmemory 0
	// (REDIS_MAXMEMORY); 0: none, the guard then does nothing.
	Max int64
	// Warn, when set, posts the one warning to Slack (once a day across
	// replicas while memory stays high).
	Warn func(ctx context.Context, text string) error
	// Observe, when set, receives every reading (the /metrics gauges).
	Observe func(st MemoryStatus, historyPaused bool)
	Logger  *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Check reads Redis's memory once and acts on it.
func (g *MemoryGuard) Check(ctx context.Context) error {
	log := g.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	st, err := g.Store.Memory(ctx, g.Max)
	if err != nil {
		return err
	}
	ratio := st.Ratio()
	paused := g.Store.HistoryPaused()
	switch {
	case st.Max <= 0:
		paused = false
	case !paused && ratio >= GuardPauseAt:
		paused = true
		log.Warn("redis memory high: metric history writes paused to keep room for alert state",
			"used_bytes", st.Used, "max_bytes", st.Max, "percent", int(ratio*100))
		if g.Warn != nil {
			if first, err := g.Store.MarkOnce(ctx, "memory-warning", 24*time.Hour); err == nil && first {
				text := fmt.Sprintf("Redis is %d%% full (%d of %d MB). slabot has stopped recording metric history (used by /sla preview) so that alerts keep working; above %d%% it drops the oldest history. Use a larger Redis plan, or fewer queues.",
					int(ratio*100), st.Used>>20, st.Max>>20, int(GuardShedAt*100))
				if err := g.Warn(ctx, text); err != nil {
					log.Warn("memory warning not posted", "err", err)
				}
			}
		}
	case paused && ratio < guardResumeAt:
		paused = false
		log.Info("redis memory back to normal: metric history writes resumed", "used_bytes", st.Used, "max_bytes", st.Max,
			"percent", int(ratio*100))
	}
	g.Store.PauseHistory(paused)
	if g.Observe != nil {
		g.Observe(st, paused)
	}
	if st.Max > 0 && ratio >= GuardShedAt {
		// A day a minute across replicas: the mark expires in a minute.
		if first, err := g.Store.MarkOnce(ctx, "history-shed", time.Minute); err == nil && first {
			day, err := g.Store.ShedHistory(ctx, now())
			if err != nil {
				return err
			}
			if day >= 0 {
				log.Warn("redis memory critical: oldest metric history day dropped", "day", time.Unix(day*86400, 0).UTC().Format(time.DateOnly),
					"percent", int(ratio*100))
			}
		}
	}
	return nil
}

// Run checks every interval until ctx is done (then it returns).
func (g *MemoryGuard) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, interval)
		if err := g.Check(cctx); err != nil && ctx.Err() == nil && g.Logger != nil {
			g.Logger.Warn("memory check failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
