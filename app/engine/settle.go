package engine

import (
	"errors"
	"fmt"

	"github.com/slabot/slabot/app"
)

// settle reads the store's answer to an event's change p: it caches the
// queue as committed, logs and counts the transitions, and returns the
// event's outcome. A lost race is not settled (the event is evaluated
// again); an error is returned.
func (e *Engine) settle(p *pending) (out app.Outcome, settled bool, err error) {
	switch {
	case p.err == nil:
		e.cache.committed(p.snap, p.change, p.latest)
		e.logCommitted(p.change, p.diverted)
		return app.Processed, true, nil
	case errors.Is(p.err, app.ErrDuplicate):
		return app.Duplicate, true, nil
	case errors.Is(p.err, app.ErrConflict):
		return "", false, nil
	}
	return "", false, fmt.Errorf("commit queue %s: %w", p.change.QueueID, p.err)
}

// logCommitted logs and counts the transitions of committed change c, and
// of the alerts that fired into a digest (diverted).
func (e *Engine) logCommitted(c app.Change, diverted []app.Alert) {
	e.logTransitions(c)
	for _, a := range diverted {
		e.count("fired")
		e.log.Info("alert firing, in a storm digest", "queue_id", a.QueueID, "alert_id", a.ID, "digest_id", a.Digest,
			"channel_id", a.Channel, "metric", a.Metric, "value", a.Value, "threshold", a.Threshold)
	}
}

func (e *Engine) logTransitions(c app.Change) {
	for _, n := range c.Notifications {
		if n.Kind == app.KindChart {
			continue // the resolution's picture, not a transition
		}
		e.count(transitionKind(n))
		if n.Digest != nil {
			if n.Kind != app.KindDigestUpdate {
				e.log.Info("storm digest "+transitionKind(n), "digest_id", n.Digest.ID, "channel_id", n.Channel,
					"members", len(n.Digest.Members))
			}
			continue
		}
		if n.Kind == app.KindPost || n.Reason == "resolved" {
			e.log.Info("alert "+string(n.Alert.State), "queue_id", n.Alert.QueueID, "alert_id", n.Alert.ID,
				"channel_id", n.Channel, "metric", n.Alert.Metric, "value", n.Alert.Value, "threshold", n.Alert.Threshold)
		}
	}
}

func transitionKind(n app.Notification) string {
	switch {
	case n.Kind == app.KindPost:
		return "fired"
	case n.Kind == app.KindReply && n.Reason == "reminder":
		return "reminded"
	case n.Kind == app.KindReply:
		return "resolved"
	case n.Kind == app.KindDigestPost:
		return "digest_opened"
	case n.Kind == app.KindDigestReply && n.Reason == "reminder":
		return "digest_reminded"
	case n.Kind == app.KindDigestReply:
		return "digest_resolved"
	case n.Kind == app.KindDigestUpdate:
		return "digest_updated"
	}
	return "updated"
}

func (e *Engine) count(kind string) {
	if e.opts.Observer != nil {
		e.opts.Observer.Transition(kind)
	}
}
