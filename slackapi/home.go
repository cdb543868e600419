package slackapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
)

// Identifiers of the App Home's interactive parts, handled by the same
// interaction endpoint as the alert message. The Ack buttons of the App
// Home reuse ActionAck with an AlertValue.
const (
	// ActionUnsnooze is the action_id of an Unsnooze button on a muted
	// alert; its value is AlertValue and it ends the snooze muting the
	// alert's queue.
	ActionUnsnooze = "alert_unsnooze"
	// ActionUnsnoozeQueue is the action_id of the Unsnooze button of a
	// snooze listed in the App Home; its value is the queue ID, or
	// app.AllQueues.
	ActionUnsnoozeQueue = "queue_unsnooze"
)

// Bounds that keep the App Home inside Slack's 100 blocks per view and
// 3000 characters per text object.
const (
	maxHomeAlerts  = 20
	maxHomeSnoozes = 15
	maxHomeLines   = 40
	maxSectionText = 2900
)

// Home is what the App Home tab shows: the same for every viewer, apart
// from Notice.
type Home struct {
	// Now is the moment the view describes.
	Now time.Time
	// Names maps queue IDs to names (Records.KnownQueues).
	Names map[string]string
	// Thresholds in effect, the built-in default included.
	Thresholds []app.Threshold
	// Alerts are the open alerts (pending, firing, acknowledged).
	Alerts []app.Alert
	// Snoozes are the active snoozes; QueueID may be app.AllQueues.
	Snoozes []app.Snooze
	// Notice is mrkdwn shown at the top, already escaped: the result of
	// the viewer's last click there.
	Notice string
}

// HomeView renders h as a Home tab view.
func HomeView(h Home) slack.HomeTabViewRequest {
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Queue SLA alerts"))}
	if h.Notice != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(clipLines(h.Notice, maxSectionText)), nil, nil))
	}

	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*Open alerts* (%d)", len(h.Alerts))), nil, nil))
	if len(h.Alerts) == 0 {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn("No queue is breaching its SLA.")))
	}
	for i, a := range h.Alerts {
		if i == maxHomeAlerts {
			blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more: `/sla status` lists all %d, a page at a time.", len(h.Alerts)-i, len(h.Alerts)))))
			break
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(AlertSummary(a, h.Now)), nil, nil))
		if btns := homeAlertButtons(a); len(btns) > 0 {
			blocks = append(blocks, slack.NewActionBlock(fmt.Sprintf("home_alert_%d", i), btns...))
		}
	}

	blocks = append(blocks, slack.NewDividerBlock(),
		slack.NewSectionBlock(mrkdwn(thresholdsText(h.Thresholds, h.Names)), nil, nil),
		slack.NewDividerBlock(),
		slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*Snoozes* (%d)", len(h.Snoozes))), nil, nil))
	if len(h.Snoozes) == 0 {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn("No queue is snoozed.")))
	}
	for i, s := range h.Snoozes {
		if i == maxHomeSnoozes {
			blocks = append(blocks, slack.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more: `/sla list` lists all %d, a page at a time.", len(h.Snoozes)-i, len(h.Snoozes)))))
			break
		}
		text := fmt.Sprintf("%s snoozed until %s", queueLabel(s.QueueID, h.Names), slackDateTime(s.Until))
		if s.By != "" {
			text += " by " + userMention(s.By)
		}
		btn := slack.NewButtonBlockElement(ActionUnsnoozeQueue, s.QueueID, plain("Unsnooze"))
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(text), nil, slack.NewAccessory(btn)))
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(
		"Updated "+slackTime(h.Now)+". Type `/sla help` in any channel for the commands.")))
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
}

// AlertSummary describes an open alert in mrkdwn, for the App Home and
// /sla status: the queue, the value against its threshold, the state and
// for how long, who acknowledged it, and who snoozed it until when (a
// snoozed alert shows that, and when its breach started, rather than an
// age that reads as the snooze's).
func AlertSummary(a app.Alert, now time.Time) string {
	name := QueueName(a.DisplayName(), maxNameRunes)
	if a.MediaType != "" {
		name += " (" + QueueName(a.MediaType, maxShortRunes) + ")"
	}
	icon, state := ":rotating_light:", "firing"
	switch {
	case a.State == app.StatePending:
		icon, state = ":hourglass_flowing_sand:", "pending"
	case a.Muted:
		icon, state = ":zzz:", "snoozed"
	case a.State == app.StateAcknowledged:
		icon, state = ":eyes:", "acknowledged"
	}
	// The name carries the media type; a rule on target names the target.
	s := fmt.Sprintf("%s *%s* — %s *%s* (%s) · %s", icon, name, a.Metric.Label(),
		a.Metric.FormatValue(a.Value), limitWords(a.Metric, a.Threshold, "", a.Target), state)
	switch {
	case a.Muted && a.State.Open():
		if a.SnoozedBy != "" {
			s += " by " + userMention(a.SnoozedBy)
		}
		if !a.SnoozedUntil.IsZero() {
			s += " until " + slackDateTime(a.SnoozedUntil)
		}
		if start := a.BreachStart(); !start.IsZero() {
			s += ", breaching since " + slackDateTime(start)
		}
	case !a.FiredAt.IsZero():
		s += " for " + app.FormatDuration(max(now.Sub(a.FiredAt), 0))
	case !a.PendingSince.IsZero():
		s += " since " + slackTime(a.PendingSince)
	}
	if a.AckedBy != "" {
		s += "\nAcknowledged by " + userMention(a.AckedBy) + " at " + slackTime(a.AckedAt)
	}
	return s
}

func homeAlertButtons(a app.Alert) []slack.BlockElement {
	var btns []slack.BlockElement
	if a.State == app.StateFiring && a.AckedBy == "" {
		btns = append(btns, slack.NewButtonBlockElement(ActionAck, AlertValue(a), plain("Acknowledge")).WithStyle(slack.StylePrimary))
	}
	if a.Muted && a.State.Open() {
		btns = append(btns, slack.NewButtonBlockElement(ActionUnsnooze, AlertValue(a), plain("Unsnooze queue")))
	}
	return btns
}

func thresholdsText(ts []app.Threshold, names map[string]string) string {
	lines := []string{fmt.Sprintf("*Thresholds* (%d)", len(ts))}
	if len(ts) == 0 {
		lines = append(lines, "None: no queue can breach. `/sla set <queue> <metric> <value>` adds one.")
	}
	// Lines are added while they fit, so that the pointer counts exactly
	// what was left out (clipLines would count lines, not thresholds).
	size := len(lines[0])
	for i, t := range ts {
		line := "• " + ThresholdLine(t, names)
		if i == maxHomeLines || size+len(line)+1 > maxSectionText-100 {
			lines = append(lines, fmt.Sprintf("…and %d more: `/sla list` lists all %d, a page at a time.", len(ts)-i, len(ts)))
			break
		}
		lines = append(lines, line)
		size += len(line) + 1
	}
	return clipLines(strings.Join(lines, "\n"), maxSectionText)
}

// ThresholdLine renders one threshold for people, in mrkdwn: the queue (by
// name when known), the rule as /sla set takes it, and who set it.
func ThresholdLine(t app.Threshold, names map[string]string) string {
	label := queueLabel(t.QueueID, names)
	if t.MediaType != "" {
		label += " (" + QueueName(t.MediaType, maxShortRunes) + ")"
	}
	value := t.Metric.FormatValue(t.Value)
	if t.Target {
		value = "the queue's own target"
	}
	s := fmt.Sprintf("%s %s %s %s", label, t.Metric, breachWord(t.Metric), value)
	if t.Clear != nil {
		s += ", clears at " + clearWords(t.Metric, *t.Clear)
	}
	if t.MinVolume > 0 {
		s += fmt.Sprintf(", min %s offered", strconv.FormatFloat(t.MinVolume, 'f', -1, 64))
	}
	switch {
	case t.For > 0 && (t.Clear != nil || t.MinVolume > 0):
		s += ", for " + app.FormatDuration(t.For)
	case t.For > 0:
		s += " for " + app.FormatDuration(t.For)
	}
	switch t.SetBy {
	case "":
	case "built-in":
		s += " _(built-in; SLA_DEFAULT_LONGEST_WAIT)_ for voice, chat and metric events only" // app.BuiltinApplies
	default:
		s += " · set by " + userMention(t.SetBy)
	}
	return s
}

// clearWords says where a rule with a band clears: "3m or less".
func clearWords(m app.Metric, clear float64) string {
	if m.BreachesBelow() {
		return m.FormatValue(clear) + " or more"
	}
	return m.FormatValue(clear) + " or less"
}

func breachWord(m app.Metric) string {
	if m.BreachesBelow() {
		return "below"
	}
	return "above"
}

// QueueLabel names a queue in mrkdwn: its escaped name in bold when known,
// else its ID in code; "default" and "all queues" for the pseudo-queues.
func QueueLabel(queueID string, names map[string]string) string { return queueLabel(queueID, names) }

func queueLabel(queueID string, names map[string]string) string {
	switch queueID {
	case app.DefaultQueue:
		return "*default*"
	case app.AllQueues:
		return "*all queues*"
	}
	if n := names[queueID]; n != "" {
		return "*" + QueueName(n, maxNameRunes) + "*"
	}
	return "`" + QueueName(queueID, maxNameRunes) + "`"
}

// SlackTime shows t in each reader's own time zone, with UTC as the
// fallback for clients that cannot.
func SlackTime(t time.Time) string { return slackTime(t) }

// SlackDateTime shows t as a date and time in each reader's own time zone,
// with UTC as the fallback.
func SlackDateTime(t time.Time) string { return slackDateTime(t) }

// UserMention links a Slack user ID, or shows anything else escaped.
func UserMention(id string) string { return userMention(id) }

// PublishHome publishes the App Home for userID (views.publish). Failures
// are *dispatch.DeliveryError, like Notify's.
func (c *Client) PublishHome(ctx context.Context, userID string, h Home) error {
	if userID == "" {
		return &dispatch.DeliveryError{Err: errors.New("slack views.publish: no user")}
	}
	_, err := c.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: userID, View: HomeView(h)})
	if err != nil {
		return classify("views.publish", string(c.token), err)
	}
	c.log.Debug("slack home published", "user_id", userID, "alerts", len(h.Alerts))
	return nil
}

// PublishHome prints the App Home as userID would see it: local mode has
// no Slack to publish to.
func (c *Console) PublishHome(ctx context.Context, userID string, h Home) error {
	if err := ctx.Err(); err != nil {
		return &dispatch.DeliveryError{Err: fmt.Errorf("console: %w", err), Retry: true}
	}
	view := HomeView(h)
	var b strings.Builder
	fmt.Fprintf(&b, "── Slack: App Home of %s\n", userID)
	for _, bl := range view.Blocks.BlockSet {
		if hb, ok := bl.(*slack.HeaderBlock); ok {
			writeIndented(&b, hb.Text.Text)
		}
	}
	for _, l := range blockLines(view.Blocks.BlockSet) {
		writeIndented(&b, l)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprint(c.w, b.String()); err != nil {
		return &dispatch.DeliveryError{Err: fmt.Errorf("console: %w", err)}
	}
	return nil
}
