package handlers

// /sla history: recent acks, snoozes, resolves and rule changes.

import (
	"context"
	"fmt"
	"strings"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

func (x *commands) history(ctx context.Context, cmd command) (string, error) {
	known, err := x.known(ctx)
	if err != nil {
		return "", err
	}
	queueID := ""
	if cmd.queue.text != "" {
		ref, err := resolveQueueArg(verbHistory, cmd.queue, known)
		if err != nil {
			return "", err
		}
		if ref.ID != app.AllQueues {
			queueID = ref.ID
		}
	}
	entries, err := x.d.Records.History(ctx, queueID, maxHistory)
	if err != nil {
		return "", fmt.Errorf("history: %w", err)
	}
	title := "*History*"
	if queueID != "" {
		title = "*History of " + strings.Trim(slackapi.QueueLabel(queueID, known), "*") + "*"
	}
	if len(entries) == 0 {
		return title + "\nNothing recorded yet.", nil
	}
	lines := []string{title + " (newest first)"}
	for _, h := range entries {
		lines = append(lines, historyLine(h, known))
	}
	return strings.Join(lines, "\n"), nil
}

// maxHistory is how many entries /sla history shows.
const maxHistory = 20

var historyVerbs = map[string]string{
	"ack": "acknowledged", "resolve": "resolved", "snooze": "snoozed", "unsnooze": "unsnoozed",
	"set": "set a threshold on", "unset": "removed a threshold of", "route": "routed",
	"hours": "set the business hours of",
}

func historyLine(h app.HistoryEntry, known map[string]string) string {
	verb, ok := historyVerbs[h.Action]
	if !ok {
		verb = slackapi.Escape(clipArg(h.Action))
	}
	s := fmt.Sprintf("• %s %s %s %s", slackapi.SlackTime(h.At), slackapi.UserMention(h.By), verb, slackapi.QueueLabel(h.QueueID, known))
	if h.Via != "" {
		s += " (" + slackapi.Escape(clipArg(h.Via)) + ")"
	}
	if h.Detail != "" {
		// Threshold details name the queue by ID; the line names it already.
		detail := strings.ReplaceAll(h.Detail, h.QueueID+" ", "")
		if r := []rune(detail); len(r) > 200 {
			detail = string(r[:199]) + "…"
		}
		var links []string
		if h.Action == "route" { // app.Engine.Route writes "<#C…> → <#C…>"
			links = channelLinks(detail)
		}
		s += ": " + safeMrkdwn(detail, links...)
	}
	return s
}
