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
	// EnqueueOnce enqueues n and marks key for ttl in one atomic step,
	// unless key is marked already: then it enqueues nothing and
	// reports false.
	EnqueueOnce(ctx context.Context, key string, ttl time.Duration, n app.Notification) (bool, error)
}

// Uploader shares a PNG in a channel; *slackapi.Client implements it.
type Uploader interface {
	UploadPNG(ctx context.Context, channel, threadTS, filename, title string, png []byte) error
}

// Reporter posts the report of each period of Schedule to Channel.
type Reporter struct {
	Schedule app.ReportSchedule
	Channel  string
	Source   Source
	Outbox   Outbox
	// Chart draws the report's bar chart as a PNG and Uploader shares it;
	// no chart when either is nil.
	Chart    func(app.Report) ([]byte, error)
	Uploader Uploader
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
// outage) posts that period's report then, late. The chart, when there is
// one, is uploaded after the text is enqueued, once (lost if the replica
// dies in between).
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
	n := app.Notification{Kind: app.KindAnnounce, Channel: w.Channel, Text: slackapi.ReportText(rep, title, zone), At: now}
	posted, err := w.Outbox.EnqueueOnce(ctx, key, markKeep, n)
	if err != nil || !posted {
		return err
	}
	w.Logger.Info("weekly report enqueued", "channel_id", w.Channel, "period_end", to, "rows", len(rep.Rows))
	if len(rep.Rows) == 0 || w.Chart == nil || w.Uploader == nil {
		return nil
	}
	png, err := w.Chart(rep)
	if err == nil {
		err = w.Uploader.UploadPNG(ctx, w.Channel, "", "sla-report.png", "SLA report, "+title, png)
	}
	if err != nil {
		w.Logger.Warn("weekly report chart not shared", "channel_id", w.Channel, "err", err)
	}
	return nil
}
