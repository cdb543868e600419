package slackapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
)

// ConsoleOptions configures a Console; the zero value is usable.
type ConsoleOptions struct {
	// Mention is put in reminders, as SLACK_MENTION would be.
	Mention string
	// AppsURL is the Genesys Cloud web app's base URL for the queue link.
	AppsURL string
	// Logger receives each message's Block Kit JSON at debug level, ready
	// to paste into Slack's Block Kit Builder.
	Logger *slog.Logger
	// Charts draws the PNGs of chart notifications, which the Console
	// writes to ChartDir (a new temporary folder when empty) and prints
	// the path of; without it they are skipped.
	Charts   ChartDrawer
	ChartDir string
}

// Console is the Notifier of local mode (no SLACK_BOT_TOKEN): it prints
// each message as a person would read it in Slack, so a newcomer sees the
// alert a curl of a sample event causes. It is safe for concurrent use.
type Console struct {
	opts ConsoleOptions
	log  *slog.Logger

	mu  sync.Mutex // serialises writes and the ts counter
	w   io.Writer
	seq int
	// chartDir is where charts are written once the first is; charts
	// counts them, to name the files.
	chartDir string
	charts   int
}

var _ dispatch.Notifier = (*Console)(nil)

// NewConsole returns a Console printing to w.
func NewConsole(w io.Writer, opts ConsoleOptions) *Console {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Console{w: w, opts: opts, log: opts.Logger}
}

// Notify prints the notification and returns a made-up ts, unique within
// this Console, so that later updates and replies can refer to it. It
// fails only when the writer does, and then for good: retrying a broken
// stdout cannot help.
func (c *Console) Notify(ctx context.Context, n app.Notification, ts string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &dispatch.DeliveryError{Err: fmt.Errorf("console: %w", err), Retry: true}
	}
	if err := checkNotification(n, ts, "console"); err != nil {
		return "", err
	}
	if n.Kind == app.KindChart {
		return c.writeChart(ctx, n, ts)
	}
	now := renderTime(n)
	var (
		text   string
		blocks []slack.Block
	)
	switch n.Kind {
	case app.KindPost, app.KindUpdate:
		text, blocks = notificationMessage(n, now, c.opts.AppsURL)
	case app.KindReply:
		text = replyText(n.Alert, n.Reason, now, c.opts.Mention)
	case app.KindAnnounce:
		text = n.Text
	case app.KindDigestPost, app.KindDigestUpdate:
		text, blocks = DigestMessage(*n.Digest, now)
	case app.KindDigestReply:
		text = digestReplyText(*n.Digest, n.Reason, now, c.opts.Mention)
	default:
		return "", &dispatch.DeliveryError{Err: errors.New("console: unknown notification kind " + string(n.Kind))}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	newTS := ts
	if n.Kind != app.KindUpdate && n.Kind != app.KindDigestUpdate {
		c.seq++
		newTS = fmt.Sprintf("console.%04d", c.seq)
	}
	channel := n.Channel
	if channel == "" {
		channel = "(no channel: set SLACK_CHANNEL_ID)"
	}
	var b strings.Builder
	switch n.Kind {
	case app.KindPost, app.KindDigestPost:
		fmt.Fprintf(&b, "── Slack: new message in %s (ts %s)\n", channel, newTS)
	case app.KindUpdate, app.KindDigestUpdate:
		fmt.Fprintf(&b, "── Slack: message %s in %s updated\n", ts, channel)
	case app.KindReply, app.KindDigestReply:
		fmt.Fprintf(&b, "── Slack: thread reply to %s in %s (ts %s)\n", ts, channel, newTS)
	case app.KindAnnounce:
		fmt.Fprintf(&b, "── Slack: announcement in %s (ts %s)\n", channel, newTS)
	}
	if len(blocks) == 0 {
		writeIndented(&b, text)
	}
	for _, l := range blockLines(blocks) {
		writeIndented(&b, l)
	}
	if _, err := io.WriteString(c.w, b.String()); err != nil {
		return "", &dispatch.DeliveryError{Err: fmt.Errorf("console: %w", err)}
	}
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.DebugContext(ctx, "slack message", "kind", n.Kind, "channel_id", n.Channel, "ts", newTS,
			"text", text, "blocks", blocksJSON(blocks))
	}
	return newTS, nil
}

func writeIndented(b *strings.Builder, s string) {
	for _, l := range strings.Split(unescape(s), "\n") {
		b.WriteString("   ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// blockLines flattens the blocks AlertMessage builds into readable lines:
// texts and fields as written, links and controls listed.
func blockLines(blocks []slack.Block) []string {
	var lines, buttons, menus []string
	for _, bl := range blocks {
		switch bl := bl.(type) {
		case *slack.SectionBlock:
			if bl.Text != nil {
				lines = append(lines, bl.Text.Text)
			}
			var fields []string
			for _, f := range bl.Fields {
				fields = append(fields, strings.ReplaceAll(f.Text, "\n", ": "))
			}
			if len(fields) > 0 {
				lines = append(lines, strings.Join(fields, " · "))
			}
			if bl.Accessory != nil && bl.Accessory.SelectElement != nil {
				menus = append(menus, elementLabel(bl.Accessory.SelectElement))
			}
		case *slack.ContextBlock:
			for _, e := range bl.ContextElements.Elements {
				if t, ok := e.(*slack.TextBlockObject); ok {
					lines = append(lines, t.Text)
				}
			}
		case *slack.ActionBlock:
			for _, e := range bl.Elements.ElementSet {
				buttons = append(buttons, elementLabel(e))
			}
		}
	}
	if controls := append(buttons, menus...); len(controls) > 0 {
		lines = append(lines, "buttons: "+strings.Join(controls, " "))
	}
	return lines
}

func elementLabel(e slack.BlockElement) string {
	switch e := e.(type) {
	case *slack.ButtonBlockElement:
		return "[" + e.Text.Text + "]"
	case *slack.SelectBlockElement:
		opts := make([]string, len(e.Options))
		for i, o := range e.Options {
			opts[i] = o.Text.Text
		}
		return "[" + strings.TrimSuffix(e.Placeholder.Text, "…") + ": " + strings.Join(opts, " | ") + "]"
	}
	return "[" + string(e.ElementType()) + "]"
}

// slackDate matches Slack's date token, shown by its fallback text.
var slackDate = regexp.MustCompile(`<!date\^\d+\^[^|>]*\|([^>]+)>`)

// mrkdwnLink matches a link as genesysLink writes it.
var mrkdwnLink = regexp.MustCompile(`<(https?://[^|>]+)\|([^>]+)>`)

// Unescape turns mrkdwn into terminal text: links read "label: URL" and
// entities become the characters they stand for. Mention markup stays
// visible as written.
func Unescape(s string) string { return unescape(s) }

func unescape(s string) string {
	s = slackDate.ReplaceAllString(s, "$1")
	s = mrkdwnLink.ReplaceAllString(s, "$2: $1")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

func blocksJSON(blocks []slack.Block) json.RawMessage {
	if len(blocks) == 0 {
		return json.RawMessage("[]")
	}
	b, err := json.Marshal(blocks)
	if err != nil {
		return json.RawMessage(`"unrenderable blocks"`)
	}
	return b
}
