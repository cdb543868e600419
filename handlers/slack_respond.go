package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// Budgets. Slack gives a command or click 3 s; the work before answering
// gets slackDeadline of it, and what follows the answer (ephemeral
// replies, App Home) runs in the background for at most backgroundTimeout.
const (
	slackDeadline     = 2500 * time.Millisecond
	backgroundTimeout = 5 * time.Second
	maxBackground     = 32
)

// background runs the work a Slack handler does after answering, so the
// answer is never late. Each task is bounded by backgroundTimeout and at
// most maxBackground run at once; a task that cannot start is dropped and
// logged, never queued: it is a courtesy (an ephemeral note, a refreshed
// App Home), never state, so a flood of clicks cannot pile up goroutines.
type background struct {
	log *slog.Logger
	sem chan struct{}
	wg  sync.WaitGroup
}

func newBackground(log *slog.Logger) *background {
	return &background{log: log, sem: make(chan struct{}, maxBackground)}
}

// Go runs f in a goroutine that exits when f returns; f's context ends
// after backgroundTimeout, whatever happens to the request.
func (b *background) Go(name string, f func(ctx context.Context)) {
	select {
	case b.sem <- struct{}{}:
	default:
		b.log.Warn("slack background work dropped: too much in flight", "task", name)
		return
	}
	b.wg.Add(1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				b.log.Error("slack background work panicked", "task", name, "panic", p)
			}
			<-b.sem
			b.wg.Done()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
		defer cancel()
		f(ctx)
	}()
}

// wait blocks until every started task has finished (tests).
func (b *background) wait() { b.wg.Wait() }

// Slack serves response_url from these hosts (commercial and GovSlack).
// Anything else in a payload is refused, so a payload can never make
// slabot post to an arbitrary address.
var responseHosts = map[string]bool{"hooks.slack.com": true, "hooks.slack-gov.com": true}

// postEphemeral shows text to the user behind responseURL only, without
// touching the message they clicked. The URL is a credential of sorts: it
// is never logged or put in an error.
func postEphemeral(ctx context.Context, client *http.Client, responseURL, text string) error {
	u, err := url.Parse(responseURL)
	if err != nil || u.Scheme != "https" || !responseHosts[strings.ToLower(u.Hostname())] {
		return errors.New("response_url is not a Slack hooks URL")
	}
	body, err := json.Marshal(struct {
		ResponseType    string `json:"response_type"`
		ReplaceOriginal bool   `json:"replace_original"`
		Text            string `json:"text"`
	}{"ephemeral", false, text})
	if err != nil {
		return fmt.Errorf("encode ephemeral reply: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return errors.New("cannot build the response_url request")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the URL
		}
		return fmt.Errorf("post to response_url: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post to response_url: status %d", resp.StatusCode)
	}
	return nil
}

// sentence capitalizes s and ends it with a full stop unless it already
// ends with punctuation ("did you mean 'Support'?").
func sentence(s string) string {
	s = capitalize(s)
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "!") {
		return s
	}
	return s + "."
}

// userMessage is the one place app errors become what a supervisor reads
// in Slack (mrkdwn, escaped). usage is the subcommand's usage line, shown
// with input errors; "" for buttons. inserted are the mentions, channel
// links or dates the caller knows slabot put in err's text itself (an
// acknowledger); any other markup in it stays inert.
func userMessage(err error, usage string, log *slog.Logger, inserted ...string) string {
	withUsage := func(reason string) string {
		if usage == "" {
			return capitalize(safeMrkdwn(reason))
		}
		return "Usage: `" + slackapi.Escape(usage) + "`\n" + capitalize(safeMrkdwn(reason))
	}
	var ue *usageError
	var uq *app.UnknownQueueError
	var nf *queueNotFound
	switch {
	case errors.As(err, &nf):
		return notFoundAnswer(nf)
	case errors.As(err, &uq):
		return unknownQueueAnswer(uq)
	case errors.As(err, &ue):
		return withUsage(ue.reason)
	case errors.Is(err, app.ErrStale):
		return sentence(safeMrkdwn(err.Error(), inserted...))
	case errors.Is(err, app.ErrBadThreshold), errors.Is(err, app.ErrUnknownMetric):
		return withUsage(reasonOf(err))
	case errors.Is(err, app.ErrUnknownQueue):
		return sentence(safeMrkdwn(err.Error()))
	case errors.Is(err, app.ErrNotFound):
		return "That button names no alert slabot knows; use the newest alert message."
	case errors.Is(err, app.ErrUnavailable):
		return "slabot cannot reach its database; try again in a minute."
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, app.ErrConflict):
		return "slabot is busy and could not finish in time; try again in a minute."
	}
	log.Error("slack request failed", "err", err)
	return "Something went wrong in slabot; the error is logged for the operator."
}

// mentionEntity matches the markup slabot itself writes: a user mention,
// a channel link or a date, whole.
var mentionEntity = regexp.MustCompile(`^<(@[UW][A-Z0-9]{1,30}|#[CG][A-Z0-9]{1,30}|!date\^\d{1,12}\^\{[a-z_ ]{1,40}\}\|[0-9A-Za-z: -]{1,40})>$`)

// safeMrkdwn escapes s for mrkdwn, so that all markup in it is inert: text
// that reaches an answer may hold a queue name from a webhook or words a
// user typed, and a <@U…> there must not notify anyone. Only the entities
// in inserted, which the caller knows slabot put in itself (the user who
// acknowledged, the channels of a route), are made live again, and only
// if each is a plain mention, channel link or date.
func safeMrkdwn(s string, inserted ...string) string {
	out := slackapi.Escape(s)
	for _, e := range inserted {
		if mentionEntity.MatchString(e) {
			out = strings.ReplaceAll(out, slackapi.Escape(e), e)
		}
	}
	return out
}

// channelLinks returns the channel links in s ("<#C123>"), for a history
// line whose detail slabot wrote with them.
func channelLinks(s string) []string {
	return channelLinkPattern.FindAllString(s, -1)
}

var channelLinkPattern = regexp.MustCompile(`<#[CG][A-Z0-9]{1,30}>`)

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || !unicode.IsLower(r) {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
