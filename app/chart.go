package app

import "time"

// ChartJob is what a KindChart notification draws. The outbox carries
// these few fields, not an image: the PNG is drawn when the notification
// is delivered, from the metric history and the episodes the store keeps,
// so an entry stays small and a retry draws the same chart.
type ChartJob struct {
	// QueueID, QueueName, MediaType and Metric name the series drawn.
	QueueID   string `json:"queue_id,omitempty"`
	QueueName string `json:"queue_name,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	Metric    Metric `json:"metric,omitempty"`
	// From and To bound the window drawn.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Threshold and Clear are the rule's levels, drawn as lines; nil
	// when no rule applies. An episode chart takes them from its alert.
	Threshold *float64 `json:"threshold,omitempty"`
	Clear     *float64 `json:"clear,omitempty"`
	// Episode says the chart is of Notification.Alert's breach episode,
	// shaded from its start to its end with its acks and snoozes marked;
	// other episodes in the window are shaded from the store's records.
	Episode bool `json:"episode,omitempty"`
	// RequestedBy is the Slack user who asked for the chart (the Chart
	// button, /sla chart); empty for the chart of a resolution.
	RequestedBy string `json:"requested_by,omitempty"`
	// Report, when set, is drawn instead of a series: the breach minutes
	// of its queues per day (Days and Queues; Rows are not read, leave
	// them out to keep the entry small).
	Report *Report `json:"report,omitempty"`
	// Title names the chart in Slack (the file's title); a default
	// is made from the series when empty.
	Title string `json:"title,omitempty"`
}

// ChartLead is how long before an episode's breach its chart starts, so
// the climb into the breach shows.
const ChartLead = 30 * time.Minute

// EpisodeChart is the chart job of alert a's episode: from ChartLead
// before its breach began to its end (or to now while it goes on), with
// the rule's levels.
func EpisodeChart(a Alert, now time.Time) *ChartJob {
	end := a.ResolvedAt
	if end.IsZero() || a.State.Open() {
		end = now
	}
	th := a.Threshold
	return &ChartJob{QueueID: a.QueueID, QueueName: a.QueueName, MediaType: a.MediaType, Metric: a.Metric,
		From: a.BreachStart().Add(-ChartLead), To: end, Threshold: &th, Clear: a.Clear, Episode: true}
}

// ReportChartFile is the file name a report's chart is shared under.
const ReportChartFile = "sla-report.png"

// ReportChart is the KindChart notification that shares rep's bar chart in
// channel, titled "SLA report, <title>". It goes through the outbox like
// any other Slack call, so its upload is paced and retried; the rows are
// left out (the chart draws Days and Queues), keeping the entry small.
func ReportChart(rep Report, channel, title string, now time.Time) Notification {
	rep.Rows = nil
	return Notification{Kind: KindChart, Channel: channel, At: now,
		Chart: &ChartJob{Report: &rep, Title: "SLA report, " + title}}
}
