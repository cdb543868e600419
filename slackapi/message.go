package slackapi

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
)

// Identifiers of the alert message's interactive parts. The interaction
// handler dispatches on them, so they are part of the contract between the
// message and the handler and must not change while old messages exist.
const (
	// BlockActions is the stable part (BlockBase) of the block_id of the
	// actions block holding the Acknowledge and Resolve buttons.
	BlockActions = "alert_actions"
	// ActionAck is the action_id of the Acknowledge button; its value is
	// AlertValue.
	ActionAck = "alert_ack"
	// ActionResolve is the action_id of the Resolve button; its value is
	// AlertValue.
	ActionResolve = "alert_resolve"
	// ActionSnooze is the action_id of the snooze menu. A select carries no
	// value of its own, so the alert is named by the block_id of the block
	// holding the menu, whose BlockBase is AlertValue; the chosen option's
	// value is one of SnoozeChoices.
	ActionSnooze = "alert_snooze"
	// ActionChart is the action_id of the Chart button, which shares the
	// chart of the breach so far in the alert's thread; its value is
	// AlertValue.
	ActionChart = "alert_chart"
)

// SnoozeChoices returns the snooze menu's option values, in menu order.
// Each parses with app.ParseDuration; the handler should accept only these.
func SnoozeChoices() []string {
	out := make([]string, len(snoozeOptions))
	for i, o := range snoozeOptions {
		out[i] = o.value
	}
	return out
}

var snoozeOptions = [...]struct{ value, label string }{
	{"15m", "15 min"}, {"1h", "1 h"}, {"4h", "4 h"},
}

// Display limits keep every text object far inside Slack's limits (3000
// characters for a section, 2000 for a field) even after escaping, which
// can multiply a name's length by five.
const (
	maxNameRunes  = 150
	maxShortRunes = 50
)

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes s safe to place in Slack mrkdwn: &, < and > become entities,
// so that text from Genesys or users ("<!channel>", "<@U123>") is shown
// literally instead of pinging people or forming links. slack-go does not
// escape block text itself.
func Escape(s string) string { return mrkdwnEscaper.Replace(s) }

// blockRev separates a block_id's stable part, which the interaction
// handler reads (an alert's AlertValue, a digest's ID), from the
// revision that makes it fresh on every rendering of the message.
const blockRev = "#"

// freshBlockID is base with a revision taken from now, the moment the
// message describes. Slack discourages reusing a block_id across updates
// of a message (clients keep a block's state, such as a menu's choice, by
// its id), so each update gets new ids; the same notification retried
// renders the same ids, so its payload stays the same.
func freshBlockID(base string, now time.Time) string {
	return base + blockRev + strconv.FormatInt(now.UnixNano(), 36)
}

// BlockBase is the stable part of a block_id slabot made, without its
// revision: the alert value or digest ID a click acts on. A block_id
// without a revision (a message posted before they were added) is
// returned as it is.
func BlockBase(blockID string) string {
	base, _, _ := cutLast(blockID, blockRev)
	return base
}

// AlertValue identifies an alert episode in a button value or block_id:
// "<alert id>|<episode>". A click carries it back, so a click on the
// message of an older episode can be recognised and ignored.
func AlertValue(a app.Alert) string {
	return a.ID + "|" + strconv.Itoa(a.Episode)
}

// ParseAlertValue splits a value made by AlertValue. Anything else (a
// forged or truncated payload) fails with an error wrapping app.ErrNotFound,
// since it names no alert.
func ParseAlertValue(v string) (alertID string, episode int, err error) {
	id, ep, ok := cutLast(v, "|")
	if !ok {
		return "", 0, fmt.Errorf("%w: alert value %q has no episode", app.ErrNotFound, clip(v, 80))
	}
	if _, _, _, err := app.ParseAlertID(id); err != nil {
		return "", 0, fmt.Errorf("%w: alert value %q names no alert", app.ErrNotFound, clip(v, 80))
	}
	n, err := strconv.Atoi(ep)
	if err != nil || n < 1 {
		return "", 0, fmt.Errorf("%w: alert value %q has a bad episode", app.ErrNotFound, clip(v, 80))
	}
	return id, n, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// AlertMessage renders an alert as its Slack message: a plain-text
// fallback for notifications and the Block Kit layout (DESIGN §3). now is
// the moment the message describes ("breaching for …"); callers pass the
// notification's time so that a retried delivery renders the same message.
// appsURL is the Genesys Cloud web app's base URL; the "Open in Genesys
// Cloud" link is left out when it is empty.
func AlertMessage(a app.Alert, now time.Time, appsURL string) (text string, blocks []slack.Block) {
	name := QueueName(a.DisplayName(), maxNameRunes)
	open := a.State.Open()

	var summary slack.SectionBlockOption = func(*slack.SectionBlock) {}
	var accessory *slack.Accessory
	if open {
		// The menu's block names the alert because a select has no value.
		summary = slack.SectionBlockOptionBlockID(freshBlockID(AlertValue(a), now))
		accessory = slack.NewAccessory(snoozeMenu())
	}
	lines := []string{headline(a, name), valueLine(a), statusLine(a, now)}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(strings.Join(nonEmpty(lines), "\n")), nil, accessory, summary))

	if fields := contextFields(a); len(fields) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	}
	if link := genesysLink(appsURL, a.QueueID); link != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(link)))
	}
	if open {
		blocks = append(blocks, actions(a, now))
	}
	return fallbackText(a, name), blocks
}

// ContinuedMessage renders the message of an episode whose breach goes on
// in a newer message (a snooze ended and the breach was posted afresh):
// closed, without buttons, saying why and linking to the new message
// (nextTS, in channel) when its ts is known.
func ContinuedMessage(a app.Alert, channel, nextTS string, now time.Time, appsURL string) (text string, blocks []slack.Block) {
	name := QueueName(a.DisplayName(), maxNameRunes)
	ended := "The snooze ended " + slackDateTime(a.SnoozedUntil)
	if a.SnoozeEndedBy != "" || a.SnoozedUntil.IsZero() || now.Before(a.SnoozedUntil) {
		ended = "The snooze was ended"
		if a.SnoozeEndedBy != "" {
			ended += " by " + userMention(a.SnoozeEndedBy)
		}
		ended += " " + slackDateTime(now)
	}
	where := "a new message below"
	if link := Permalink(channel, nextTS); link != "" {
		where = "<" + link + "|a new message>"
	}
	lines := []string{":arrow_down: *SLA breach: " + name + "* (continues in a new message)", valueLine(a),
		ended + " while the queue still breached; the breach continues in " + where + "."}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(strings.Join(nonEmpty(lines), "\n")), nil, nil))
	if fields := contextFields(a); len(fields) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	}
	if link := genesysLink(appsURL, a.QueueID); link != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn(link)))
	}
	return fmt.Sprintf("SLA breach continues in a new message: %s — %s %s (%s)", name,
		a.Metric.Label(), a.Metric.FormatValue(a.Value), limitWords(a.Metric, a.Threshold, a.MediaType, a.Target)), blocks
}

// Permalink is the address of message ts in channel, in the form Slack's
// own permalinks take (chat.getPermalink adds the workspace's host, which
// slack.com redirects to); "" when either is unknown.
func Permalink(channel, ts string) string {
	if channel == "" || ts == "" || strings.ContainsAny(channel+ts, "/?#|<> ") {
		return ""
	}
	return "https://slack.com/archives/" + channel + "/p" + strings.ReplaceAll(ts, ".", "")
}

// notificationMessage renders an alert notification's message: the close
// of a message whose breach continues elsewhere, or the alert itself.
func notificationMessage(n app.Notification, now time.Time, appsURL string) (string, []slack.Block) {
	if n.Kind == app.KindUpdate && n.ContinuedIn > 0 {
		return ContinuedMessage(n.Alert, n.Channel, n.ContinuedTS, now, appsURL)
	}
	return AlertMessage(n.Alert, now, appsURL)
}

func headline(a app.Alert, name string) string {
	switch {
	case a.State == app.StateResolved && a.RuleRemoved:
		return ":no_bell: *Alert closed: " + name + "*"
	case a.State == app.StateResolved && a.OffHours:
		return ":crescent_moon: *Resolved, outside business hours: " + name + "*"
	case a.State == app.StateResolved:
		return ":white_check_mark: *Resolved: " + name + "*"
	case a.State == app.StatePending:
		return ":hourglass_flowing_sand: *Possible SLA breach: " + name + "*"
	case a.Muted:
		return ":zzz: *SLA breach: " + name + "* (snoozed)"
	case a.State == app.StateAcknowledged:
		return ":eyes: *SLA breach: " + name + "* (acknowledged)"
	}
	return ":rotating_light: *SLA breach: " + name + "*"
}

func valueLine(a app.Alert) string {
	label, value, threshold := a.Metric.Label(), a.Metric.FormatValue(a.Value), limitWords(a.Metric, a.Threshold, a.MediaType, a.Target)
	if a.State == app.StateResolved {
		if a.RuleRemoved {
			return fmt.Sprintf("*%s* was %s (%s, now removed)", label, value, threshold)
		}
		if a.Metric.Breached(a.Value, a.Threshold) {
			return fmt.Sprintf("*%s* was %s (%s)", label, value, threshold)
		}
		return fmt.Sprintf("*%s* is back to %s (%s)", label, value, threshold)
	}
	asOf := ""
	if !a.ValueAt.IsZero() {
		asOf = ", as of " + slackDateTime(a.ValueAt)
	}
	if a.Clear != nil {
		return fmt.Sprintf("*%s* is *%s*%s (%s; resolves at %s)", label, value, asOf, threshold, clearWords(a.Metric, *a.Clear))
	}
	return fmt.Sprintf("*%s* is *%s*%s (%s)", label, value, asOf, threshold)
}

// peakWords names the episode's worst value, when known.
func peakWords(a app.Alert) string {
	if a.Peak == nil {
		return ""
	}
	return "peak " + a.Metric.FormatValue(*a.Peak)
}

func statusLine(a app.Alert, now time.Time) string {
	var parts []string
	if a.State == app.StateResolved && a.RuleRemoved {
		s := "Closed"
		if d, ok := lasted(a, now); ok {
			s += " after " + app.FormatDuration(d)
		}
		s += ": threshold removed"
		if a.RuleRemovedBy != "" {
			s += " by " + userMention(a.RuleRemovedBy)
		}
		parts = append(parts, s+"; this queue no longer alerts on it.")
	} else if a.State == app.StateResolved && a.OffHours {
		s := "The queue's business hours ended"
		if d, ok := lasted(a, now); ok {
			s += " after " + app.FormatDuration(d) + " of breach"
		}
		s += "; no alert fires for it until they open again"
		if !a.RearmAt.IsZero() {
			s += " at " + slackTime(a.RearmAt)
		}
		parts = append(parts, s+".")
	} else if a.State == app.StateResolved {
		s := "Resolved"
		if d, ok := lasted(a, now); ok {
			s += " after " + app.FormatDuration(d)
		}
		if a.ResolvedBy != "" {
			s += " by " + userMention(a.ResolvedBy)
		}
		if p := peakWords(a); p != "" {
			s += " (" + p + ")"
		}
		parts = append(parts, s+".")
	} else if start := a.BreachStart(); !a.FiredAt.IsZero() && !start.IsZero() {
		// A date Slack renders, not a duration frozen at posting time.
		s := "Breach started " + slackDateTime(start)
		if p := peakWords(a); p != "" {
			s += "; " + p
		}
		parts = append(parts, s+".")
	}
	if a.AckedBy != "" {
		parts = append(parts, "Acknowledged by "+userMention(a.AckedBy)+" at "+slackTime(a.AckedAt)+".")
	}
	switch {
	case a.Muted && a.State.Open() && !a.SnoozedUntil.IsZero():
		s := "Snoozed"
		if a.SnoozedBy != "" {
			s += " by " + userMention(a.SnoozedBy)
		}
		parts = append(parts, s+" until "+slackDateTime(a.SnoozedUntil)+": no reminders or new alerts for this queue until then.")
	case a.Muted && a.State.Open():
		parts = append(parts, "Snoozed: no reminders or new alerts for this queue until the snooze ends.")
	case a.SnoozeEndedBy != "" && a.State.Open():
		parts = append(parts, "Snooze ended early by "+userMention(a.SnoozeEndedBy)+".")
	}
	return strings.Join(parts, " ")
}

// lasted is how long the breach lasted: from its start (before a rule's
// "for" wait) to resolution (or to now when the resolution time is
// unknown). An episode that never fired has not lasted.
func lasted(a app.Alert, now time.Time) (time.Duration, bool) {
	if a.FiredAt.IsZero() {
		return 0, false
	}
	end := a.ResolvedAt
	if end.IsZero() {
		end = now
	}
	return max(end.Sub(a.BreachStart()), 0), true
}

// contextFields are the facts around the metric: media type, waiting count
// and agents on queue, each only when known and not the alert's own metric.
func contextFields(a app.Alert) []*slack.TextBlockObject {
	var fields []*slack.TextBlockObject
	if a.MediaType != "" {
		fields = append(fields, mrkdwn("*Media type*\n"+QueueName(a.MediaType, maxShortRunes)))
	}
	if a.QueueWaiting != nil && a.Metric != app.Waiting {
		fields = append(fields, mrkdwn("*Waiting*\n"+app.Waiting.FormatValue(*a.QueueWaiting)))
	}
	if a.QueueAgents != nil && a.Metric != app.Agents {
		fields = append(fields, mrkdwn("*Agents on queue*\n"+app.Agents.FormatValue(*a.QueueAgents)))
	}
	return fields
}

// GenesysQueueURL is the queue's page in the Genesys Cloud web app, or ""
// when appsURL is empty.
func GenesysQueueURL(appsURL, queueID string) string {
	if appsURL == "" || queueID == "" {
		return ""
	}
	return strings.TrimRight(appsURL, "/") + "/directory/#/admin/admin/organization/_queuesV2/" + url.PathEscape(queueID)
}

func genesysLink(appsURL, queueID string) string {
	u := GenesysQueueURL(appsURL, queueID)
	if u == "" {
		return ""
	}
	return "<" + Escape(u) + "|Open in Genesys Cloud>"
}

func snoozeMenu() *slack.SelectBlockElement {
	opts := make([]*slack.OptionBlockObject, len(snoozeOptions))
	for i, o := range snoozeOptions {
		opts[i] = slack.NewOptionBlockObject(o.value, plain(o.label), nil)
	}
	return slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Snooze queue…"), ActionSnooze, opts...)
}

func actions(a app.Alert, now time.Time) *slack.ActionBlock {
	value := AlertValue(a)
	var elems []slack.BlockElement
	if a.State != app.StateAcknowledged && a.AckedBy == "" {
		elems = append(elems, slack.NewButtonBlockElement(ActionAck, value, plain("Acknowledge")).WithStyle(slack.StylePrimary))
	}
	confirm := slack.NewConfirmationBlockObject(
		plain("Resolve this alert?"),
		mrkdwn("The alert will be marked resolved. If the queue still breaches, the next observation opens a new alert."),
		plain("Resolve"), plain("Cancel")).WithStyle(slack.StyleDanger)
	elems = append(elems, slack.NewButtonBlockElement(ActionResolve, value, plain("Resolve")).
		WithStyle(slack.StyleDanger).WithConfirm(confirm),
		slack.NewButtonBlockElement(ActionChart, value, plain("Chart")))
	if a.Muted {
		elems = append(elems, slack.NewButtonBlockElement(ActionUnsnooze, value, plain("Unsnooze queue")))
	}
	return slack.NewActionBlock(freshBlockID(BlockActions, now), elems...)
}

// fallbackText is the one-line text Slack shows in notifications and where
// blocks cannot be rendered. It is mrkdwn too, so name is already escaped.
func fallbackText(a app.Alert, name string) string {
	prefix := "SLA breach"
	switch {
	case a.State == app.StateResolved && a.RuleRemoved:
		prefix = "Alert closed (threshold removed)"
	case a.State == app.StateResolved && a.OffHours:
		prefix = "Resolved (outside business hours)"
	case a.State == app.StateResolved:
		prefix = "Resolved"
	case a.State == app.StatePending:
		prefix = "Possible SLA breach"
	case a.Muted:
		prefix = "SLA breach (snoozed)"
	case a.State == app.StateAcknowledged:
		prefix = "SLA breach (acknowledged)"
	}
	return fmt.Sprintf("%s: %s — %s %s (%s)", prefix, name,
		a.Metric.Label(), a.Metric.FormatValue(a.Value), limitWords(a.Metric, a.Threshold, a.MediaType, a.Target))
}

// replyText is the thread reply for a notification's reason. mention is
// the operator's SLACK_MENTION, placed verbatim so that it can ping.
func replyText(a app.Alert, reason string, now time.Time, mention string) string {
	name := QueueName(a.DisplayName(), maxNameRunes)
	metric := strings.ToLower(a.Metric.Label())
	value, threshold := a.Metric.FormatValue(a.Value), limitWords(a.Metric, a.Threshold, a.MediaType, a.Target)
	switch reason {
	case "resolved":
		after := ""
		if d, ok := lasted(a, now); ok {
			after = " after " + app.FormatDuration(d)
		}
		if a.RuleRemoved {
			by := ""
			if a.RuleRemovedBy != "" {
				by = " by " + userMention(a.RuleRemovedBy)
			}
			return fmt.Sprintf(":no_bell: Alert closed%s: threshold removed%s. *%s* %s was %s (%s).",
				after, by, name, metric, value, threshold)
		}
		if a.ResolvedBy != "" {
			return fmt.Sprintf(":white_check_mark: Resolved by %s%s: *%s* %s is %s (%s).",
				userMention(a.ResolvedBy), after, name, metric, value, threshold)
		}
		return fmt.Sprintf(":white_check_mark: Resolved: *%s* %s is back to %s (%s)%s.",
			name, metric, value, threshold, after)
	case "reminder":
		s := ":alarm_clock: Still breaching"
		if !a.FiredAt.IsZero() {
			s += " after " + app.FormatDuration(max(now.Sub(a.FiredAt), 0))
		}
		if a.AckedBy == "" {
			s += " and not acknowledged"
		}
		s += fmt.Sprintf(". *%s* %s is %s (%s).", name, metric, value, threshold)
		if mention != "" {
			s = mention + " " + s
		}
		return s
	}
	return fmt.Sprintf(":information_source: *%s*: %s is %s (%s).", name, metric, value, threshold)
}

// userMention links a Slack user ID. Anything that is not a plain user ID
// is shown escaped, so a forged ID cannot smuggle markup in.
func userMention(id string) string {
	if len(id) < 2 || len(id) > 32 || (id[0] != 'U' && id[0] != 'W') {
		return QueueName(id, maxShortRunes)
	}
	for _, r := range id {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return QueueName(id, maxShortRunes)
		}
	}
	return "<@" + id + ">"
}

// slackDateTime shows t as a date and time in each reader's own time zone
// ("today 14:05", "Mar 4 09:00"), with UTC as the fallback for clients
// that cannot. Unlike a duration, it stays true however late the message
// is read.
func slackDateTime(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("Jan 2 15:04 UTC"))
}

// slackTime shows t in each reader's own time zone, with UTC as the
// fallback for clients that cannot.
func slackTime(t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	return fmt.Sprintf("<!date^%d^{time}|%s UTC>", t.Unix(), t.UTC().Format("15:04"))
}

func mrkdwn(s string) *slack.TextBlockObject {
	// verbatim: Slack must not turn bare names or URLs into links either.
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, true, false)
}

// clip shortens s to at most n runes, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func nonEmpty(ss []string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// limitWords names what a value is held to: "threshold 5m", or, for a rule
// on the queue's own Genesys target, "voice target 80 % in 20s".
func limitWords(m app.Metric, threshold float64, media string, target *app.ServiceLevelTarget) string {
	if target == nil {
		return "threshold " + m.FormatValue(threshold)
	}
	words := "target " + target.String()
	if media != "" {
		words = QueueName(media, maxShortRunes) + " " + words
	}
	return words
}
