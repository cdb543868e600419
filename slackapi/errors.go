package slackapi

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app/dispatch"
)

// permanentFixes maps the Slack error codes that no retry can cure to what
// the operator must change. Slack lists them per method at
// https://api.slack.com/methods/chat.postMessage#errors and alike.
var permanentFixes = map[string]string{
	"channel_not_found":       "check the channel ID in SLACK_CHANNEL_ID or the queue's /sla route (use the ID, e.g. C0123ABCD; a private channel must invite the bot first)",
	"not_in_channel":          "invite the bot: /invite @slabot in that channel, or add the chat:write.public scope",
	"invalid_auth":            "check SLACK_BOT_TOKEN (the Bot User OAuth Token, xoxb-…)",
	"not_authed":              "set SLACK_BOT_TOKEN",
	"account_inactive":        "the bot user or workspace is deactivated: reinstall the Slack app and update SLACK_BOT_TOKEN",
	"token_revoked":           "the token was revoked: reinstall the Slack app and update SLACK_BOT_TOKEN",
	"token_expired":           "the token expired: turn off token rotation for the app, reinstall it and update SLACK_BOT_TOKEN",
	"is_archived":             "the channel is archived: unarchive it or route the queue elsewhere with /sla route",
	"missing_scope":           "add the missing scope to the Slack app (see manifest.yaml) and reinstall it",
	"no_permission":           "the token lacks permission: reinstall the Slack app with the scopes in manifest.yaml",
	"msg_too_long":            "the alert message exceeded Slack's size limit: report this as a slabot bug",
	"invalid_blocks":          "Slack rejected the alert's Block Kit layout: report this as a slabot bug",
	"message_not_found":       "the alert message was deleted; the next breach posts a new one",
	"cant_update_message":     "the alert message was not posted with this SLACK_BOT_TOKEN, so it cannot be updated",
	"edit_window_closed":      "the workspace limits message editing: let a workspace admin allow editing at any time",
	"restricted_action":       "a workspace admin restricts posting in that channel: allow the app there or route the queue elsewhere",
	"team_access_not_granted": "the token has no access to that workspace: add the app to it (Enterprise Grid)",
}

// transientCodes are Slack error codes that a later retry can cure.
var transientCodes = map[string]bool{
	"ratelimited":         true,
	"rate_limited":        true,
	"internal_error":      true,
	"fatal_error":         true,
	"service_unavailable": true,
	"request_timeout":     true,
}

// classify turns a slack-go error from method into a *dispatch.DeliveryError
// saying whether a retry can help and whether the call may have taken
// effect although it failed (Unsure). Its message names the method and the
// cause but never the token or request URL.
func classify(method, token string, err error) *dispatch.DeliveryError {
	de := classifyCause(method, err)
	de.Err = redact(fmt.Errorf("slack %s: %w", method, de.Err), token)
	return de
}

func classifyCause(method string, err error) *dispatch.DeliveryError {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &dispatch.DeliveryError{Err: err, Retry: true, After: rl.RetryAfter}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		switch code := sc.Code; {
		case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
			return &dispatch.DeliveryError{Err: err, Retry: true}
		case code == http.StatusNotFound:
			return &dispatch.DeliveryError{Err: err, Fix: "check SLACK_API_URL (normally https://slack.com/api/)"}
		default:
			return &dispatch.DeliveryError{Err: err, Fix: "check SLACK_API_URL, SLACK_BOT_TOKEN and any proxy between slabot and Slack"}
		}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if transientCodes[se.Err] {
			return &dispatch.DeliveryError{Err: err, Retry: true}
		}
		fix, ok := permanentFixes[se.Err]
		switch {
		case se.Err == "missing_scope" && se.Needed != "":
			fix = "add the " + se.Needed + " scope to the Slack app (see manifest.yaml) and reinstall it"
		case !ok:
			fix = "see https://api.slack.com/methods/" + method + "#errors"
		}
		return &dispatch.DeliveryError{Err: err, Fix: fix}
	}
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		// slack-go's only number parsing outside JSON: a 429's Retry-After
		// that is a date. A refusal, so nothing was posted.
		return &dispatch.DeliveryError{Err: err, Retry: true}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error names the full request URL; keep only what failed.
		return &dispatch.DeliveryError{Err: fmt.Errorf("%s request: %w", strings.ToLower(ue.Op), ue.Err), Retry: true,
			Unsure: !neverSent(ue.Err)}
	}
	// What is left is the transport's: context expiry, connection resets, a
	// garbled body. All are worth another try, and after any of them Slack
	// may have acted on the request.
	return &dispatch.DeliveryError{Err: err, Retry: true, Unsure: true}
}

// neverSent reports whether a transport error happened before the request
// could reach Slack: no connection was made (refused, DNS), so the call
// certainly did not take effect. Any other failure (a timeout, a reset)
// may have come after Slack read the request.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// redact guards against a token echoed back in any error text: it keeps
// the error chain when the token is absent and flattens it otherwise.
func redact(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "[redacted]"))
}
