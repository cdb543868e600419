package slackapi

import (
	"fmt"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
)

// ReportRows bounds the rows a report message lists: a supervisor reads
// the worst queues; /sla report <queue> shows any other.
const ReportRows = 20

// ReportText renders a breach report as mrkdwn for a supervisor: a
// headline, then per queue and media type the breaches, time in breach,
// MTTA, MTTR and the worst episode. title names the period ("last 7
// days"); times are shown in loc.
func ReportText(r app.Report, title string, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*SLA report, %s* (%s – %s %s)\n", Neutralise(title), reportTime(r.From, loc), reportTime(r.To, loc), zoneName(loc))
	if len(r.Rows) == 0 {
		b.WriteString("No queue breached its thresholds in that time.")
		return b.String()
	}
	queues := make(map[string]bool)
	breaches := 0
	for _, row := range r.Rows {
		queues[row.QueueID] = true
		breaches += row.Breaches
	}
	fmt.Fprintf(&b, "%d %s breached, %d %s in all.\n", len(queues), plural(len(queues), "queue", "queues"),
		breaches, plural(breaches, "breach", "breaches"))
	for i, row := range r.Rows {
		if i == ReportRows {
			fmt.Fprintf(&b, "…and %d more (`/sla report <queue>` shows one queue).\n", len(r.Rows)-ReportRows)
			break
		}
		b.WriteString(reportRow(row, r.To, loc))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func reportRow(row app.ReportRow, end time.Time, loc *time.Location) string {
	var b strings.Builder
	b.WriteString("• *" + QueueName(row.Name(), maxShortRunes) + "*")
	if row.MediaType != "" {
		b.WriteString(" " + QueueName(row.MediaType, maxShortRunes))
	}
	fmt.Fprintf(&b, ": %d %s", row.Breaches, plural(row.Breaches, "breach", "breaches"))
	if row.Open > 0 {
		fmt.Fprintf(&b, " (%d still open)", row.Open)
	}
	fmt.Fprintf(&b, ", %s in breach · MTTA ", app.FormatDuration(row.InBreach))
	if row.Acked > 0 {
		fmt.Fprintf(&b, "%s (%d of %d acknowledged)", app.FormatDuration(row.MTTA), row.Acked, row.Breaches)
	} else {
		b.WriteString("– (none acknowledged)")
	}
	b.WriteString(" · MTTR ")
	if row.Resolved > 0 {
		b.WriteString(app.FormatDuration(row.MTTR))
	} else {
		b.WriteString("– (none resolved)")
	}
	w := row.Worst
	fmt.Fprintf(&b, "\n   worst: %s from %s", strings.ToLower(w.Metric.Label()), reportTime(w.Start, loc))
	if w.Open() {
		fmt.Fprintf(&b, ", still open after %s", app.FormatDuration(w.Lasted(end)))
	} else {
		fmt.Fprintf(&b, " for %s", app.FormatDuration(w.Lasted(end)))
	}
	fmt.Fprintf(&b, ", peak %s (threshold %s)", w.Metric.FormatValue(w.Peak), w.Metric.FormatValue(w.Threshold))
	if !w.AckedAt.IsZero() {
		fmt.Fprintf(&b, ", acknowledged by %s after %s", userMention(w.AckedBy), app.FormatDuration(w.AckedAt.Sub(w.Start)))
	}
	if n := len(w.Snoozes); n > 0 {
		s := w.Snoozes[n-1]
		fmt.Fprintf(&b, ", snoozed by %s until %s", userMention(s.By), s.Until.In(loc).Format("15:04"))
	}
	b.WriteString("\n")
	return b.String()
}

func reportTime(t time.Time, loc *time.Location) string { return t.In(loc).Format("Mon 2 Jan 15:04") }

// zoneName names loc for readers: its IANA name, or UTC.
func zoneName(loc *time.Location) string {
	if loc == time.UTC || loc.String() == "" {
		return "UTC"
	}
	return loc.String()
}
