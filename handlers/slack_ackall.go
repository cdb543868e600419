package handlers

// /sla ack all: every firing alert in every channel at once.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// allAcker acknowledges every firing alert at once (/sla ack all);
// *engine.Engine implements it.
type allAcker interface {
	AckAll(ctx context.Context, by app.Actor) ([]app.Alert, error)
}

// maxAckedListed bounds the alerts /sla ack all names; the count says how
// many more it acknowledged; maxAnswerNameRunes bounds each name.
const (
	maxAckedListed     = 10
	maxAnswerNameRunes = 80
)

// ackAll acknowledges every firing alert in every channel, as anyone may
// acknowledge one (only muting every queue is for admins), and answers
// how many and which.
func (x *commands) ackAll(ctx context.Context, by app.Actor) (string, error) {
	aa, ok := x.d.Actions.(allAcker)
	if !ok {
		return "This slabot cannot acknowledge every alert at once; nothing was changed.", nil
	}
	acked, err := aa.AckAll(ctx, by)
	if err != nil && len(acked) == 0 {
		return "", err
	}
	if err != nil {
		x.d.Logger.Warn("acknowledging every alert stopped early", "err", err, "acked", len(acked))
	}
	// The storm's first alerts first, as they fired.
	slices.SortStableFunc(acked, func(a, b app.Alert) int {
		return cmp.Or(a.FiredAt.Compare(b.FiredAt), strings.Compare(a.QueueName, b.QueueName))
	})
	channels := make(map[string]bool)
	var parts []string
	for _, a := range acked {
		channels[a.Channel] = true
		if len(parts) < maxAckedListed {
			name := a.QueueName
			if name == "" {
				name = a.QueueID
			}
			parts = append(parts, "*"+slackapi.QueueName(name, maxAnswerNameRunes)+"* ("+a.Metric.Label()+" "+a.Metric.FormatValue(a.Value)+")")
		}
	}
	if n := len(acked) - len(parts); n > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", n))
	}
	s := fmt.Sprintf("Acknowledged %d %s in %d %s: %s. Their reminders stop.",
		len(acked), plural(len(acked), "alert", "alerts"), len(channels), plural(len(channels), "channel", "channels"), strings.Join(parts, ", "))
	if err != nil {
		s += " Some may still be firing: run `/sla ack all` again."
	}
	return s, nil
}
