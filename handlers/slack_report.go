package handlers

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// Reports reads the breach episodes that overlap a period; *store.Redis
// implements it.
type Reports interface {
	Episodes(ctx context.Context, from, to time.Time) ([]app.Episode, error)
}

// Uploader shares a PNG in a channel (in a thread when threadTS is set);
// *slackapi.Client implements it.
type Uploader interface {
	UploadPNG(ctx context.Context, channel, threadTS, filename, title string, png []byte) error
}

// report answers /sla report: the breaches of the last 7 or 30 days per
// queue and media type, ephemerally, and shares the chart of breach
// minutes per queue and day in the channel after answering (when a chart
// can be drawn and uploaded; the answer says so).
func (x *commands) report(ctx context.Context, cmd command, channel string) (string, error) {
	if x.d.Reports == nil {
		return "This slabot keeps no breach episodes to report on.", nil
	}
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	var only app.QueueRef
	if cmd.queue.text != "" {
		if only, err = resolveQueueArg(verbReport, cmd.queue, known); err != nil {
			return "", err
		}
	}
	to := x.d.Clock.Now()
	from := to.Add(-cmd.period)
	eps, err := x.d.Reports.Episodes(ctx, from, to)
	if err != nil {
		return "", fmt.Errorf("read episodes: %w", err)
	}
	title := fmt.Sprintf("last %d days", int(cmd.period/(24*time.Hour)))
	if only.ID != "" {
		kept := eps[:0]
		for _, e := range eps {
			if e.QueueID == only.ID {
				kept = append(kept, e)
			}
		}
		eps = kept
		title += ", " + cmp.Or(known[only.ID], only.ID)
	}
	rep := app.BuildReport(eps, from, to, x.d.ReportZone, known)
	text := slackapi.ReportText(rep, title, x.d.ReportZone)
	if len(rep.Rows) > 0 && x.d.ReportChart != nil && x.d.Uploader != nil && channel != "" {
		x.shareChart(rep, channel, title)
		text += "\nThe chart of breach minutes per queue and day follows in this channel."
	}
	return text, nil
}

// shareChart draws rep's chart and uploads it to channel after the
// answer; a failure is logged (the missing files:write scope, or slabot
// not in the channel), the text answer stands.
func (x *commands) shareChart(rep app.Report, channel, title string) {
	x.bg.Go("report chart", func(ctx context.Context) {
		png, err := x.d.ReportChart(rep)
		if err == nil {
			err = x.d.Uploader.UploadPNG(ctx, channel, "", "sla-report.png", "SLA report, "+title, png)
		}
		if err != nil {
			x.d.Logger.Warn("report chart not shared", "channel_id", channel, "err", err)
		}
	})
}
