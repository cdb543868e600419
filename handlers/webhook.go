package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/slabot/slabot/app"
)

// webhookDeadline keeps answers inside EventBridge's 5 s timeout.
const webhookDeadline = 4 * time.Second

// webhook handles POST /webhook/genesys (DESIGN §2.1).
func webhook(ing Ingester, auth WebhookAuth, obs Observer, log *slog.Logger) gin.HandlerFunc {
	type response struct {
		Status    app.Outcome `json:"status"`
		Events    int         `json:"events,omitempty"`
		Processed int         `json:"processed,omitempty"`
		Duplicate int         `json:"duplicate,omitempty"`
		Ignored   int         `json:"ignored,omitempty"`
	}
	return func(c *gin.Context) {
		start := time.Now()
		status := http.StatusOK
		defer func() { obs.WebhookRequest(status, time.Since(start)) }()
		fail := func(code int, msg string) {
			status = code
			c.AbortWithStatusJSON(code, errorBody(msg))
		}

		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				fail(http.StatusRequestEntityTooLarge, "body larger than 1 MiB")
				return
			}
			fail(http.StatusBadRequest, "cannot read body")
			return
		}
		if msg, ok := authenticate(c.Request, body, auth); !ok {
			fail(http.StatusUnauthorized, msg)
			return
		}
		events, err := decodeWebhook(body)
		if err != nil {
			obs.WebhookEvent("invalid", "rejected")
			fail(http.StatusBadRequest, err.Error())
			return
		}

		ctx, cancel := context.WithTimeout(c.Request.Context(), webhookDeadline)
		defer cancel()
		outcomes, err := ingestAll(ctx, ing, events)
		if err != nil {
			log.Warn("webhook not recorded; sender will retry", "err", err)
			code := statusOf(err)
			msg := "internal error"
			if code == http.StatusServiceUnavailable {
				msg = "state store unavailable; retry later"
			}
			fail(code, msg)
			return
		}
		var r response
		for i, o := range outcomes {
			obs.WebhookEvent(events[i].Format, string(o))
			switch o {
			case app.Processed:
				r.Processed++
			case app.Duplicate:
				r.Duplicate++
			default:
				r.Ignored++
			}
		}
		switch {
		case r.Processed > 0:
			r.Status = app.Processed
		case r.Duplicate > 0:
			r.Status = app.Duplicate
		default:
			r.Status = app.Ignored
		}
		if len(events) == 1 || body[firstNonSpace(body)] != '[' {
			c.Data(http.StatusOK, jsonContentType, statusBodies[r.Status])
			return
		}
		r.Events = len(events)
		c.JSON(http.StatusOK, r)
	}
}

// statusBodies are the answers to a single event, rendered once: the
// webhook's hot path.
var statusBodies = map[app.Outcome][]byte{
	app.Processed: []byte(`{"status":"processed"}`),
	app.Duplicate: []byte(`{"status":"duplicate"}`),
	app.Ignored:   []byte(`{"status":"ignored"}`),
}

const jsonContentType = "application/json; charset=utf-8"

func firstNonSpace(b []byte) int {
	for i, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
	}
	return 0
}

// ingestAll evaluates events: one alone, several through IngestMany
// (pipelined, each queue's in order). It returns the first error; events
// already recorded stay recorded and answer "duplicate" when the sender
// retries.
func ingestAll(ctx context.Context, ing Ingester, events []webhookEvent) ([]app.Outcome, error) {
	outcomes := make([]app.Outcome, len(events))
	evs := make([]app.Event, 0, len(events))
	at := make([]int, 0, len(events))
	for i, ev := range events {
		if ev.Ignored {
			outcomes[i] = app.Ignored
			continue
		}
		evs, at = append(evs, ev.Event), append(at, i)
	}
	switch len(evs) {
	case 0:
		return outcomes, nil
	case 1:
		o, err := ing.Ingest(ctx, evs[0])
		if err != nil {
			return nil, err
		}
		outcomes[at[0]] = o
		return outcomes, nil
	}
	got, err := ing.IngestMany(ctx, evs)
	if err != nil {
		return nil, err
	}
	for n, i := range at {
		outcomes[i] = got[n]
	}
	return outcomes, nil
}

// authenticate checks the configured webhook credentials in constant time.
// The message says what failed without echoing what was sent.
func authenticate(r *http.Request, body []byte, auth WebhookAuth) (string, bool) {
	if auth.Secret == "" && auth.Token == "" {
		if auth.AllowUnsigned {
			return "", true
		}
		return "webhook closed: set GENESYS_WEBHOOK_TOKEN or GENESYS_WEBHOOK_SECRET to open it", false
	}
	if auth.Secret != "" {
		if sig, ok := strings.CutPrefix(r.Header.Get("X-Genesys-Cloud-Signature"), "sha256="); ok {
			got, err := hex.DecodeString(sig)
			mac := hmac.New(sha256.New, []byte(auth.Secret))
			mac.Write(body)
			if err == nil && hmac.Equal(got, mac.Sum(nil)) {
				return "", true
			}
		}
	}
	if auth.Token != "" {
		for _, cand := range presentedTokens(r) {
			if subtle.ConstantTimeCompare([]byte(cand), []byte(auth.Token)) == 1 {
				return "", true
			}
		}
	}
	return "authentication failed: send X-Genesys-Cloud-Signature, Authorization or X-Slabot-Token", false
}

func presentedTokens(r *http.Request) []string {
	var out []string
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		out = append(out, strings.TrimSpace(t))
	}
	if t := r.Header.Get("X-Slabot-Token"); t != "" {
		out = append(out, t)
	}
	if _, pass, ok := r.BasicAuth(); ok {
		out = append(out, pass)
	}
	return out
}
