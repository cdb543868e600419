package handlers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// maxListLines bounds each section of /sla list and /sla status.
const maxListLines = 40

func (x *commands) list(ctx context.Context) (string, error) {
	ts, err := x.d.Records.Thresholds(ctx)
	if err != nil {
		return "", fmt.Errorf("thresholds: %w", err)
	}
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	states, err := x.d.Records.QueueStates(ctx, stateIDs(known))
	if err != nil {
		return "", fmt.Errorf("queue states: %w", err)
	}
	now := x.d.Clock.Now()
	ts = withBuiltin(ts, x.d.BuiltinDefault)

	lines := []string{fmt.Sprintf("*Thresholds* (%d)", len(ts))}
	if len(ts) == 0 {
		lines = append(lines, "None: no queue can breach. Add one with `/sla set &lt;queue&gt; &lt;metric&gt; &lt;value&gt;`.")
	}
	for i, t := range ts {
		if i == maxListLines {
			lines = append(lines, fmt.Sprintf("…and %d more.", len(ts)-i))
			break
		}
		lines = append(lines, "• "+slackapi.ThresholdLine(t, known))
	}

	snoozes := activeSnoozes(states, now)
	lines = append(lines, "", fmt.Sprintf("*Snoozes* (%d)", len(snoozes)))
	if len(snoozes) == 0 {
		lines = append(lines, "None.")
	}
	for i, s := range snoozes {
		if i == maxListLines {
			lines = append(lines, fmt.Sprintf("…and %d more.", len(snoozes)-i))
			break
		}
		line := "• " + slackapi.QueueLabel(s.QueueID, known) + " until " + slackapi.SlackDateTime(s.Until)
		if s.By != "" {
			line += " by " + slackapi.UserMention(s.By)
		}
		lines = append(lines, line)
	}

	var routes []string
	for _, q := range states {
		if q.Route != "" && q.ID != app.DefaultQueue {
			routes = append(routes, "• "+slackapi.QueueLabel(q.ID, known)+" → "+channelLink(q.Route))
		}
	}
	lines = append(lines, "", fmt.Sprintf("*Routes* (%d)", len(routes)))
	if len(routes) > maxListLines {
		routes = append(routes[:maxListLines], fmt.Sprintf("…and %d more.", len(routes)-maxListLines))
	}
	lines = append(lines, routes...)
	lines = append(lines, "Queues without a route alert in the default channel (SLACK_CHANNEL_ID).")

	var hours []string
	for _, q := range states {
		if q.Hours == nil || !q.Hours.Set() {
			continue
		}
		line := "• " + slackapi.QueueLabel(q.ID, known) + ": " + describeHours(*q.Hours, now)
		if q.ID == app.DefaultQueue {
			hours = append([]string{line}, hours...)
			continue
		}
		hours = append(hours, line)
	}
	lines = append(lines, "", fmt.Sprintf("*Business hours* (%d)", len(hours)))
	if len(hours) > maxListLines {
		hours = append(hours[:maxListLines], fmt.Sprintf("…and %d more.", len(hours)-maxListLines))
	}
	if len(hours) == 0 {
		hours = append(hours, "None: every queue alerts at any time.")
	}
	lines = append(lines, hours...)
	lines = append(lines, targetsSection(ts, states, known)...)
	return strings.Join(lines, "\n"), nil
}

func (x *commands) status(ctx context.Context) (string, error) {
	alerts, err := x.d.Records.OpenAlerts(ctx)
	if err != nil {
		return "", fmt.Errorf("open alerts: %w", err)
	}
	all, err := x.d.Records.QueueStates(ctx, []string{app.DefaultQueue})
	if err != nil {
		return "", fmt.Errorf("queue states: %w", err)
	}
	now := x.d.Clock.Now()
	var lines []string
	if s := activeSnoozes(all, now); len(s) > 0 {
		line := ":zzz: All queues are snoozed"
		if s[0].By != "" {
			line += " by " + slackapi.UserMention(s[0].By)
		}
		lines = append(lines, line+" until "+slackapi.SlackDateTime(s[0].Until)+".")
	}
	if len(alerts) == 0 {
		return strings.Join(append(lines, "No open alerts: every queue is within its thresholds."), "\n"), nil
	}
	lines = append(lines, fmt.Sprintf("*Open alerts* (%d)", len(alerts)))
	for i, a := range alerts {
		if i == maxListLines {
			lines = append(lines, fmt.Sprintf("…and %d more.", len(alerts)-i))
			break
		}
		lines = append(lines, "• "+slackapi.AlertSummary(a, now))
	}
	return strings.Join(lines, "\n"), nil
}

// stateIDs are the queues whose stored state can hold a snooze or a
// route: every known queue, and the default queue for the all-queues
// snooze.
func stateIDs(known map[string]string) []string {
	ids := make([]string, 0, len(known)+1)
	for id := range known {
		if id != app.DefaultQueue { // a change of the pseudo-queue may have named it
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return append(ids, app.DefaultQueue)
}

// withBuiltin adds the built-in default threshold where it applies: no
// stored default rule for its metric on every media type (a default for
// one media type leaves the built-in one watching the others).
func withBuiltin(ts []app.Threshold, builtin *app.Threshold) []app.Threshold {
	if builtin == nil || slices.ContainsFunc(ts, func(t app.Threshold) bool {
		return t.QueueID == app.DefaultQueue && t.Metric == builtin.Metric && t.MediaType == ""
	}) {
		return ts
	}
	b := *builtin
	b.QueueID, b.SetBy = app.DefaultQueue, "built-in"
	return append([]app.Threshold{b}, ts...)
}

// activeSnoozes lists the snoozes still running at now, soonest to end
// first; the default queue's snooze is the one of all queues.
func activeSnoozes(states []app.Queue, now time.Time) []app.Snooze {
	var out []app.Snooze
	for _, q := range states {
		if !q.SnoozedUntil.After(now) {
			continue
		}
		id := q.ID
		if id == app.DefaultQueue {
			id = app.AllQueues
		}
		out = append(out, app.Snooze{QueueID: id, Until: q.SnoozedUntil, By: q.SnoozedBy})
	}
	slices.SortFunc(out, func(a, b app.Snooze) int { return a.Until.Compare(b.Until) })
	return out
}

// channelLink links a stored channel ID, or shows anything else as code.
func channelLink(id string) string {
	if validChannelID(id) {
		return "<#" + id + ">"
	}
	return "`" + slackapi.Escape(clipArg(id)) + "`"
}
