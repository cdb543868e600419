package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/slabot/slabot/app"
)

// Finder is implemented by notifiers that can look for a message they may
// have sent without learning its ts (a post whose answer was lost). Before
// sending again a post or reply that may already have taken effect, the
// dispatcher asks a notifier that is a Finder, and records what it finds
// instead of posting a duplicate. Notifiers that are not Finders are
// simply asked to send again.
type Finder interface {
	// Find returns the ts of the message that delivering n (a post, an
	// announcement, or a reply in the thread of the message ts) created,
	// or "" when there is none. Failures should be *DeliveryError.
	Find(ctx context.Context, n app.Notification, ts string) (string, error)
}

// maxLookups bounds the failed looks for an unsure delivery's message
// that may fail for a passing reason (a timeout, a rate limit) before the
// dispatcher gives up and posts again.
const maxLookups = 3

// find looks for the message an unsure post or reply may have created,
// and returns its ts, or "" to post. With wait it has scheduled a retry
// instead: the look failed for a passing reason. A look that cannot
// succeed (a missing scope, a notifier that cannot look) posts again: a
// duplicate is better than a lost alert.
func (d *Dispatcher) find(ctx context.Context, h *heldDelivery, ts string, log *slog.Logger) (found string, wait bool) {
	f, ok := d.notifier.(Finder)
	if !ok {
		return "", false
	}
	found, err := f.Find(ctx, h.Notification, ts)
	if err == nil {
		return found, false
	}
	h.lookups++
	var de *DeliveryError
	if errors.As(err, &de) && de.Retry && h.lookups < maxLookups {
		delay := min(time.Second<<min(h.lookups-1, 10), d.opts.MaxBackoff)
		if de.After > 0 {
			delay = de.After
		}
		h.due = d.clock.Now().Add(delay)
		log.Warn("could not look for a message slack may have posted; will look again", "err", err,
			"attempt", h.lookups, "retry_in", delay.String())
		return "", true
	}
	fix := ""
	if de != nil {
		fix = de.Fix
	}
	if !d.findWarned {
		d.findWarned = true
		log.Warn("could not look for a message slack may have posted; posting again, which may duplicate it (logged once)",
			"err", err, "fix", fix)
	} else {
		log.Debug("could not look for a message slack may have posted; posting again", "err", err)
	}
	return "", false
}
