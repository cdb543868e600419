// Package slackapi is slabot's adapter for the Slack Web API: it renders
// alerts as Block Kit messages and delivers the dispatcher's notifications
// (post, update, thread reply), classifying every failure as retryable or
// permanent. Console is its stand-in for local mode, printing instead of
// posting.
package slackapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
)

// DefaultAPIURL is Slack's Web API base URL.
const DefaultAPIURL = "https://slack.com/api/"

// Options configures a Client. The zero value talks to Slack itself with
// no Genesys link, no reminder mention and no logging.
type Options struct {
	// APIURL is the Web API base (SLACK_API_URL), default DefaultAPIURL.
	APIURL string
	// AppsURL is the Genesys Cloud web app's base URL, e.g.
	// https://apps.mypurecloud.com; the "Open in Genesys Cloud" link is
	// left out when it is empty.
	AppsURL string
	// Mention is put in reminders (SLACK_MENTION), e.g. <!here>.
	Mention string
	// HTTPClient sends the requests; default one with a 30 s timeout.
	HTTPClient *http.Client
	// Charts draws the PNGs of chart notifications; without it they are
	// skipped.
	Charts ChartDrawer
	Logger *slog.Logger
}

// Client delivers alert notifications through the Slack Web API. It is
// safe for concurrent use.
type Client struct {
	api   *slack.Client
	token secret
	opts  Options
	log   *slog.Logger
	// noFiles is set once Slack refused an upload for want of files:write.
	noFiles atomic.Bool
}

var (
	_ dispatch.Notifier = (*Client)(nil)
	_ dispatch.Finder   = (*Client)(nil)
)

// New returns a client using the bot token (SLACK_BOT_TOKEN).
func New(token string, opts Options) *Client {
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(opts.APIURL, "/") {
		// slack-go appends method names to the base URL as is.
		opts.APIURL += "/"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	api := slack.New(token, slack.OptionAPIURL(opts.APIURL), slack.OptionHTTPClient(opts.HTTPClient))
	return &Client{api: api, token: secret(token), opts: opts, log: opts.Logger}
}

// Notify performs one notification: it posts a new alert message, updates
// the message ts in place, replies in its thread, or shares a chart there
// (drawn by Options.Charts). Posts and replies
// return the new message's ts, updates return ts. Every failure is a
// *dispatch.DeliveryError.
func (c *Client) Notify(ctx context.Context, n app.Notification, ts string) (string, error) {
	if n.Channel == "" {
		return "", &dispatch.DeliveryError{Err: errors.New("slack: notification has no channel"),
			Fix: "set SLACK_CHANNEL_ID or route the queue with /sla route"}
	}
	if err := checkNotification(n, ts, "slack"); err != nil {
		return "", err
	}
	if n.Kind == app.KindChart {
		return c.shareChart(ctx, n, ts)
	}
	now := renderTime(n)
	// Every new message carries metadata naming its notification, so that
	// Find can tell whether a post whose answer was lost took effect.
	meta := slack.MsgOptionMetadata(notificationMetadata(n))
	var (
		method string
		newTS  string
		err    error
	)
	switch n.Kind {
	case app.KindPost:
		method = "chat.postMessage"
		text, blocks := AlertMessage(n.Alert, now, c.opts.AppsURL)
		_, newTS, err = c.api.PostMessageContext(ctx, n.Channel,
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...), meta)
	case app.KindUpdate:
		method = "chat.update"
		text, blocks := notificationMessage(n, now, c.opts.AppsURL)
		_, _, _, err = c.api.UpdateMessageContext(ctx, n.Channel, ts,
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		newTS = ts
	case app.KindReply:
		method = "chat.postMessage"
		text := replyText(n.Alert, n.Reason, now, c.opts.Mention)
		_, newTS, err = c.api.PostMessageContext(ctx, n.Channel,
			slack.MsgOptionText(text, false), slack.MsgOptionTS(ts), meta)
	case app.KindAnnounce:
		method = "chat.postMessage"
		_, newTS, err = c.api.PostMessageContext(ctx, n.Channel, slack.MsgOptionText(n.Text, false), meta)
	case app.KindDigestPost:
		method = "chat.postMessage"
		text, blocks := DigestMessage(*n.Digest, now)
		_, newTS, err = c.api.PostMessageContext(ctx, n.Channel,
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...), meta)
	case app.KindDigestUpdate:
		method = "chat.update"
		text, blocks := DigestMessage(*n.Digest, now)
		_, _, _, err = c.api.UpdateMessageContext(ctx, n.Channel, ts,
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		newTS = ts
	case app.KindDigestReply:
		method = "chat.postMessage"
		_, newTS, err = c.api.PostMessageContext(ctx, n.Channel,
			slack.MsgOptionText(digestReplyText(*n.Digest, n.Reason, now, c.opts.Mention), false), slack.MsgOptionTS(ts), meta)
	default:
		return "", &dispatch.DeliveryError{Err: errors.New("slack: unknown notification kind " + string(n.Kind))}
	}
	if err != nil {
		return "", classify(method, string(c.token), err)
	}
	if newTS == "" {
		// Slack always names the message it accepted; a reply without one
		// came from something else (a proxy's error page, say).
		return "", &dispatch.DeliveryError{Err: errors.New("slack " + method + ": response has no message ts"), Retry: true,
			Unsure: method == "chat.postMessage"}
	}
	c.log.Debug("slack message sent", "method", method, "kind", n.Kind, "channel_id", n.Channel,
		"alert_id", n.Alert.ID, "episode", n.Alert.Episode, "ts", newTS)
	return newTS, nil
}

// checkNotification rejects notifications no Slack call can deliver:
// updates and replies without their message, digest kinds without their
// digest. Retrying them cannot help.
func checkNotification(n app.Notification, ts, who string) error {
	opens := n.Kind == app.KindPost || n.Kind == app.KindDigestPost || n.Standalone()
	digest := n.Kind == app.KindDigestPost || n.Kind == app.KindDigestUpdate || n.Kind == app.KindDigestReply
	switch {
	case !opens && ts == "":
		return &dispatch.DeliveryError{Err: errors.New(who + ": " + string(n.Kind) + " without a message ts")}
	case digest && n.Digest == nil:
		return &dispatch.DeliveryError{Err: errors.New(who + ": " + string(n.Kind) + " without its digest")}
	}
	return nil
}

// renderTime is the moment a notification's message describes: when it was
// enqueued, so a retried delivery renders the same text.
func renderTime(n app.Notification) time.Time {
	if n.At.IsZero() {
		return time.Now()
	}
	return n.At
}

// AuthTest checks the token (auth.test) and returns the workspace and bot
// user names, for the setup command. Failures are *dispatch.DeliveryError with
// a Fix when the token is at fault.
func (c *Client) AuthTest(ctx context.Context) (team, user string, err error) {
	resp, err := c.api.AuthTestContext(ctx)
	if err != nil {
		return "", "", classify("auth.test", string(c.token), err)
	}
	return resp.Team, resp.User, nil
}

// ErrNotInChannel says the bot is not a member of the channel it was
// asked about: posts in a public channel still work (chat:write.public),
// but reading slabot's own messages back and sharing charts do not.
var ErrNotInChannel = errors.New("the bot is not a member of the channel")

// CheckChannel checks that the bot can read the channel, as Find must
// when a post's answer is lost: one conversations.history message
// (limit=1), under the channels:history and groups:history scopes the
// manifest asks for anyway, rather than conversations.info, whose
// channels:read and groups:read it does not. A public channel the bot is
// not in answers ErrNotInChannel (wrapped in a permanent
// *dispatch.DeliveryError); a wrong ID, or a private channel it is not
// in, Slack's channel_not_found.
func (c *Client) CheckChannel(ctx context.Context, channelID string) error {
	if channelID == "" {
		return &dispatch.DeliveryError{Err: errors.New("slack conversations.history: empty channel ID"),
			Fix: "set SLACK_CHANNEL_ID to a channel ID such as C0123ABCD"}
	}
	_, err := c.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: channelID, Limit: 1})
	if err == nil {
		return nil
	}
	de := classify("conversations.history", string(c.token), err)
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "not_in_channel" {
		de.Err = fmt.Errorf("%w: %w", ErrNotInChannel, de.Err)
	}
	return de
}

// secret holds the token so that logging a Client by accident prints no
// credential.
type secret string

// LogValue redacts the secret in structured logs.
func (secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String redacts the secret in formatted output.
func (secret) String() string { return "[redacted]" }
