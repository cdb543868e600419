package handlers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// ChartQueue puts chart notifications in the durable outbox, from where
// the dispatcher draws and uploads them like any Slack call;
// *store.Redis implements it.
type ChartQueue interface {
	Enqueue(ctx context.Context, n app.Notification) error
}

// chart answers /sla chart: it enqueues the chart of a queue's metric
// over the asked window, shared in the channel the command was typed in,
// and says it is on its way.
func (x *commands) chart(ctx context.Context, cmd command, channel string, by app.Actor) (string, error) {
	if x.d.Charts == nil {
		return "This slabot draws no charts.", nil
	}
	if channel == "" {
		return "Type /sla chart in the channel where the chart should go.", nil
	}
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	q, err := resolveQueueArg(verbChart, cmd.queue, known)
	if err != nil {
		return "", err
	}
	now := x.d.Clock.Now()
	job := &app.ChartJob{QueueID: q.ID, QueueName: known[q.ID], MediaType: cmd.media, Metric: cmd.metric,
		From: now.Add(-cmd.period), To: now, RequestedBy: by.UserID}
	if th, ok, err := x.rule(ctx, q.ID, cmd.metric); err != nil {
		return "", err
	} else if ok {
		v := th.Value
		job.Threshold, job.Clear = &v, th.Clear
	}
	if err := x.d.Charts.Enqueue(ctx, app.Notification{Kind: app.KindChart, Channel: channel, Chart: job, At: now}); err != nil {
		return "", fmt.Errorf("enqueue chart: %w", err)
	}
	what := lower(cmd.metric.Label())
	if cmd.media != "" {
		what = cmd.media + " " + what
	}
	return fmt.Sprintf("The chart of %s's %s over the last %s is on its way to this channel. "+
		"Nothing comes if slabot has no history of it yet, or lacks the files:write scope.",
		slackapi.QueueLabel(q.ID, known), what, chartSpan(cmd.period)), nil
}

// rule is the threshold that applies to metric m of a queue: its own,
// else default's, else the built-in one.
func (x *commands) rule(ctx context.Context, queueID string, m app.Metric) (app.Threshold, bool, error) {
	ths, err := x.d.Records.Thresholds(ctx)
	if err != nil {
		return app.Threshold{}, false, fmt.Errorf("thresholds: %w", err)
	}
	for _, id := range []string{queueID, app.DefaultQueue} {
		if i := slices.IndexFunc(ths, func(t app.Threshold) bool { return t.QueueID == id && t.Metric == m }); i >= 0 {
			return ths[i], true, nil
		}
	}
	if b := x.d.BuiltinDefault; b != nil && b.Metric == m {
		return *b, true, nil
	}
	return app.Threshold{}, false, nil
}

func chartSpan(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return fmt.Sprintf("%d hours", int(d/time.Hour))
}

func lower(s string) string {
	if s == "" {
		return s
	}
	b := []rune(s)
	if b[0] >= 'A' && b[0] <= 'Z' {
		b[0] += 'a' - 'A'
	}
	return string(b)
}

// chartClick answers the Chart button: the chart of the alert's breach
// so far, in its thread. Only a live alert's message has the button; a
// click on an old one is told where to look.
func (x *clicks) chartClick(ctx context.Context, value string, by app.Actor) (string, bool) {
	if x.d.Charts == nil {
		return "This slabot draws no charts.", false
	}
	id, episode, err := slackapi.ParseAlertValue(value)
	if err != nil {
		return userMessage(err, "", x.d.Logger), false
	}
	a, err := x.current(ctx, id, episode)
	if err != nil {
		return userMessage(err, "", x.d.Logger) + " A resolved alert's chart is in its thread.", false
	}
	now := x.d.Clock.Now()
	job := app.EpisodeChart(a, now)
	job.RequestedBy = by.UserID
	n := app.Notification{Kind: app.KindChart, Channel: cmp.Or(a.Channel, x.d.DefaultChannel), Alert: a, Chart: job, At: now}
	if err := x.d.Charts.Enqueue(ctx, n); err != nil {
		return userMessage(fmt.Errorf("enqueue chart: %w", err), "", x.d.Logger), false
	}
	return fmt.Sprintf("A chart of %s's %s since 30 minutes before the breach is on its way to the alert's thread.",
		alertLabel(a), lower(a.Metric.Label())), false
}
