package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/handlers"
)

// The findings of the outsider's attack (issue 14): signed timestamps,
// outdated and future stamps, bodies before auth, bounded reads, limits.

// A relay that sends X-Slabot-Timestamp signs "<timestamp>.<body>"; the
// request is refused outside 5 minutes of slabot's clock, so a captured
// request cannot be replayed later. With RequireTimestamp a signature
// without one is refused too (issue 14, finding 2).
func TestWebhookSignedTimestamp(t *testing.T) {
	const secret = "hook-secret"
	clock := app.NewManualClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	now := clock.Now().Unix()
	signTS := func(ts string, b []byte) string { return sign(secret, append([]byte(ts+"."), b...)) }
	signBody := func(_ string, b []byte) string { return sign(secret, b) }
	envs := map[bool]hostileEnv{}
	for _, require := range []bool{false, true} {
		envs[require] = newHostileEnvWith(t, handlers.WebhookAuth{Secret: secret, RequireTimestamp: require},
			func(d *handlers.Deps) { d.Clock = clock })
	}
	tests := []struct {
		name    string
		require bool
		ts      string
		sign    func(ts string, body []byte) string
		want    int
	}{
		{"signed timestamp, now", false, fmt.Sprint(now), signTS, http.StatusOK},
		{"signed timestamp, 4 minutes old", false, fmt.Sprint(now - 240), signTS, http.StatusOK},
		{"signed timestamp, 6 minutes old", false, fmt.Sprint(now - 360), signTS, http.StatusUnauthorized},
		{"signed timestamp, 6 minutes ahead", false, fmt.Sprint(now + 360), signTS, http.StatusUnauthorized},
		{"timestamp sent, body alone signed", false, fmt.Sprint(now), signBody, http.StatusUnauthorized},
		{"timestamp changed after signing", false, fmt.Sprint(now), func(_ string, b []byte) string { return signTS(fmt.Sprint(now-1), b) }, http.StatusUnauthorized},
		{"timestamp not Unix seconds", false, "2026-12-04T12:00:00Z", signTS, http.StatusUnauthorized},
		{"no timestamp, body signed", false, "", signBody, http.StatusOK},
		{"timestamp required, none sent", true, "", signBody, http.StatusUnauthorized},
		{"timestamp required and signed", true, fmt.Sprint(now), signTS, http.StatusOK},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queue := fmt.Sprintf("ts-q%d", i)
			body := hostileEvent(fmt.Sprintf("ts-ev-%d", i), queue, "Support", 400)
			header := map[string]string{"X-Genesys-Cloud-Signature": tt.sign(tt.ts, body)}
			if tt.ts != "" {
				header["X-Slabot-Timestamp"] = tt.ts
			}
			e := envs[tt.require]
			got, answer := e.send(t, bytes.NewReader(body), header)
			if got != tt.want {
				t.Fatalf("status %d (%v); want %d", got, answer, tt.want)
			}
			if known := e.known(t, queue); known != (tt.want == http.StatusOK) {
				t.Errorf("queue known after a %d answer: %v", got, known)
			}
		})
	}
	t.Run("the same request replayed 6 minutes later", func(t *testing.T) {
		e := envs[false]
		body := hostileEvent("ts-replay", "ts-replay-q", "Support", 20)
		ts := fmt.Sprint(clock.Now().Unix())
		header := map[string]string{"X-Genesys-Cloud-Signature": signTS(ts, body), "X-Slabot-Timestamp": ts}
		if got, answer := e.send(t, bytes.NewReader(body), header); got != http.StatusOK {
			t.Fatalf("first: %d %v", got, answer)
		}
		clock.Advance(6 * time.Minute)
		defer clock.Advance(-6 * time.Minute)
		got, answer := e.send(t, bytes.NewReader(body), header)
		if msg, _ := answer["error"].(string); got != http.StatusUnauthorized || !strings.Contains(msg, "5 minutes") {
			t.Errorf("replay: %d %v; want 401 naming the 5-minute window", got, answer)
		}
	})
}

// An event stamped more than 5 minutes ahead of slabot's clock is refused
// with 400 and changes nothing, whichever stamp says so: a metric event's
// timestamp, a notification's interval start, an EventBridge event's time.
// An interval metric's interval ends ahead (at the end of the current
// half hour), which is fine (issue 14, finding 2).
func TestWebhookFutureStamps(t *testing.T) {
	clock := app.NewManualClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	e := newHostileEnvWith(t, handlers.WebhookAuth{Token: "tok"}, func(d *handlers.Deps) { d.Clock = clock })
	auth := map[string]string{"Authorization": "Bearer tok"}
	at := func(d time.Duration) string { return clock.Now().Add(d).Format(time.RFC3339) }
	metric := func(queue, stamp string) string {
		return `{"id":"fut-` + queue + `","event_type":"com.genesiscloud.queue.metric","timestamp":` + stamp +
			`,"data":{"queue_id":"` + queue + `","metric":"waiting","value":3}}`
	}
	notification := func(queue, interval string) string {
		return `{"topicName":"v2.analytics.queues.` + queue + `.observations","eventBody":{"group":{"queueId":"` + queue +
			`","mediaType":"voice"},"data":[{"interval":"` + interval + `","metrics":[{"metric":"oWaiting","stats":{"count":3}}]}]},"metadata":{"CorrelationId":"c-` + queue + `"}}`
	}
	eventBridge := func(queue, time string) string {
		return `{"version":"0","id":"eb-` + queue + `","detail-type":"v2.analytics.queues.{id}.observations","source":"aws.partner/genesys.com/cloud/o/x","time":"` +
			time + `","detail":` + notification(queue, at(0)+"/"+at(0)) + `}`
	}
	tests := []struct {
		name, queue, body string
		want              int
	}{
		{"metric event 4 minutes ahead", "fut-m4", metric("fut-m4", `"`+at(4*time.Minute)+`"`), http.StatusOK},
		{"metric event 10 minutes ahead", "fut-m10", metric("fut-m10", `"`+at(10*time.Minute)+`"`), http.StatusBadRequest},
		{"metric event a year ahead, Unix seconds", "fut-mu", metric("fut-mu", fmt.Sprint(clock.Now().AddDate(1, 0, 0).Unix())), http.StatusBadRequest},
		{"metric event an hour old", "fut-mold", metric("fut-mold", `"`+at(-time.Hour)+`"`), http.StatusOK},
		{"metric event timestamp not a time", "fut-mbad", metric("fut-mbad", `"tomorrow"`), http.StatusBadRequest},
		{"interval metric ending 14 minutes ahead", "fut-n30", notification("fut-n30", at(-16*time.Minute)+"/"+at(14*time.Minute)), http.StatusOK},
		{"observation 10 minutes ahead", "fut-n10", notification("fut-n10", at(10*time.Minute)+"/"+at(10*time.Minute)), http.StatusBadRequest},
		{"interval not an interval", "fut-nbad", notification("fut-nbad", "now"), http.StatusBadRequest},
		{"EventBridge time 10 minutes ahead", "fut-e10", eventBridge("fut-e10", at(10*time.Minute)), http.StatusBadRequest},
		{"EventBridge time now", "fut-e0", eventBridge("fut-e0", at(0)), http.StatusOK},
		{"one event of a batch ahead", "fut-b0", "[" + metric("fut-b0", `"`+at(0)+`"`) + "," + metric("fut-b1", `"`+at(time.Hour)+`"`) + "]", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, answer := e.send(t, strings.NewReader(tt.body), auth)
			if got != tt.want {
				t.Fatalf("status %d (%v); want %d", got, answer, tt.want)
			}
			if known := e.known(t, tt.queue); known != (tt.want == http.StatusOK) {
				t.Errorf("queue known after a %d answer: %v", got, known)
			}
			if msg, _ := answer["error"].(string); got == http.StatusBadRequest && strings.Contains(tt.name, "ahead") &&
				!strings.Contains(msg, "more than 5 minutes ahead of slabot's clock") {
				t.Errorf("reason %q does not say the stamp is ahead", msg)
			}
		})
	}
}

// countingBody is a request body that records whether it was read.
type countingBody struct {
	r    io.Reader
	read atomic.Bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

func (b *countingBody) Close() error { return nil }

// A request whose credentials the headers already refute is answered 401
// without its body being read: a wrong or missing token, no signature
// header, a timestamp outside the window, a Slack request without its
// signature headers (issue 14, finding 3).
func TestAuthBeforeBody(t *testing.T) {
	clock := app.NewManualClock(time.Now())
	h := handlers.New(handlers.Deps{Ingester: nopIngester{}, Webhook: handlers.WebhookAuth{Token: "tok", Secret: "sec"}, Clock: clock,
		Actions: nopActions{}, Records: nopRecords{}, Slack: handlers.SlackAuth{SigningSecret: "slack-secret"}})
	old := fmt.Sprint(clock.Now().Add(-time.Hour).Unix())
	tests := []struct {
		name, path string
		header     map[string]string
	}{
		{"no credentials", handlers.PathWebhook, nil},
		{"wrong bearer token", handlers.PathWebhook, map[string]string{"Authorization": "Bearer nope"}},
		{"wrong basic password", handlers.PathWebhook, map[string]string{"Authorization": "Basic Z2VuZXN5czpub3Bl"}},
		{"wrong X-Slabot-Token", handlers.PathWebhook, map[string]string{"X-Slabot-Token": "nope"}},
		{"signature with an old timestamp", handlers.PathWebhook, map[string]string{"X-Genesys-Cloud-Signature": "sha256=00", "X-Slabot-Timestamp": old}},
		{"slack request unsigned", handlers.PathSlackCommands, nil},
		{"slack request an hour old", handlers.PathSlackCommands, map[string]string{"X-Slack-Signature": "v0=00", "X-Slack-Request-Timestamp": old}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingBody{r: strings.NewReader(`{"id":"x"}`)}
			req := httptest.NewRequest(http.MethodPost, tt.path, body)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusUnauthorized {
				t.Errorf("status %d (%s); want 401", w.Code, w.Body)
			}
			if body.read.Load() {
				t.Error("the body was read before authentication failed")
			}
		})
	}
}

// blockingBody is a request body whose first Read reports on started and
// then waits for release.
type blockingBody struct {
	started chan<- struct{}
	release <-chan struct{}
	once    sync.Once
	r       io.Reader
}

func (b *blockingBody) Read(p []byte) (int, error) {
	b.once.Do(func() {
		b.started <- struct{}{}
		<-b.release
	})
	return b.r.Read(p)
}

func (b *blockingBody) Close() error { return nil }

// At most MaxBodyReads bodies are read at once, across the webhook and
// the Slack routes: with every slot held by a slow upload, the next
// request is answered 503 with Retry-After instead of being read, and
// once the uploads finish requests are read again (issue 14, finding 3).
func TestBodyReadsBounded(t *testing.T) {
	const slots = 3
	h := handlers.New(handlers.Deps{Ingester: nopIngester{}, Webhook: handlers.WebhookAuth{Token: "tok"},
		Actions: nopActions{}, Records: nopRecords{}, Slack: handlers.SlackAuth{AllowUnsigned: true},
		MaxBodyReads: slots, BodyWait: 20 * time.Millisecond})
	request := func(path string, body io.Reader) *http.Request {
		req := httptest.NewRequest(http.MethodPost, path, body)
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	event := string(hostileEvent("slow", "slow-q", "Slow", 10))
	started, release := make(chan struct{}), make(chan struct{})
	codes := make(chan int, slots+1)
	for i := range slots + 1 {
		path := handlers.PathWebhook
		if i%2 == 1 {
			path = handlers.PathSlackEvents
		}
		body := &blockingBody{started: started, release: release, r: strings.NewReader(event)}
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, request(path, body))
			codes <- w.Code
		}()
	}
	// slots uploads start; the one more either starts reading (the bound
	// failed) or is answered.
	for range slots {
		<-started
	}
	select {
	case <-started:
		close(release)
		t.Fatalf("%d bodies read at once; want at most %d", slots+1, slots)
	case code := <-codes:
		if code != http.StatusServiceUnavailable {
			t.Errorf("request beyond the bound: %d; want 503", code)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request(handlers.PathWebhook, strings.NewReader(event)))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("while full: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	close(release)
	for range slots {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("slow upload answered %d; want 200", code)
		}
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, request(handlers.PathWebhook, strings.NewReader(event)))
	if w.Code != http.StatusOK {
		t.Errorf("after the uploads: %d (%s); want 200", w.Code, w.Body)
	}
}

// Slack routes take what Slack sends and no more: a slash command up to
// MaxSlackCommandBody, an interaction up to MaxSlackBody (issue 14,
// finding 3).
func TestSlackBodyLimits(t *testing.T) {
	h := handlers.New(handlers.Deps{Ingester: nopIngester{}, Actions: nopActions{}, Records: nopRecords{},
		Slack: handlers.SlackAuth{AllowUnsigned: true}})
	tests := []struct {
		path string
		size int
		want int
	}{
		{handlers.PathSlackCommands, handlers.MaxSlackCommandBody, http.StatusOK},
		{handlers.PathSlackCommands, handlers.MaxSlackCommandBody + 1, http.StatusRequestEntityTooLarge},
		{handlers.PathSlackInteractions, handlers.MaxSlackBody, http.StatusOK},
		{handlers.PathSlackInteractions, handlers.MaxSlackBody + 1, http.StatusRequestEntityTooLarge},
		{handlers.PathSlackEvents, handlers.MaxSlackBody + 1, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d bytes", tt.path, tt.size), func(t *testing.T) {
			body := "payload=%7B%7D&user_id=U0LEAD001&team_id=T1&text=help&pad=" + strings.Repeat("x", tt.size)
			body = body[:tt.size]
			req := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Errorf("status %d (%.200s); want %d", w.Code, w.Body, tt.want)
			}
		})
	}
}

// Authentication schemes are case-insensitive (RFC 9110 §11.1): bearer,
// BEARER, basic all pass with the right token (issue 14, finding 8).
func TestWebhookAuthSchemeCase(t *testing.T) {
	e := newHostileEnv(t, handlers.WebhookAuth{Token: "tok"})
	basic := "Z2VuZXN5czp0b2s=" // genesys:tok
	for i, header := range []string{"bearer tok", "BEARER tok", "Bearer tok", "bEaReR  tok", "basic " + basic, "BASIC " + basic} {
		t.Run(header, func(t *testing.T) {
			body := hostileEvent(fmt.Sprintf("case-%d", i), fmt.Sprintf("case-q%d", i), "Support", 10)
			if got, answer := e.send(t, bytes.NewReader(body), map[string]string{"Authorization": header}); got != http.StatusOK {
				t.Errorf("Authorization: %s: %d %v; want 200", header, got, answer)
			}
		})
	}
	if got, _ := e.send(t, bytes.NewReader(hostileEvent("case-x", "case-qx", "S", 10)), map[string]string{"Authorization": "Token tok"}); got != http.StatusUnauthorized {
		t.Errorf("an unknown scheme: %d; want 401", got)
	}
}

// The queue IDs all and default, in any case, are /sla keywords and are
// refused from webhooks; an event id over 256 bytes is refused too: it
// would become a Redis key (issue 14, findings 4 and 6).
func TestWebhookReservedQueuesAndLongIDs(t *testing.T) {
	e := newHostileEnv(t, handlers.WebhookAuth{Token: "tok"})
	auth := map[string]string{"Authorization": "Bearer tok"}
	envelope := func(queue, correlation string) string {
		return `{"topicName":"v2.analytics.queues.` + queue + `.observations","eventBody":{"group":{"mediaType":"voice"},` +
			`"data":[{"metrics":[{"metric":"oWaiting","stats":{"count":3}}]}]},"metadata":{"CorrelationId":"` + correlation + `"}}`
	}
	tests := []struct {
		name, body, queue string
		want              int
	}{
		{"all", string(hostileEvent("r-1", "all", "All", 400)), "all", http.StatusBadRequest},
		{"ALL", string(hostileEvent("r-2", "ALL", "All", 400)), "ALL", http.StatusBadRequest},
		{"Default", string(hostileEvent("r-3", "Default", "Default", 400)), "Default", http.StatusBadRequest},
		{"all in a topic", envelope("All", "c-1"), "All", http.StatusBadRequest},
		{"allied is a queue", string(hostileEvent("r-4", "allied", "Allied", 400)), "allied", http.StatusOK},
		{"id of 256 bytes", string(hostileEvent(strings.Repeat("i", 256), "id-q1", "S", 10)), "id-q1", http.StatusOK},
		{"id of 257 bytes", string(hostileEvent(strings.Repeat("j", 257), "id-q2", "S", 10)), "id-q2", http.StatusBadRequest},
		{"id of 900,000 bytes", string(hostileEvent(strings.Repeat("k", 900_000), "id-q3", "S", 10)), "id-q3", http.StatusBadRequest},
		{"correlation id of 257 bytes", envelope("id-q4", strings.Repeat("c", 257)), "id-q4", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, answer := e.send(t, strings.NewReader(tt.body), auth)
			if got != tt.want {
				t.Fatalf("status %d (%v); want %d", got, answer, tt.want)
			}
			if known := e.known(t, tt.queue); known != (tt.want == http.StatusOK) {
				t.Errorf("queue %s known after a %d answer: %v", tt.queue, got, known)
			}
			if msg, _ := answer["error"].(string); got == http.StatusBadRequest && len(msg) > 200 {
				t.Errorf("reason is %d bytes; want a short line", len(msg))
			}
		})
	}
}

// nopIngester processes every event; nopActions and nopRecords change and
// know nothing: for tests of the edge alone.
type nopIngester struct{}

func (nopIngester) Ingest(context.Context, app.Event) (app.Outcome, error) { return app.Processed, nil }
func (nopIngester) IngestMany(_ context.Context, evs []app.Event) ([]app.Outcome, error) {
	out := make([]app.Outcome, len(evs))
	for i := range out {
		out[i] = app.Processed
	}
	return out, nil
}

type nopActions struct{ handlers.Actions }

type nopRecords struct{ handlers.Records }

// stampedEvent is hostileEvent with a timestamp.
func stampedEvent(id, queueID string, seconds float64, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "version": 1, "event_type": "com.genesiscloud.queue.metric",
		"timestamp": at.UTC().Format(time.RFC3339),
		"data": map[string]any{"queue_id": queueID, "queue_name": "Support", "metric": "longest_wait",
			"value": seconds, "unit": "seconds"}})
	return b
}

// TestWebhookOutdatedObservationIgnored (issue 14, finding 2): a signed
// "recovered" body stamped before the breach it would resolve (a replay
// after its id was forgotten, or a delayed delivery) answers ignored and
// leaves the alert open; a newer one resolves it.
func TestWebhookOutdatedObservationIgnored(t *testing.T) {
	env := newHostileEnv(t, handlers.WebhookAuth{Token: "tok"})
	auth := map[string]string{"Authorization": "Bearer tok"}
	const q = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"
	now := time.Now().Truncate(time.Second)
	open := func() int {
		t.Helper()
		as, err := env.store.OpenAlerts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(as)
	}
	for _, c := range []struct {
		name, id string
		wait     float64
		at       time.Time
		want     string
		open     int
	}{
		{"breach", "breach", 400, now.Add(-time.Minute), "processed", 1},
		{"recovery stamped before the breach", "old-recovery", 10, now.Add(-2 * time.Minute), "ignored", 1},
		{"recovery after it", "recovery", 10, now, "processed", 0},
	} {
		status, out := env.send(t, bytes.NewReader(stampedEvent(c.id, q, c.wait, c.at)), auth)
		if status != http.StatusOK || out["status"] != c.want || open() != c.open {
			t.Errorf("%s: %d %v, %d open alerts; want %s and %d open", c.name, status, out, open(), c.want, c.open)
		}
	}
}
