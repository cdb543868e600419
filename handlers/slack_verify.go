package handlers

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/slack-go/slack"
)

// SlackAuth says how the Slack routes authenticate (DESIGN §3).
type SlackAuth struct {
	// SigningSecret (SLACK_SIGNING_SECRET) verifies every request's v0
	// signature.
	SigningSecret string
	// TeamID (SLACK_TEAM_ID), when set, refuses requests from any other
	// workspace: commands get an ephemeral refusal, interactions an
	// ephemeral refusal, events are ignored; nothing changes.
	TeamID string
	// AllowUnsigned accepts unsigned requests while SigningSecret is empty
	// (local mode only, so a newcomer can curl the routes).
	AllowUnsigned bool
}

// verifySlack authenticates a Slack request before anything parses it: it
// reads the raw body once (at most limit bytes, else 413; under the
// concurrent-read limit, else 503), checks the v0 signature and the
// 5-minute timestamp window with slack-go's SecretsVerifier, and puts the
// body back for the handler. Failures answer 401 and log why, never the
// signature or the body.
func verifySlack(auth SlackAuth, reads *bodyReads, limit int64, log *slog.Logger) gin.HandlerFunc {
	reject := func(c *gin.Context, reason string) {
		log.Warn("slack request rejected", "route", c.FullPath(), "reason", reason)
		c.AbortWithStatusJSON(http.StatusUnauthorized, errorBody("invalid Slack request signature"))
	}
	return func(c *gin.Context) {
		// The headers and the timestamp window are checked before the
		// body is read: a request that cannot pass costs no read.
		sv, reason := slackVerifier(c.Request.Header, auth)
		if reason != "" {
			reject(c, reason)
			return
		}
		body, err := reads.read(c, limit)
		if err != nil {
			abortRead(c, err, limit)
			return
		}
		if sv != nil {
			if reason := checkSlackBody(sv, body); reason != "" {
				reject(c, reason)
				return
			}
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		c.Request.ContentLength = int64(len(body))
		c.Next()
	}
}

// slackVerifier checks a request's signature headers and timestamp window.
// It returns why they fail, or the verifier to feed the body to (nil when
// unsigned requests are allowed). The reason names the failure class only:
// slack-go's errors may quote parts of the signature.
func slackVerifier(h http.Header, auth SlackAuth) (*slack.SecretsVerifier, string) {
	if auth.SigningSecret == "" {
		if auth.AllowUnsigned {
			return nil, ""
		}
		return nil, "SLACK_SIGNING_SECRET is not set"
	}
	sv, err := slack.NewSecretsVerifier(h, auth.SigningSecret)
	switch {
	case errors.Is(err, slack.ErrMissingHeaders):
		return nil, "missing X-Slack-Signature or X-Slack-Request-Timestamp"
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return nil, "timestamp outside the 5-minute window"
	case err != nil && isNumError(err):
		return nil, "malformed timestamp"
	case err != nil:
		return nil, "malformed signature"
	}
	return &sv, ""
}

// checkSlackBody returns why the body does not match the signature, or "".
func checkSlackBody(sv *slack.SecretsVerifier, body []byte) string {
	if _, err := sv.Write(body); err != nil {
		return "cannot hash body"
	}
	if err := sv.Ensure(); err != nil {
		return "signature mismatch"
	}
	return ""
}

func isNumError(err error) bool {
	var ne *strconv.NumError
	return errors.As(err, &ne)
}

// teamAllowed reports whether a request from team may proceed.
func teamAllowed(auth SlackAuth, team string) bool {
	return auth.TeamID == "" || team == auth.TeamID
}
