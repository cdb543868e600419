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
// reads the raw body once (at most MaxBody, else 413), checks the v0
// signature and the 5-minute timestamp window with slack-go's
// SecretsVerifier, and puts the body back for the handler. Failures answer
// 401 and log why, never the signature or the body.
func verifySlack(auth SlackAuth, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, errorBody("body larger than 1 MiB"))
				return
			}
			c.AbortWithStatusJSON(http.StatusBadRequest, errorBody("cannot read body"))
			return
		}
		if reason := checkSlackSignature(c.Request.Header, body, auth); reason != "" {
			log.Warn("slack request rejected", "route", c.FullPath(), "reason", reason)
			c.AbortWithStatusJSON(http.StatusUnauthorized, errorBody("invalid Slack request signature"))
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		c.Request.ContentLength = int64(len(body))
		c.Next()
	}
}

// checkSlackSignature returns why a request fails verification, or "". The
// reason names the failure class only: slack-go's errors may quote parts
// of the signature.
func checkSlackSignature(h http.Header, body []byte, auth SlackAuth) string {
	if auth.SigningSecret == "" {
		if auth.AllowUnsigned {
			return ""
		}
		return "SLACK_SIGNING_SECRET is not set"
	}
	sv, err := slack.NewSecretsVerifier(h, auth.SigningSecret)
	switch {
	case errors.Is(err, slack.ErrMissingHeaders):
		return "missing X-Slack-Signature or X-Slack-Request-Timestamp"
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return "timestamp outside the 5-minute window"
	case err != nil && isNumError(err):
		return "malformed timestamp"
	case err != nil:
		return "malformed signature"
	}
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
