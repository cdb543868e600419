package main

import (
	"cmp"
	"fmt"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/chart"
)

// reportLabelRunes bounds a queue's name in the chart's legend, which sits
// over the bars: a long name would hide them.
const reportLabelRunes = 24

// reportChart draws a report's chart: breach minutes per queue and day for
// the report's top queues, one stacked bar a day. It is the ReportChart of
// /sla report and the weekly report's Chart.
func reportChart(rep app.Report) ([]byte, error) {
	return chart.Bars(reportBars(rep))
}

// reportBars turns a report into the chart package's bar chart: days
// labelled in the report's time zone (their own location), by weekday and
// date for a week, by date alone for longer periods, where a weekday per
// bar would not fit on a phone; the queues in the report's order (worst
// first), at most chart.MaxBarRows of them.
func reportBars(rep app.Report) chart.BarChart {
	b := chart.BarChart{Days: make([]string, 0, len(rep.Days))}
	layout := "Mon 2"
	if len(rep.Days) > 8 {
		layout = "2"
	}
	for _, d := range rep.Days {
		b.Days = append(b.Days, d.Format(layout))
	}
	zone := "UTC"
	if len(rep.Days) > 0 {
		zone = rep.Days[0].Location().String()
	}
	to := rep.To
	if len(rep.Days) > 0 {
		to = rep.To.In(rep.Days[0].Location())
	}
	from := rep.From.In(to.Location())
	b.Title = fmt.Sprintf("Minutes in breach per queue, %s – %s (%s)", from.Format("2 Jan"), to.Format("2 Jan"), zone)
	for _, q := range rep.Queues[:min(len(rep.Queues), chart.MaxBarRows)] {
		b.Rows = append(b.Rows, chart.BarRow{Label: clipLabel(cmp.Or(q.QueueName, q.QueueID)), Minutes: q.Minutes})
	}
	return b
}

// clipLabel cuts s to reportLabelRunes runes, marking the cut.
func clipLabel(s string) string {
	r := []rune(s)
	if len(r) <= reportLabelRunes {
		return s
	}
	return string(r[:reportLabelRunes-1]) + "…"
}
