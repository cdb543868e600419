package app

import (
	"cmp"
	"slices"
	"time"
)

// Report is what the breach episodes of a period say, per queue and media
// type: /sla report's answer and the weekly report (issue 17).
type Report struct {
	From, To time.Time
	// Rows has a row per queue and media type that breached in the
	// period, the most time in breach first.
	Rows []ReportRow
	// Days are the starts of the calendar days (in the report's time
	// zone) the period touches, and Queues the breach minutes of each
	// day of the ReportTopQueues queues with the most, for the chart.
	Days   []time.Time
	Queues []QueueDays
}

// ReportTopQueues is how many queues the report's chart shows.
const ReportTopQueues = 10

// ReportRow sums up one queue and media type's episodes in a period.
type ReportRow struct {
	QueueID, QueueName, MediaType string
	// Breaches counts the episodes that overlap the period; Open those
	// of them still breaching at its end.
	Breaches, Open int
	// InBreach is how long the queue breached within the period, any
	// metric of that media type (overlapping episodes count once).
	InBreach time.Duration
	// MTTA is the mean time from an episode's start to its first
	// acknowledgement, over the Acked episodes that had one; MTTR the
	// mean time from start to end, over the Resolved ones that ended.
	MTTA, MTTR      time.Duration
	Acked, Resolved int
	// Worst is the longest episode (the earliest of equals).
	Worst Episode
}

// Name is the row's queue name when known, else its ID.
func (r ReportRow) Name() string { return cmp.Or(r.QueueName, r.QueueID) }

// QueueDays is one queue's breach minutes on each of a report's days.
type QueueDays struct {
	QueueID, QueueName string
	Minutes            []float64
}

// BuildReport sums up eps over [from, to): the episodes that overlap it
// count, whole for MTTA, MTTR and the worst episode, clipped to the period
// for time in breach. An episode still open counts up to to. Days are
// calendar days in loc (UTC when nil); names maps queue IDs to names.
func BuildReport(eps []Episode, from, to time.Time, loc *time.Location, names map[string]string) Report {
	if loc == nil {
		loc = time.UTC
	}
	rep := Report{From: from, To: to, Days: reportDays(from, to, loc)}
	type key struct{ queue, media string }
	rows := make(map[key]*ReportRow)
	spans := make(map[key][]span)
	queueSpans := make(map[string][]span)
	mtta, mttr := make(map[key]time.Duration), make(map[key]time.Duration)
	for _, e := range eps {
		end := e.End
		if e.Open() || end.After(to) {
			end = to
		}
		if !e.Start.Before(to) || end.Before(from) {
			continue
		}
		k := key{e.QueueID, e.MediaType}
		r, ok := rows[k]
		if !ok {
			r = &ReportRow{QueueID: e.QueueID, QueueName: names[e.QueueID], MediaType: e.MediaType}
			rows[k] = r
		}
		r.Breaches++
		if e.Open() {
			r.Open++
		} else {
			r.Resolved++
			mttr[k] += e.End.Sub(e.Start)
		}
		if !e.AckedAt.IsZero() {
			r.Acked++
			mtta[k] += e.AckedAt.Sub(e.Start)
		}
		if r.Breaches == 1 || longer(e, r.Worst, to) {
			r.Worst = e
		}
		s := span{maxTime(e.Start, from), end}
		spans[k] = append(spans[k], s)
		queueSpans[e.QueueID] = append(queueSpans[e.QueueID], s)
	}
	for k, r := range rows {
		r.InBreach = total(union(spans[k]))
		if r.Acked > 0 {
			r.MTTA = mtta[k] / time.Duration(r.Acked)
		}
		if r.Resolved > 0 {
			r.MTTR = mttr[k] / time.Duration(r.Resolved)
		}
		rep.Rows = append(rep.Rows, *r)
	}
	slices.SortFunc(rep.Rows, func(a, b ReportRow) int {
		return cmp.Or(cmp.Compare(b.InBreach, a.InBreach), cmp.Compare(b.Breaches, a.Breaches),
			cmp.Compare(a.Name(), b.Name()), cmp.Compare(a.MediaType, b.MediaType))
	})
	rep.Queues = topQueues(queueSpans, rep.Days, to, names)
	return rep
}

// longer reports whether episode a lasted longer than b (open ones up to
// to), or as long and began first.
func longer(a, b Episode, to time.Time) bool {
	da, db := a.lasted(to), b.lasted(to)
	return da > db || (da == db && a.Start.Before(b.Start))
}

// lasted is how long the episode breached, up to to while it is open.
func (e Episode) lasted(to time.Time) time.Duration {
	if e.Open() {
		return to.Sub(e.Start)
	}
	return e.End.Sub(e.Start)
}

// Lasted is how long the episode breached; up to now while it is open.
func (e Episode) Lasted(now time.Time) time.Duration { return e.lasted(now) }

type span struct{ from, to time.Time }

// union merges overlapping spans, sorted by start.
func union(ss []span) []span {
	ss = slices.Clone(ss)
	slices.SortFunc(ss, func(a, b span) int { return a.from.Compare(b.from) })
	var out []span
	for _, s := range ss {
		if !s.from.Before(s.to) {
			continue
		}
		if n := len(out); n > 0 && !s.from.After(out[n-1].to) {
			out[n-1].to = maxTime(out[n-1].to, s.to)
			continue
		}
		out = append(out, s)
	}
	return out
}

func total(ss []span) time.Duration {
	var d time.Duration
	for _, s := range ss {
		d += s.to.Sub(s.from)
	}
	return d
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// reportDays are the starts of the calendar days in loc that [from, to)
// touches.
func reportDays(from, to time.Time, loc *time.Location) []time.Time {
	var days []time.Time
	f := from.In(loc)
	for d := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc); d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	return days
}

// topQueues are the breach minutes per day of the ReportTopQueues queues
// with the most in all (then by name).
func topQueues(queueSpans map[string][]span, days []time.Time, to time.Time, names map[string]string) []QueueDays {
	type ranked struct {
		q     QueueDays
		total float64
	}
	var all []ranked
	for id, ss := range queueSpans {
		merged := union(ss)
		q := QueueDays{QueueID: id, QueueName: names[id], Minutes: make([]float64, len(days))}
		sum := 0.0
		for i, d := range days {
			next := to
			if i+1 < len(days) {
				next = days[i+1]
			}
			for _, s := range merged {
				if a, b := maxTime(s.from, d), minTime(s.to, next); a.Before(b) {
					q.Minutes[i] += b.Sub(a).Minutes()
				}
			}
			sum += q.Minutes[i]
		}
		all = append(all, ranked{q, sum})
	}
	slices.SortFunc(all, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(b.total, a.total), cmp.Compare(cmp.Or(a.q.QueueName, a.q.QueueID), cmp.Or(b.q.QueueName, b.q.QueueID)))
	})
	out := make([]QueueDays, 0, min(len(all), ReportTopQueues))
	for _, r := range all[:min(len(all), ReportTopQueues)] {
		out = append(out, r.q)
	}
	return out
}
