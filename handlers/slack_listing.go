package handlers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

func (x *commands) list(ctx context.Context, cmd command) (string, error) {
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
	l := listing{command: "/sla list", sections: []listSection{
		thresholdSection(withBuiltin(ts, x.d.BuiltinDefault), known),
		snoozeSection(activeSnoozes(states, now), known),
		routeSection(states, known),
		hoursSection(states, known, now),
		targetsSection(ts, states, known),
	}}
	if cmd.queue.text == "" {
		return l.page(cmd.page), nil
	}
	ref, err := resolveQueueArg(verbList, cmd.queue, known)
	if err != nil {
		return "", err
	}
	// A snooze of all queues mutes this one too.
	l = l.filtered(ref.ID, app.AllQueues)
	l.command += " " + typedQueue(cmd.queue)
	for i := range l.sections {
		l.sections[i].empty = "None."
	}
	if ref.ID != app.DefaultQueue {
		l.prelude = []string{"Rules and settings of " + slackapi.QueueLabel(ref.ID, known) +
			"; where it has no threshold or hours of its own, the `default` ones apply (`/sla list default`)."}
	}
	return l.page(cmd.page), nil
}

// The sections of /sla list, each built by one call.

func thresholdSection(ts []app.Threshold, known map[string]string) listSection {
	s := listSection{title: "Thresholds",
		empty: "None: no queue can breach. Add one with `/sla set &lt;queue&gt; &lt;metric&gt; &lt;value&gt;`."}
	for _, t := range ts {
		s.items = append(s.items, listItem{queueID: t.QueueID, text: "• " + slackapi.ThresholdLine(t, known)})
	}
	return s
}

func snoozeSection(snoozes []app.Snooze, known map[string]string) listSection {
	s := listSection{title: "Snoozes", empty: "None."}
	for _, z := range snoozes {
		line := "• " + slackapi.QueueLabel(z.QueueID, known) + " until " + slackapi.SlackDateTime(z.Until)
		if z.By != "" {
			line += " by " + slackapi.UserMention(z.By)
		}
		s.items = append(s.items, listItem{queueID: z.QueueID, text: line})
	}
	return s
}

func routeSection(states []app.Queue, known map[string]string) listSection {
	s := listSection{title: "Routes", empty: "None.",
		note: "Queues without a route alert in the default channel (SLACK_CHANNEL_ID)."}
	for _, q := range states {
		if q.Route != "" && q.ID != app.DefaultQueue {
			s.items = append(s.items, listItem{queueID: q.ID, text: "• " + slackapi.QueueLabel(q.ID, known) + " → " + channelLink(q.Route)})
		}
	}
	return s
}

func hoursSection(states []app.Queue, known map[string]string, now time.Time) listSection {
	s := listSection{title: "Business hours", empty: "None: every queue alerts at any time."}
	for _, q := range states {
		if q.Hours == nil || !q.Hours.Set() {
			continue
		}
		it := listItem{queueID: q.ID, text: "• " + slackapi.QueueLabel(q.ID, known) + ": " + describeHours(*q.Hours, now)}
		if q.ID == app.DefaultQueue {
			s.items = append([]listItem{it}, s.items...)
			continue
		}
		s.items = append(s.items, it)
	}
	return s
}

// typedQueue is a queue argument as it is typed again in a command shown
// in a code span: quoted when it has spaces, with no backtick to end the
// span early.
func typedQueue(q queueArg) string {
	t := strings.ReplaceAll(q.text, "`", "ˋ")
	if q.quoted || strings.ContainsFunc(t, unicode.IsSpace) {
		t = `"` + t + `"`
	}
	return slackapi.Escape(t)
}

func (x *commands) status(ctx context.Context, cmd command) (string, error) {
	alerts, err := x.d.Records.OpenAlerts(ctx)
	if err != nil {
		return "", fmt.Errorf("open alerts: %w", err)
	}
	all, err := x.d.Records.QueueStates(ctx, []string{app.DefaultQueue})
	if err != nil {
		return "", fmt.Errorf("queue states: %w", err)
	}
	now := x.d.Clock.Now()
	l := listing{command: "/sla status"}
	if s := activeSnoozes(all, now); len(s) > 0 {
		line := ":zzz: All queues are snoozed"
		if s[0].By != "" {
			line += " by " + slackapi.UserMention(s[0].By)
		}
		l.prelude = append(l.prelude, line+" until "+slackapi.SlackDateTime(s[0].Until)+".")
	}
	// Pages must hold still between two commands: storms open many
	// alerts within the same second.
	slices.SortStableFunc(alerts, func(a, b app.Alert) int {
		return cmp.Or(a.FiredAt.Compare(b.FiredAt), cmp.Compare(a.DisplayName(), b.DisplayName()),
			cmp.Compare(a.QueueID, b.QueueID), cmp.Compare(a.MediaType, b.MediaType), cmp.Compare(a.Metric, b.Metric))
	})
	if len(alerts) > 0 {
		l.prelude = append(l.prelude, stateCounts(alerts)+" Show some: `/sla status firing|acked|snoozed|pending|&lt;queue&gt;`.")
	}
	sec := listSection{title: "Open alerts", empty: "No open alerts: every queue is within its thresholds."}
	var queueID string
	switch {
	case cmd.state != "":
		sec.title += ", " + cmd.state
		sec.empty = "None " + cmd.state + "."
		l.command += " " + stateShort[cmd.state]
	case cmd.queue.text != "":
		known, err := x.known(ctx)
		if err != nil {
			return "", err
		}
		ref, err := resolveQueueArg(verbStatus, cmd.queue, known)
		if err != nil {
			return "", err
		}
		queueID = ref.ID
		label := slackapi.QueueLabel(ref.ID, known)
		sec.title += " of " + strings.Trim(label, "*")
		sec.empty = "None: " + label + " is within its thresholds."
		l.command += " " + typedQueue(cmd.queue)
	}
	for _, a := range alerts {
		if (cmd.state == "" || alertState(a) == cmd.state) && (queueID == "" || a.QueueID == queueID) {
			sec.items = append(sec.items, listItem{queueID: a.QueueID, text: "• " + slackapi.AlertSummary(a, now)})
		}
	}
	l.sections = []listSection{sec}
	return l.page(cmd.page), nil
}

// stateShort is how a state filter is typed.
var stateShort = map[string]string{alertFiring: "firing", alertAcked: "acked", alertSnoozed: "snoozed", alertPending: "pending"}

// alertState is an open alert's state as slackapi.AlertSummary shows it.
func alertState(a app.Alert) string {
	switch {
	case a.State == app.StatePending:
		return alertPending
	case a.Muted:
		return alertSnoozed
	case a.State == app.StateAcknowledged:
		return alertAcked
	}
	return alertFiring
}

// stateCounts sums open alerts up by state: "62 open alerts: 50 firing,
// 5 acknowledged, 4 snoozed, 3 pending."
func stateCounts(alerts []app.Alert) string {
	n := make(map[string]int)
	for _, a := range alerts {
		n[alertState(a)]++
	}
	var parts []string
	for _, st := range []string{alertFiring, alertAcked, alertSnoozed, alertPending} {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
		}
	}
	noun := "open alerts"
	if len(alerts) == 1 {
		noun = "open alert"
	}
	return fmt.Sprintf("%d %s: %s.", len(alerts), noun, strings.Join(parts, ", "))
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
