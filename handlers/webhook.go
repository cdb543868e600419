package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/slabot/slabot/app"
)

// webhookDeadline keeps answers inside EventBridge's 5 s timeout.
const webhookDeadline = 4 * time.Second

// webhook handles POST /webhook/genesys (DESIGN §2.1). A request is
// authenticated from its headers before its body is read whenever a token
// decides it; the body is read under the concurrent-read limit.
func webhook(d Deps, reads *bodyReads, gate *queueGate) gin.HandlerFunc {
	ing, auth, obs, log, clock := d.Ingester, d.Webhook, d.Observer, d.Logger, d.Clock
	unknown := newUnknownMetrics(log, obs)
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

		verdict, msg := auth.checkHeaders(c.Request, clock.Now())
		if verdict == authRefused {
			fail(http.StatusUnauthorized, msg)
			return
		}
		body, err := reads.read(c, MaxBody)
		if err != nil {
			status = abortRead(c, err, MaxBody)
			return
		}
		if verdict == authNeedBody && !auth.checkSignature(c.Request, body) {
			fail(http.StatusUnauthorized, authFailed)
			return
		}
		events, err := decodeWebhook(body)
		if err == nil {
			err = checkStamps(events, clock.Now())
		}
		if err != nil {
			obs.WebhookEvent("invalid", "rejected")
			fail(http.StatusBadRequest, err.Error())
			return
		}

		ctx, cancel := context.WithTimeout(c.Request.Context(), webhookDeadline)
		defer cancel()
		if err := gate.admit(ctx, events); err != nil {
			if errors.Is(err, app.ErrBadEvent) {
				obs.WebhookEvent("invalid", "rejected")
				fail(http.StatusBadRequest, err.Error())
				return
			}
			log.Warn("webhook not recorded; sender will retry", "err", err)
			fail(http.StatusServiceUnavailable, "state store unavailable; retry later")
			return
		}
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
			if name := events[i].UnknownMetric; name != "" {
				unknown.note(name, clock.Now())
			}
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
		e := ev.Event
		e.At = earliest(ev.ObservedAt)
		evs, at = append(evs, e), append(at, i)
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

// earliest is when an event's observations were made, for the engine's
// ordering (an observation older than the newest applied is ignored): the
// earliest of them, so that none is taken for newer than it is. A
// notification's interval metrics are stamped with their interval's start,
// which stays the same while the interval's updates arrive; zero stamps
// (none in the event) leave it unordered.
func earliest(ts []time.Time) time.Time {
	var first time.Time
	for _, t := range ts {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// maxFutureSkew is how far ahead of slabot's clock an event may be
// stamped. Further ahead, a skewed or forged clock could make later, true
// observations look older than it (DESIGN §2.1).
const maxFutureSkew = 5 * time.Minute

// checkStamps refuses a body holding an event stamped more than
// maxFutureSkew ahead of now, with a reason naming the event.
func checkStamps(events []webhookEvent, now time.Time) error {
	limit := now.Add(maxFutureSkew)
	for i, ev := range events {
		if !ev.Sent.After(limit) {
			continue
		}
		at := ""
		if len(events) > 1 {
			at = fmt.Sprintf("event %d: ", i)
		}
		return fmt.Errorf("%w: %sstamped %s, more than 5 minutes ahead of slabot's clock (%s); check the sender's clock",
			app.ErrBadEvent, at, ev.Sent.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}
