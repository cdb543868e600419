package genesys

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/slabot/slabot/app"
)

// failed counts a failed cycle and, on the staleAfter-th in a row, posts the
// one stale-data warning, so that silence in Slack never passes for "all
// queues fine" while polling is broken.
func (p *Poller) failed(ctx context.Context, err error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return // shutting down, not failing
	}
	now := p.opts.Clock.Now()
	p.failures++
	if p.failures == 1 {
		p.failingSince = now
	}
	summary := p.c.redact(err.Error())
	p.log.Warn("genesys poll failed", "err", summary, "consecutive_failures", p.failures)
	if p.failures < staleAfter || p.warned {
		return
	}
	text := ":warning: *Genesys Cloud data is stale.* Polling has failed " + strconv.Itoa(p.failures) +
		" times in a row since " + p.failingSince.UTC().Format("15:04:05 MST") +
		", so slabot cannot see queue breaches until it recovers. Last error: " + escape(summary)
	if p.announce(ctx, text) {
		p.warned = true
	}
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
