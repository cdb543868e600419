package slackapi

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
)

// Identifiers of the storm digest's controls, handled by the interaction
// endpoint. Like the alert message's, they must not change while old
// digests exist.
const (
	// ActionDigestAck is the action_id of the digest's Acknowledge all
	// button; its value is the digest ID.
	ActionDigestAck = "digest_ack"
	// ActionDigestSnooze is the action_id of the digest's Snooze all menu.
	// A select has no value, so the block_id of the actions block holding
	// it names the digest (its BlockBase is the digest ID); the chosen
	// option is one of SnoozeChoices.
	ActionDigestSnooze = "digest_snooze"
)

// Bounds of the digest message: it lists at most maxDigestLines members
// (the open ones first), in sections of at most maxSectionText characters,
// far inside Slack's 50 blocks per message.
const (
	maxDigestLines     = 30
	maxDigestNameRunes = 60
)

// DigestMessage renders a storm digest: how many alerts fired at once and
// where they stand, one line per alert (queue, metric, value against its
// threshold, state), and the Acknowledge all and Snooze all controls while
// any is open. now is the moment the message describes.
func DigestMessage(d app.Digest, now time.Time) (text string, blocks []slack.Block) {
	c := counts(d)
	total := len(d.Members)
	var head string
	if d.Closed() {
		head = fmt.Sprintf(":white_check_mark: *Alert storm over: %s*\nLasted %s, from %s.",
			overWords(c, total), app.FormatDuration(max(d.ClosedAt.Sub(d.OpenedAt), 0)), slackTime(d.OpenedAt))
		text = "Alert storm over: " + overWords(c, total)
	} else {
		queues, alerts := c.queues, c.Open()
		head = fmt.Sprintf(":rotating_light: *Alert storm: %s since %s*\n%s · started %s ago%s",
			breachingWords(queues, alerts), slackTime(d.OpenedAt), countsLine(c), app.FormatDuration(max(now.Sub(d.OpenedAt), 0)), leadWords(d))
		text = fmt.Sprintf("Alert storm: %s since %s UTC (%d firing)",
			breachingWords(queues, alerts), d.OpenedAt.UTC().Format("15:04"), c.Firing)
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(head), nil, nil))
	prefix := digestPrefix(d.Members)
	if prefix != "" {
		blocks = append(blocks, slack.NewContextBlock("", mrkdwn("Every queue below is named *"+QueueName(prefix, maxNameRunes)+"*…")))
	}
	for _, section := range sections(memberLines(d.Members, prefix)) {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(section), nil, nil))
	}
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(
		"Alerts that fire in a burst are listed here instead of one message each; this message keeps up as they change. Updated "+slackTime(now)+".")))
	if c.Open() > 0 {
		blocks = append(blocks, digestActions(d, c.Firing > 0, now))
	}
	return text, blocks
}

// digestCounts are a digest's counts with the number of distinct queues
// its open members belong to (a queue may breach on several metrics).
// leadWords says how many of the storm's alerts were posted on their own
// before it was a storm: they are the storm's too (Acknowledge all and
// Snooze all cover them, the digest reminds for them), listed here as
// well once linked (DigestMember.Posted), counted before (Digest.Leads).
func leadWords(d app.Digest) string {
	n := len(d.Leads)
	for _, m := range d.Members {
		if m.Posted {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; its first %d %s posted on %s own above and %s part of this storm",
		n, plural(n, "alert was", "alerts were"), plural(n, "its", "their"), plural(n, "is", "are"))
}

type digestCounts struct {
	app.DigestCounts
	queues int
}

func counts(d app.Digest) digestCounts {
	seen := make(map[string]bool)
	for _, m := range d.Members {
		if m.Open() {
			seen[m.QueueID] = true
		}
	}
	return digestCounts{DigestCounts: d.Counts(), queues: len(seen)}
}

// breachingWords says how many queues breach: "30 queues breaching", or
// "3 queues breaching (4 alerts)" when some breach on several metrics.
func breachingWords(queues, alerts int) string {
	s := fmt.Sprintf("%d %s breaching", queues, plural(queues, "queue", "queues"))
	if alerts != queues {
		s += fmt.Sprintf(" (%d alerts)", alerts)
	}
	return s
}

func countsLine(c digestCounts) string {
	parts := []string{fmt.Sprintf("%d firing", c.Firing)}
	for _, x := range []struct {
		n    int
		word string
	}{{c.Acknowledged, "acknowledged"}, {c.Snoozed, "snoozed"}, {c.Resolved, "resolved"}, {c.Moved, "posted again after a snooze"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.word))
		}
	}
	return strings.Join(parts, " · ")
}

// overWords says how a storm ended: "all 50 alerts resolved", or "40
// alerts resolved, 10 posted again after their snooze".
func overWords(c digestCounts, total int) string {
	if c.Moved == 0 {
		return fmt.Sprintf("all %d alerts resolved", total)
	}
	return fmt.Sprintf("%d %s resolved, %d posted again on their own after their snooze",
		c.Resolved, plural(c.Resolved, "alert", "alerts"), c.Moved)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// digestPrefix is the start of the name that every member shares, when
// it is long enough that cutting it off is what makes the names fit: the
// lines then show the rest of each name.
func digestPrefix(members []app.DigestMember) string {
	names := make([]string, len(members))
	long := false
	for i, m := range members {
		names[i] = m.DisplayName()
		long = long || utf8.RuneCountInString(names[i]) > maxDigestNameRunes
	}
	p := sharedPrefix(names)
	if !long || utf8.RuneCountInString(p) < 12 {
		return ""
	}
	return p
}

// memberLines lists members open first (firing, acknowledged, snoozed),
// then the rest, each group in the order they joined. prefix, shared by
// every name, is left out of each.
func memberLines(members []app.DigestMember, prefix string) []string {
	rank := func(m app.DigestMember) int {
		switch {
		case !m.Open():
			return 3
		case m.Muted:
			return 2
		case m.State == app.StateAcknowledged:
			return 1
		}
		return 0
	}
	sorted := slices.Clone(members)
	slices.SortStableFunc(sorted, func(a, b app.DigestMember) int { return cmp.Compare(rank(a), rank(b)) })
	var lines []string
	for i, m := range sorted {
		if i == maxDigestLines {
			lines = append(lines, fmt.Sprintf("…and %d more: `/sla status` lists every open alert.", len(sorted)-i))
			break
		}
		lines = append(lines, memberLine(m, prefix))
	}
	return lines
}

func memberLine(m app.DigestMember, prefix string) string {
	name := QueueName(m.DisplayName(), maxDigestNameRunes)
	if rest, ok := strings.CutPrefix(m.DisplayName(), prefix); ok && prefix != "" {
		name = "…" + QueueName(rest, maxDigestNameRunes)
	}
	if m.MediaType != "" {
		name += " (" + QueueName(m.MediaType, maxShortRunes) + ")"
	}
	what := fmt.Sprintf("%s *%s* (%s)", m.Metric.Label(), m.Metric.FormatValue(m.Value), limitWords(m.Metric, m.Threshold, m.MediaType, m.Target))
	if m.Posted {
		what += " · own message above"
	}
	switch {
	case m.Moved:
		return fmt.Sprintf("• :arrow_heading_down: %s — %s: posted again on its own after its snooze", name, m.Metric.Label())
	case !m.Open():
		return fmt.Sprintf("• :white_check_mark: ~%s — %s~ resolved", name, m.Metric.Label())
	case m.Muted:
		return "• :zzz: *" + name + "* — " + what + " · snoozed"
	case m.State == app.StateAcknowledged:
		return "• :eyes: *" + name + "* — " + what + " · acknowledged by " + userMention(m.AckedBy)
	}
	return "• :rotating_light: *" + name + "* — " + what
}

// sections joins lines into texts of at most maxSectionText characters.
func sections(lines []string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range lines {
		if cur.Len() > 0 && cur.Len()+1+len(l) > maxSectionText {
			out = append(out, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func digestActions(d app.Digest, anyFiring bool, now time.Time) *slack.ActionBlock {
	var elems []slack.BlockElement
	if anyFiring {
		confirm := slack.NewConfirmationBlockObject(plain("Acknowledge every alert?"),
			mrkdwn("Every alert of this storm that is still firing will be acknowledged in your name, and its reminders stop."),
			plain("Acknowledge all"), plain("Cancel"))
		elems = append(elems, slack.NewButtonBlockElement(ActionDigestAck, d.ID, plain("Acknowledge all")).
			WithStyle(slack.StylePrimary).WithConfirm(confirm))
	}
	opts := make([]*slack.OptionBlockObject, len(snoozeOptions))
	for i, o := range snoozeOptions {
		opts[i] = slack.NewOptionBlockObject(o.value, plain(o.label), nil)
	}
	elems = append(elems, slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Snooze all queues…"), ActionDigestSnooze, opts...))
	return slack.NewActionBlock(freshBlockID(d.ID, now), elems...)
}

// digestReplyText is a thread reply of a digest: its end, or a reminder of
// its unacknowledged alerts, mentioning the operator's SLACK_MENTION.
func digestReplyText(d app.Digest, reason string, now time.Time, mention string) string {
	switch reason {
	case "resolved":
		return fmt.Sprintf(":white_check_mark: Storm over after %s: %s.",
			app.FormatDuration(max(d.ClosedAt.Sub(d.OpenedAt), 0)), overWords(counts(d), len(d.Members)))
	case "reminder":
		var names []string
		n := 0
		for _, m := range d.Members {
			if m.Open() && m.State == app.StateFiring && !m.Muted {
				n++
				if len(names) < 5 {
					names = append(names, "*"+QueueName(m.DisplayName(), maxDigestNameRunes)+"*")
				}
			}
		}
		if n > len(names) {
			names = append(names, fmt.Sprintf("%d more", n-len(names)))
		}
		s := fmt.Sprintf(":alarm_clock: %d alerts of this storm are still firing and not acknowledged after %s: %s.",
			n, app.FormatDuration(max(now.Sub(d.OpenedAt), 0)), strings.Join(names, ", "))
		if mention != "" {
			s = mention + " " + s
		}
		return s
	}
	return fmt.Sprintf(":information_source: Alert storm: %d alerts, %d firing.", len(d.Members), d.Counts().Firing)
}
