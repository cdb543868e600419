// Package chartjob draws the charts slabot shares in Slack when a
// KindChart notification is delivered: it reads the metric's stored
// history and the breach episodes around it and turns them into a
// chart.Series (or a report into its bar chart). Drawing at delivery keeps
// the outbox entry small and lets a retry draw the same picture.
package chartjob

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/chart"
)

// History reads a queue's metric history; *store.Redis implements it.
type History interface {
	MetricHistory(ctx context.Context, queueID string, m app.Metric, now time.Time) ([]app.Series, error)
}

// Episodes reads the breach episodes that overlap a period; *store.Redis
// implements it.
type Episodes interface {
	Episodes(ctx context.Context, from, to time.Time) ([]app.Episode, error)
}

// Drawer draws KindChart notifications. History is required; the others
// are optional.
type Drawer struct {
	History History
	// Episodes, when set, shades the other breach episodes of the series
	// in the window and marks their acks and snoozes.
	Episodes Episodes
	// Location is the time zone of the axis and title; nil means UTC.
	Location *time.Location
	// Report draws a report's bar chart; without it report charts have
	// nothing to draw.
	Report func(app.Report) ([]byte, error)
}

// maxPoints bounds the points drawn: about one per pixel column. Longer
// windows (24 h, 7 d of one point a minute) keep each bucket's worst value,
// so a short breach still shows.
const maxPoints = 720

// Draw renders n's chart as a PNG and returns it with its title. An error
// wrapping chart.ErrNoData means there is nothing to draw (no history in
// the window: a new queue, or history paused by the memory guard).
func (d *Drawer) Draw(ctx context.Context, n app.Notification) (png []byte, title string, err error) {
	job := n.Chart
	if job == nil {
		return nil, "", errors.New("chartjob: notification has no chart job")
	}
	if job.Report != nil {
		if d.Report == nil {
			return nil, "", fmt.Errorf("%w: no report chart drawer", chart.ErrNoData)
		}
		png, err := d.Report(d.inZone(*job.Report))
		return png, cmp.Or(job.Title, "SLA report"), err
	}
	s, err := d.Series(ctx, n)
	if err != nil {
		return nil, "", err
	}
	png, err = chart.Render(s)
	if err != nil {
		return nil, "", err
	}
	return png, cmp.Or(job.Title, defaultTitle(s, job)), nil
}

// inZone puts a report's times back in the Drawer's time zone: the
// outbox's JSON keeps each time's instant and offset but not its zone's
// name, which the chart's title and day labels show.
func (d *Drawer) inZone(rep app.Report) app.Report {
	loc := cmp.Or(d.Location, time.UTC)
	rep.From, rep.To = rep.From.In(loc), rep.To.In(loc)
	days := make([]time.Time, len(rep.Days))
	for i, day := range rep.Days {
		days[i] = day.In(loc)
	}
	rep.Days = days
	return rep
}

func defaultTitle(s chart.Series, job *app.ChartJob) string {
	t := s.Queue
	if s.Media != "" {
		t += " " + s.Media
	}
	t += ": " + s.Metric
	if job.Episode {
		return t + ", the breach and the 30 minutes before it"
	}
	return t + ", " + app.FormatDuration(job.To.Sub(job.From))
}

// Series is what Draw renders for a series chart: the job's window of
// history, its levels, the breaches in it shaded and their acks and
// snoozes marked.
func (d *Drawer) Series(ctx context.Context, n app.Notification) (chart.Series, error) {
	job := n.Chart
	if !job.To.After(job.From) {
		return chart.Series{}, fmt.Errorf("%w: empty window", chart.ErrNoData)
	}
	hist, err := d.History.MetricHistory(ctx, job.QueueID, job.Metric, job.To)
	if err != nil {
		return chart.Series{}, fmt.Errorf("chart history of %s: %w", job.QueueID, err)
	}
	// A chart asked for without a media type draws the queue's only (or
	// first) one when it has no series without.
	slices.SortFunc(hist, func(a, b app.Series) int { return cmp.Compare(a.MediaType, b.MediaType) })
	i := slices.IndexFunc(hist, func(s app.Series) bool { return s.MediaType == job.MediaType })
	if i < 0 && job.MediaType == "" && len(hist) > 0 {
		i = 0
	}
	if i < 0 {
		return chart.Series{}, fmt.Errorf("%w: no history of %s %s %s", chart.ErrNoData, job.QueueID, job.MediaType, job.Metric)
	}
	pts := points(hist[i], job.From, job.To, job.Metric)

	th := math.NaN()
	if job.Threshold != nil {
		th = *job.Threshold
	}
	scale, unit := units(job.Metric, th, pts)
	media := hist[i].MediaType
	s := chart.Series{Queue: cmp.Or(job.QueueName, job.QueueID), Media: media, Metric: job.Metric.Label(),
		Unit: unit, Location: d.Location, From: job.From, To: job.To, Threshold: th / scale}
	if job.Clear != nil {
		c := *job.Clear / scale
		s.Clear = &c
	}
	for _, p := range pts {
		s.Points = append(s.Points, chart.Point{At: p.At, Value: p.Value / scale})
	}
	eps, err := d.episodes(ctx, n, media)
	if err != nil {
		return chart.Series{}, err
	}
	for _, e := range eps {
		s.Breaches = append(s.Breaches, chart.Span{From: e.Start, To: e.End})
		if !e.AckedAt.IsZero() {
			s.Marks = append(s.Marks, chart.Mark{At: e.AckedAt, Label: "ack " + e.AckedBy})
		}
		for _, z := range e.Snoozes {
			// A snooze records when it ends, not when it was set.
			s.Marks = append(s.Marks, chart.Mark{At: z.Until, Label: "snooze by " + z.By + " ends"})
		}
	}
	return s, nil
}

// episodes are the breach episodes of the job's series that overlap its
// window: the alert's own (from its snapshot, shaded from when its breach
// began) and, when the Drawer can read them, the others the store kept.
func (d *Drawer) episodes(ctx context.Context, n app.Notification, media string) ([]app.Episode, error) {
	job := n.Chart
	var out []app.Episode
	var own time.Time
	if e, ok := app.EpisodeOf(n.Alert); job.Episode && ok {
		own = e.Start
		e.Start = n.Alert.BreachStart()
		out = append(out, e)
	}
	if d.Episodes == nil {
		return out, nil
	}
	all, err := d.Episodes.Episodes(ctx, job.From, job.To)
	if err != nil {
		return nil, fmt.Errorf("chart episodes: %w", err)
	}
	for _, e := range all {
		if e.QueueID == job.QueueID && e.MediaType == media && e.Metric == job.Metric && !e.Start.Equal(own) {
			out = append(out, e)
		}
	}
	return out, nil
}

// points are the history's values in [from, to], at most maxPoints of
// them: each of a longer window's buckets keeps its worst value (the
// highest of a metric that breaches above its threshold, the lowest of
// one that breaches below), a bucket without data a gap.
func points(s app.Series, from, to time.Time, m app.Metric) []chart.Point {
	if s.Step <= 0 {
		return nil
	}
	first := max(0, int(from.Sub(s.Start)/s.Step))
	last := min(len(s.Values)-1, int(to.Sub(s.Start)/s.Step))
	if last < first {
		return nil
	}
	per := (last - first + maxPoints) / maxPoints
	out := make([]chart.Point, 0, (last-first)/per+1)
	for b := first; b <= last; b += per {
		v := math.NaN()
		for _, x := range s.Values[b:min(b+per, last+1)] {
			if !math.IsNaN(x) && (math.IsNaN(v) || m.Breached(x, v)) {
				v = x
			}
		}
		at := s.Start.Add(time.Duration(b) * s.Step)
		if at.Before(from) {
			at = from
		}
		out = append(out, chart.Point{At: at, Value: v})
	}
	return out
}

// units are how values are shown: waits in minutes once they reach two
// (seconds below), rates in percent, counts bare. Values are divided by
// scale.
func units(m app.Metric, threshold float64, pts []chart.Point) (scale float64, unit string) {
	switch {
	case m == app.LongestWait:
		top := threshold
		for _, p := range pts {
			if !math.IsNaN(p.Value) && !(p.Value <= top) {
				top = p.Value
			}
		}
		if top >= 120 {
			return 60, "min"
		}
		return 1, "s"
	case m.IsRate():
		return 1, "%"
	}
	return 1, ""
}
