package genesys

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
)

// failed counts a failed cycle and, on the staleAfter-th in a row, posts the
// one stale-data warning, so that silence in Slack never passes for "all
// queues fine" while polling is broken. The warning names the queues whose
// data is staleAfter intervals old (or never came), since a failing chunk
// or a rate limit can leave some queues blind while others are current.
func (p *Poller) failed(ctx context.Context, err error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return // shutting down, not failing
	}
	now := p.opts.Clock.Now()
	p.failures++
	if p.failures == 1 {
		p.failingSince = now
	}
	summary := strings.ReplaceAll(p.c.redact(err.Error()), "\n", "; ")
	p.log.Warn("genesys poll failed", "err", summary, "consecutive_failures", p.failures)
	if p.failures < staleAfter || p.warned {
		return
	}
	stale := p.staleQueues(now)
	var text string
	switch {
	case len(stale) == 0:
		text = ":warning: *Genesys Cloud data is stale.* Polling has failed " + strconv.Itoa(p.failures) +
			" times in a row since " + p.failingSince.UTC().Format("15:04:05 MST") +
			", so slabot cannot see queue breaches until it recovers. Last error: " + escape(summary)
	default:
		which := "for all " + strconv.Itoa(len(stale)) + " watched queues"
		if len(stale) < len(p.watch) || len(stale) == 1 {
			which = "for " + nameList(stale)
		}
		text = ":warning: *Genesys Cloud data is stale* " + which + ": nothing new for " +
			app.FormatDuration(staleAfter*p.interval()) + " or more. Polling has failed " + strconv.Itoa(p.failures) +
			" times in a row since " + p.failingSince.UTC().Format("15:04:05 MST") +
			", so slabot cannot see their breaches until it recovers. Last error: " + escape(summary)
	}
	if p.announce(ctx, text) {
		p.warned = true
	}
}

// staleQueues lists the watched queues whose last observations are at
// least staleAfter intervals old, or that have had none since this
// replica took the lease.
func (p *Poller) staleQueues(now time.Time) []app.QueueInfo {
	limit := staleAfter * p.interval()
	var stale []app.QueueInfo
	for _, q := range p.watch {
		if at, ok := p.lastData[q.ID]; !ok || now.Sub(at) >= limit {
			stale = append(stale, q)
		}
	}
	return stale
}

// maxNamed bounds the queue names one warning lists.
const maxNamed = 10

// nameList renders queue names for Slack: "Support, Billing and 3 more".
func nameList(queues []app.QueueInfo) string {
	names := make([]string, 0, min(len(queues), maxNamed))
	for _, q := range queues[:min(len(queues), maxNamed)] {
		names = append(names, "*"+escape(cmp.Or(q.Name, q.ID))+"*")
	}
	s := strings.Join(names, ", ")
	if more := len(queues) - len(names); more > 0 {
		s += " and " + strconv.Itoa(more) + " more"
	}
	return s
}

// recovered resets the failure count after a good cycle and posts the
// all-clear if a warning was posted. A failed post is tried again after the
// next good cycle.
func (p *Poller) recovered(ctx context.Context) {
	stale := p.opts.Clock.Now().Sub(p.failingSince)
	p.failures = 0
	if !p.warned {
		return
	}
	text := ":white_check_mark: *Genesys Cloud polling has recovered* after " + app.FormatDuration(stale) +
		"; queue data is current again."
	if p.announce(ctx, text) {
		p.warned = false
	}
}

func (p *Poller) announce(ctx context.Context, text string) bool {
	if p.deps.Announcer == nil {
		p.log.Warn("genesys staleness notice (no announcer configured)", "text", text)
		return true
	}
	// Post even when the cycle's own context has run out: the warning
	// matters most when calls are timing out.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), announceTimeout)
	defer cancel()
	if err := p.deps.Announcer.Announce(actx, text); err != nil {
		p.log.Warn("genesys staleness announcement failed; will retry", "err", err)
		return false
	}
	return true
}

// redact removes the client secret and current token from s. Errors never
// carry them by construction; this guards text shown in Slack and logs
// against a remote echoing one back.
func (c *Client) redact(s string) string {
	c.authMu.Lock()
	tok := string(c.token)
	c.authMu.Unlock()
	for _, v := range []string{string(c.secret), tok} {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// escape makes remote-supplied text safe in Slack mrkdwn.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
