package handlers

import (
	"context"
	"fmt"
	"strings"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// staleLister lists the last values a rule change could not act on for
// their age; *engine.Engine implements it.
type staleLister interface {
	StaleValues(ctx context.Context, queueID string) ([]app.StaleValue, error)
}

// maxStaleNamed bounds the queues the answer names; the count covers all.
const maxStaleNamed = 10

// waitingForData says, after a change of queueID's rules or hours (which
// act at once on the latest values), which queues it could not act on
// because their last values are too old to trust; "" when none.
func (x *commands) waitingForData(ctx context.Context, queueID string, known map[string]string) string {
	sl, ok := x.d.Actions.(staleLister)
	if !ok {
		return ""
	}
	stale, err := sl.StaleValues(ctx, queueID)
	if err != nil {
		x.d.Logger.Warn("listing stale values failed", "queue_id", queueID, "err", err)
		return ""
	}
	if len(stale) == 0 {
		return ""
	}
	now := x.d.Clock.Now()
	var names []string
	seen := make(map[string]bool)
	queues := 0
	for _, v := range stale {
		if seen[v.QueueID] {
			continue
		}
		seen[v.QueueID] = true
		if queues++; queues > maxStaleNamed {
			continue
		}
		age := "seen at an unknown time"
		if !v.SeenAt.IsZero() {
			age = "seen " + app.FormatDuration(now.Sub(v.SeenAt).Round(1e9)) + " ago"
		}
		names = append(names, fmt.Sprintf("%s (%s %s, %s)", slackapi.QueueLabel(v.QueueID, known), v.Metric.Label(),
			v.Metric.FormatValue(v.Value), age))
	}
	s := "\nWaiting for fresh data: " + strings.Join(names, ", ")
	if more := queues - len(names); more > 0 {
		s += fmt.Sprintf(" and %d more %s", more, plural(more, "queue", "queues"))
	}
	return s + ". Their last values are too old to act on; the change applies with their next values."
}
