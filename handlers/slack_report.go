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

// report answers /sla report: the breaches of the last 7 or 30 days per
// queue and media type, ephemerally, and enqueues the chart of breach
// minutes per queue and day for the channel it was typed in: the
// dispatcher draws and uploads it like the other charts, paced and
// retried.
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
	if len(rep.Rows) > 0 && x.d.Charts != nil && channel != "" {
		if err := x.d.Charts.Enqueue(ctx, app.ReportChart(rep, channel, title, to)); err != nil {
			return "", fmt.Errorf("enqueue report chart: %w", err)
		}
		text += "\nThe chart of breach minutes per queue and day follows in this channel."
	}
	return text, nil
}
