package store

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// Breach episodes for /sla report and the weekly report. An episode is
// written once, when it ends, by the commit script that ends it (the one
// that takes its alert out of the open set): one line appended to the list
// of its end's UTC day, "<prefix>episodes:<day>" (days since the Unix
// epoch), which expires EpisodeDays after that day. An open episode is its
// alert record, so nothing is half-written: the report reads both.
//
// A line is "1|queue|media|metric|start|duration|ack after|acked by|
// resolved by|peak|threshold|snoozes": start in Unix seconds, the others
// in seconds from it ("" for none), snoozes "by~until,…" with until in
// seconds from the start. About 90 bytes for a Genesys queue ID
// (BENCHMARKS.md, "Breach episodes").

// EpisodeDays is how long an ended episode is kept: past the longest
// report (30 days) with room for a late look.
const EpisodeDays = 35

const episodeVersion = "1"

func (r *Redis) episodesKey(day int64) string {
	return r.prefix + "episodes:" + strconv.FormatInt(day, 10)
}

func unixDay(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / 86400)) }

// episodeRecord is an ended alert's episode line, its day key and the
// seconds the key is kept from the alert's resolution; ok is false when
// the alert ends no episode (it never fired, or it is still open).
func (r *Redis) episodeRecord(a app.Alert) (line, key string, ttl int, ok bool) {
	e, fired := app.EpisodeOf(a)
	if !fired || e.Open() {
		return "", "", 0, false
	}
	day := unixDay(e.End)
	ttl = int((day+1+EpisodeDays)*86400 - e.End.Unix())
	return encodeEpisode(e), r.episodesKey(day), ttl, true
}

// field keeps a separator out of a free-text field (media types come from
// senders; queue IDs and Slack user IDs never hold one).
func field(s string) string {
	if strings.ContainsAny(s, "|,~\n") {
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune("|,~\n", r) {
				return '_'
			}
			return r
		}, s)
	}
	return s
}

func encodeEpisode(e app.Episode) string {
	start := e.Start.Unix()
	secs := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return strconv.FormatInt(t.Unix()-start, 10)
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	var b strings.Builder
	b.Grow(96)
	for i, f := range []string{episodeVersion, field(e.QueueID), field(e.MediaType), string(e.Metric),
		strconv.FormatInt(start, 10), secs(e.End), secs(e.AckedAt), field(e.AckedBy), field(e.ResolvedBy),
		num(e.Peak), num(e.Threshold)} {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(f)
	}
	b.WriteByte('|')
	for i, s := range e.Snoozes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(field(s.By))
		b.WriteByte('~')
		b.WriteString(secs(s.Until))
	}
	return b.String()
}

func decodeEpisode(line string) (app.Episode, error) {
	f := strings.Split(line, "|")
	if len(f) != 12 || f[0] != episodeVersion {
		return app.Episode{}, fmt.Errorf("episode record %q: not version %s with 12 fields", clip(line), episodeVersion)
	}
	start, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return app.Episode{}, fmt.Errorf("episode record %q: start: %w", clip(line), err)
	}
	at := func(s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("episode record %q: %w", clip(line), err)
		}
		return time.Unix(start+n, 0).UTC(), nil
	}
	e := app.Episode{QueueID: f[1], MediaType: f[2], Metric: app.Metric(f[3]), Start: time.Unix(start, 0).UTC(),
		AckedBy: f[7], ResolvedBy: f[8]}
	if e.End, err = at(f[5]); err != nil {
		return app.Episode{}, err
	}
	if e.AckedAt, err = at(f[6]); err != nil {
		return app.Episode{}, err
	}
	if e.Peak, err = strconv.ParseFloat(f[9], 64); err != nil {
		return app.Episode{}, fmt.Errorf("episode record %q: peak: %w", clip(line), err)
	}
	if e.Threshold, err = strconv.ParseFloat(f[10], 64); err != nil {
		return app.Episode{}, fmt.Errorf("episode record %q: threshold: %w", clip(line), err)
	}
	if f[11] != "" {
		for _, s := range strings.Split(f[11], ",") {
			by, until, _ := strings.Cut(s, "~")
			u, err := at(until)
			if err != nil {
				return app.Episode{}, err
			}
			e.Snoozes = append(e.Snoozes, app.SnoozeMark{By: by, Until: u})
		}
	}
	return e, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Episodes returns the breach episodes that overlap [from, to): those that
// ended since from (kept EpisodeDays), and the open ones that began
// before to. A record that cannot be read is skipped and logged.
func (r *Redis) Episodes(ctx context.Context, from, to time.Time) ([]app.Episode, error) {
	if !from.Before(to) {
		return nil, nil
	}
	d0, d1 := unixDay(from), unixDay(to)
	if d1-d0 > EpisodeDays+1 {
		d0 = d1 - EpisodeDays - 1
	}
	pipe := r.rdb.Pipeline()
	days := make([]*redis.StringSliceCmd, 0, d1-d0+1)
	for d := d0; d <= d1; d++ {
		days = append(days, pipe.LRange(ctx, r.episodesKey(d), 0, -1))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, unavailable(err)
	}
	var out []app.Episode
	bad := 0
	for _, cmd := range days {
		for _, line := range cmd.Val() {
			e, err := decodeEpisode(line)
			if err != nil {
				bad++
				continue
			}
			if !e.End.Before(from) && e.Start.Before(to) {
				out = append(out, e)
			}
		}
	}
	if bad > 0 {
		r.log.Warn("unreadable episode records skipped", "records", bad)
	}
	open, err := r.OpenAlerts(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range open {
		if e, ok := app.EpisodeOf(a); ok && e.Open() && e.Start.Before(to) {
			out = append(out, e)
		}
	}
	return out, nil
}
