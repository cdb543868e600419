package handlers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// previewer replays a rule over the stored history; *engine.Engine does.
type previewer interface {
	Preview(ctx context.Context, t app.Threshold) (app.Preview, error)
}

// preview answers /sla preview: what a rule would have done over the last
// 7 days, changing nothing.
func (x *commands) preview(ctx context.Context, cmd command) (string, error) {
	pv, ok := x.d.Actions.(previewer)
	if !ok {
		return "This slabot keeps no history to preview rules with.", nil
	}
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	ref, err := resolveQueueArg(verbPreview, cmd.queue, known)
	if err != nil {
		return "", err
	}
	t := cmd.threshold(ref.ID)
	p, err := pv.Preview(ctx, t)
	if err != nil {
		return "", err
	}
	return slackapi.ThresholdLine(t, known) + ": " + previewSentence(t, p) + "\nNothing was changed; `/sla set` with the same words sets it.", nil
}

// setPreview is the line /sla set adds about the rule just set, or "" when
// there is nothing to preview with.
func (x *commands) setPreview(ctx context.Context, t app.Threshold) string {
	pv, ok := x.d.Actions.(previewer)
	if !ok {
		return ""
	}
	p, err := pv.Preview(ctx, t)
	if err != nil {
		x.d.Logger.Warn("threshold preview failed", "queue_id", t.QueueID, "err", err)
		return ""
	}
	p.Now = false // the rule acts at once: the alert itself, or the wait for fresh data, says whether it fires
	s := previewSentence(t, p)
	if strings.HasPrefix(s, "would") {
		return "\nOver the stored history, this rule " + s
	}
	return "\n" + capitalize(s)
}

// previewSentence says what a preview found: "would have fired 3 times in
// the last 7 days (longest 22m, 41m in breach in all)."
func previewSentence(t app.Threshold, p app.Preview) string {
	if p.Series == 0 {
		if t.QueueID == app.DefaultQueue && p.Queues == 0 {
			return "every known queue has its own rule for " + string(t.Metric) + ", so this default applies to none of them yet."
		}
		return "there is no history to replay it on yet (slabot keeps each queue's metrics for 7 days, from its first event)."
	}
	when := "in the last 7 days"
	switch {
	case p.Covered < time.Minute:
		when = "so far (slabot has less than a minute of history)"
	case p.Covered < app.HistorySpan-time.Hour:
		when = "in the last " + spanWords(p.Covered) + " (all the history slabot has)"
	}
	where := ""
	if t.QueueID == app.DefaultQueue {
		where = fmt.Sprintf(" across the %d %s it applies to", p.Queues, plural(p.Queues, "queue", "queues"))
	}
	var s string
	switch p.Episodes {
	case 0:
		s = "would not have fired" + where + " " + when + "."
	case 1:
		s = fmt.Sprintf("would have fired once%s %s, for %s.", where, when, app.FormatDuration(p.Longest))
	default:
		s = fmt.Sprintf("would have fired %d times%s %s (longest %s, %s in breach in all).",
			p.Episodes, where, when, app.FormatDuration(p.Longest), app.FormatDuration(p.Breaching))
	}
	if p.Now {
		s += " It would be firing now."
	}
	if p.Covered > app.HistoryFineFor {
		s += fmt.Sprintf(" (Replayed minute by minute over the last %d hours; before that on the worst value of every %d minutes, as slabot keeps older history.)",
			int(app.HistoryFineFor/time.Hour), int(app.HistoryCoarseStep/time.Minute))
	}
	if t.MinVolume > 0 {
		s += " (The min volume is not replayed: slabot keeps values, not volumes.)"
	}
	return s
}

// spanWords renders how much history there is: "3 days", "5h 20m".
func spanWords(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return app.FormatDuration(d.Round(time.Minute))
}
