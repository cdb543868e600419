// Package weekly posts the weekly SLA report (SLA_REPORT) to the default
// channel: the breaches of the week per queue and media type, with the
// chart of breach minutes per queue and day, once per week whatever the
// replicas and restarts.
package weekly

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// Source reads what a report sums up; *store.Redis implements it.
type Source interface {
	Episodes(ctx context.Context, from, to time.Time) ([]app.Episode, error)
	KnownQueues(ctx context.Context) (map[string]string, error)
}

// Outbox enqueues the report for Slack; *store.Redis implements it.
type Outbox interface {
	// Marked reports whether key was marked by EnqueueOnce.
	Marked(ctx context.Context, key string) (bool, error)
	// EnqueueOnce enqueues ns in order and marks key for ttl in one
	// atomic step, unless key is marked already: then it enqueues nothing
	// and reports false.
	EnqueueOnce(ctx context.Context, key string, ttl time.Duration, ns ...app.Notification) (bool, error)
}

// Reporter posts the report of each period of Schedule to Channel.
type Reporter struct {
	Schedule app.ReportSchedule
	Channel  string
	Source   Source
	Outbox   Outbox
	Clock    app.Clock
	Logger   *slog.Logger
}

// markKeep is how long a period's mark is kept: past the period's end, so
// that no restart within it posts again.
const markKeep = 8 * 24 * time.Hour

// Tick posts the report of the period that began at the schedule's latest
// moment, unless it went out already. cmd calls it every minute on the
// replica that holds the "weekly-report" lease; the report's text goes
// through the durable outbox in the same atomic step as the period's
// mark, so it is posted exactly once even when two replicas overlap or
// one restarts. A replica that first runs after the moment (a deploy, an
// outage) posts that period's report then, late. A week with breaches
// enqueues its chart in that same step, after the text, as a KindChart
// job the dispatcher draws and uploads: paced and retried like any other
// Slack call, never lost to a replica dying between text and chart.
func (w *Reporter) Tick(ctx context.Context) error {
	now := w.Clock.Now()
	at := w.Schedule.Last(now)
	key := "weekly-report:" + strconv.FormatInt(at.Unix(), 10)
	if done, err := w.Outbox.Marked(ctx, key); err != nil || done {
		return err
	}
	from, to := w.Schedule.Period(at)
	eps, err := w.Source.Episodes(ctx, from, to)
	if err != nil {
		return fmt.Errorf("weekly report: %w", err)
	}
	names, err := w.Source.KnownQueues(ctx)
	if err != nil {
		return fmt.Errorf("weekly report: %w", err)
	}
	zone := w.Schedule.Zone
	rep := app.BuildReport(eps, from, to, zone, names)
	title := "week to " + to.In(zone).Format("Mon 2 Jan")
	ns := []app.Notification{{Kind: app.KindAnnounce, Channel: w.Channel, Text: slackapi.ReportText(rep, title, zone), At: now}}
	if len(rep.Rows) > 0 {
		ns = append(ns, app.ReportChart(rep, w.Channel, title, now))
	}
	posted, err := w.Outbox.EnqueueOnce(ctx, key, markKeep, ns...)
	if err != nil || !posted {
		return err
	}
	w.Logger.Info("weekly report enqueued", "channel_id", w.Channel, "period_end", to, "rows", len(rep.Rows), "chart", len(ns) > 1)
	return nil
}
