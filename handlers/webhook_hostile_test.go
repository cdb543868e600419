package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/handlers"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// hostileEnv is the webhook on a real engine and a real Redis, so that
// "changes nothing" is checked against what was stored.
type hostileEnv struct {
	url   string
	store *store.Redis
}

func newHostileEnv(t *testing.T, auth handlers.WebhookAuth) hostileEnv {
	t.Helper()
	return newHostileEnvWith(t, auth, nil)
}

// newHostileEnvWith is newHostileEnv with Deps changed by mod (a clock,
// queue limits).
func newHostileEnvWith(t *testing.T, auth handlers.WebhookAuth, mod func(*handlers.Deps)) hostileEnv {
	t.Helper()
	st, err := store.New(context.Background(), redistest.URL(t), store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st, app.SystemClock{}, engine.Options{Channel: "C0ALERTS",
		BuiltinDefault: &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}})
	d := handlers.Deps{Ingester: eng, Store: st, Webhook: auth, Queues: st}
	if mod != nil {
		mod(&d)
	}
	srv := httptest.NewServer(handlers.New(d))
	t.Cleanup(srv.Close)
	return hostileEnv{url: srv.URL, store: st}
}

// hostileEvent is a metric event; the queue name goes through
// encoding/json, so any string can be sent.
func hostileEvent(id, queueID, queueName string, seconds float64) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "version": 1, "event_type": "com.genesiscloud.queue.metric",
		"data": map[string]any{"queue_id": queueID, "queue_name": queueName, "metric": "longest_wait",
			"value": seconds, "unit": "seconds"}})
	return b
}

// send posts body with the given headers and returns the status and the
// decoded answer (nil when it is not JSON).
func (e hostileEnv) send(t *testing.T, body io.Reader, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+handlers.PathWebhook, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// known reports whether the store has heard of queueID.
func (e hostileEnv) known(t *testing.T, queueID string) bool {
	t.Helper()
	names, err := e.store.KnownQueues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, ok := names[queueID]
	return ok
}

// A signature must cover exactly the body that was sent with the
// configured secret; anything else answers 401 and changes nothing.
func TestWebhookSignatureTampering(t *testing.T) {
	const secret = "hook-secret"
	e := newHostileEnv(t, handlers.WebhookAuth{Secret: secret})
	tests := []struct {
		name string
		// sign returns the body to send and its signature header.
		sign func(body []byte) ([]byte, string)
		want int
	}{
		{"valid", func(b []byte) ([]byte, string) { return b, sign(secret, b) }, http.StatusOK},
		{"valid, upper-case hex", func(b []byte) ([]byte, string) {
			return b, "sha256=" + strings.ToUpper(strings.TrimPrefix(sign(secret, b), "sha256="))
		}, http.StatusOK},
		{"body changed after signing", func(b []byte) ([]byte, string) {
			return bytes.Replace(b, []byte("312.5"), []byte("912.5"), 1), sign(secret, b)
		}, http.StatusUnauthorized},
		{"space appended after signing", func(b []byte) ([]byte, string) {
			return append(b, ' '), sign(secret, b)
		}, http.StatusUnauthorized},
		{"another secret", func(b []byte) ([]byte, string) { return b, sign("not-the-secret", b) }, http.StatusUnauthorized},
		{"truncated", func(b []byte) ([]byte, string) { s := sign(secret, b); return b, s[:len(s)-2] }, http.StatusUnauthorized},
		{"empty", func(b []byte) ([]byte, string) { return b, "sha256=" }, http.StatusUnauthorized},
		{"not hex", func(b []byte) ([]byte, string) { return b, "sha256=" + strings.Repeat("zz", 32) }, http.StatusUnauthorized},
		{"sha1 scheme", func(b []byte) ([]byte, string) {
			return b, "sha1=" + strings.TrimPrefix(sign(secret, b), "sha256=")
		}, http.StatusUnauthorized},
		{"absent", func(b []byte) ([]byte, string) { return b, "" }, http.StatusUnauthorized},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queue := fmt.Sprintf("tamper-%d", i)
			body, sig := tt.sign(hostileEvent(fmt.Sprintf("tamper-ev-%d", i), queue, "Support", 312.5))
			header := map[string]string{"Content-Type": "application/json"}
			if sig != "" {
				header["X-Genesys-Cloud-Signature"] = sig
			}
			got, answer := e.send(t, bytes.NewReader(body), header)
			if got != tt.want {
				t.Fatalf("status %d (%v); want %d", got, answer, tt.want)
			}
			if known := e.known(t, queue); known != (tt.want == http.StatusOK) {
				t.Errorf("queue known after a %d answer: %v", got, known)
			}
		})
	}
}

// A captured, validly signed webhook replayed later (here: after the
// queue recovered) answers duplicate and does not re-open the alert. A
// signature without X-Slabot-Timestamp has the 24 h event-id memory as its
// replay window; TestWebhookSignedTimestamp bounds it to 5 minutes.
func TestWebhookSignedReplay(t *testing.T) {
	const secret = "hook-secret"
	e := newHostileEnv(t, handlers.WebhookAuth{Secret: secret})
	sendSigned := func(body []byte) (int, map[string]any) {
		return e.send(t, bytes.NewReader(body), map[string]string{"X-Genesys-Cloud-Signature": sign(secret, body)})
	}
	breach := hostileEvent("replay-breach", "replay-q", "Support", 400)
	for i, step := range []struct {
		body   []byte
		status string
	}{
		{breach, "processed"},
		{hostileEvent("replay-recover", "replay-q", "Support", 20), "processed"},
		{breach, "duplicate"},
		{breach, "duplicate"},
	} {
		code, answer := sendSigned(step.body)
		if code != http.StatusOK || answer["status"] != step.status {
			t.Fatalf("step %d: %d %v; want 200 %s", i, code, answer, step.status)
		}
	}
	open, err := e.store.OpenAlerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 0 {
		t.Errorf("the replayed breach re-opened %d alerts: %+v", len(open), open)
	}
}

// Bodies over 1 MiB answer 413 whether or not they declare their length;
// a body of exactly 1 MiB is read.
func TestWebhookBodyLimit(t *testing.T) {
	e := newHostileEnv(t, handlers.WebhookAuth{Token: "tok"})
	auth := map[string]string{"Authorization": "Bearer tok"}
	exact := hostileEvent("limit-exact", "limit-q", "Support", 10)
	exact = append(exact, bytes.Repeat([]byte(" "), handlers.MaxBody-len(exact))...)
	over := append(bytes.Clone(exact), ' ')
	tests := []struct {
		name string
		body io.Reader
		want int
	}{
		{"exactly 1 MiB", bytes.NewReader(exact), http.StatusOK},
		{"1 MiB and a byte", bytes.NewReader(over), http.StatusRequestEntityTooLarge},
		{"8 MiB, chunked", io.MultiReader(strings.NewReader("["), io.LimitReader(repeatReader('['), 8<<20)), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, answer := e.send(t, tt.body, auth); got != tt.want {
				t.Errorf("status %d (%v); want %d", got, answer, tt.want)
			}
		})
	}
}

// repeatReader is an endless stream of one byte; its length is unknown
// to net/http, so the request is sent chunked.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// Deeply nested JSON and huge arrays are refused with a short one-line
// reason and store nothing; a full batch of 1,000 events is processed.
func TestWebhookHostileShapes(t *testing.T) {
	e := newHostileEnv(t, handlers.WebhookAuth{Token: "tok"})
	auth := map[string]string{"Authorization": "Bearer tok"}
	nested := func(depth int, open, close string) string {
		return strings.Repeat(open, depth) + strings.Repeat(close, depth)
	}
	deepData := `{"id":"deep","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"deep-q","metric":"wait","value":400,"x":` +
		nested(20_000, "[", "]") + `}}`
	batch := func(n int, event func(i int) string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = event(i)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	metric := func(i int) string {
		return string(hostileEvent(fmt.Sprintf("big-%d", i), fmt.Sprintf("big-q%d", i), "Big", 400))
	}
	tests := []struct {
		name   string
		body   string
		want   int
		status string
	}{
		{"nested arrays", nested(400_000, "[", "]"), http.StatusBadRequest, ""},
		{"nested objects", strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000), http.StatusBadRequest, ""},
		{"unterminated nesting", strings.Repeat("[{", 200_000), http.StatusBadRequest, ""},
		{"deep value in an event", deepData, http.StatusBadRequest, ""},
		{"1,001 events", batch(1001, metric), http.StatusBadRequest, ""},
		{"100,000 numbers", batch(100_000, func(int) string { return "1" }), http.StatusBadRequest, ""},
		{"1,000 empty objects", batch(1000, func(int) string { return "{}" }), http.StatusOK, "ignored"},
		{"1,000 events", batch(1000, metric), http.StatusOK, "processed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, answer := e.send(t, strings.NewReader(tt.body), auth)
			if got != tt.want {
				t.Fatalf("status %d (%v); want %d", got, answer, tt.want)
			}
			if tt.want != http.StatusOK {
				msg, _ := answer["error"].(string)
				if msg == "" || strings.ContainsAny(msg, "\r\n") || utf8.RuneCountInString(msg) > 200 {
					t.Errorf("reason %q: want one short line", msg)
				}
				return
			}
			if answer["status"] != tt.status {
				t.Errorf("status %v; want %s", answer["status"], tt.status)
			}
		})
	}
	if e.known(t, "deep-q") || e.known(t, "big-q1000") {
		t.Error("a refused body stored a queue")
	}
}

// Queue names travel as data: markup, mentions and any Unicode are stored
// as sent (escaping is the Slack renderer's job, checked in slackapi and
// end to end in faulttest); control characters are dropped and overlong
// names refused.
func TestWebhookHostileQueueNames(t *testing.T) {
	e := newHostileEnv(t, handlers.WebhookAuth{Token: "tok"})
	auth := map[string]string{"Authorization": "Bearer tok"}
	tests := []struct {
		name, sent string
		want       int
		stored     string
	}{
		{"channel mention", "<!channel> Support", http.StatusOK, "<!channel> Support"},
		{"user mention and link", "<@U0123ABCD> <https://evil.example|click>", http.StatusOK, "<@U0123ABCD> <https://evil.example|click>"},
		{"entities", "Sales & Support <EU> >", http.StatusOK, "Sales & Support <EU> >"},
		{"unicode", "サポート 東京 🚨 Zürich", http.StatusOK, "サポート 東京 🚨 Zürich"},
		{"right to left", "دعم العملاء", http.StatusOK, "دعم العملاء"},
		{"control characters", "Sup\x00port\u0007\r\n", http.StatusOK, "Support"},
		{"invalid UTF-8", "Sup\xffport", http.StatusOK, "Sup\uFFFDport"},
		{"257 bytes", strings.Repeat("é", 128) + "x", http.StatusBadRequest, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queue := fmt.Sprintf("name-q%d", i)
			// encoding/json would replace invalid UTF-8 before sending.
			body := bytes.Replace(hostileEvent(fmt.Sprintf("name-%d", i), queue, "NAME", 400), []byte(`"NAME"`),
				[]byte(`"`+jsonEscape(tt.sent)+`"`), 1)
			got, answer := e.send(t, bytes.NewReader(body), auth)
			if got != tt.want {
				t.Fatalf("status %d (%v); want %d", got, answer, tt.want)
			}
			if tt.want != http.StatusOK {
				return
			}
			names, err := e.store.KnownQueues(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if names[queue] != tt.stored {
				t.Errorf("stored name %q; want %q", names[queue], tt.stored)
			}
		})
	}
}

// jsonEscape escapes s for a JSON string but leaves invalid UTF-8 bytes
// as they are, as a careless sender would.
func jsonEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

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

// Webhooks cannot grow the known queues past QueueLimits.Max: a body
// naming new queues beyond it answers 400 (and logs why), while events
// about queues already known still pass. With Watch set, events about
// other queues are ignored (issue 14, finding 7).
func TestWebhookQueueLimits(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))
	e := newHostileEnvWith(t, handlers.WebhookAuth{Token: "tok"}, func(d *handlers.Deps) {
		d.QueueLimits = handlers.QueueLimits{Max: 5}
		d.Logger = log
	})
	auth := map[string]string{"Authorization": "Bearer tok"}
	batch := func(from, to int) string {
		var parts []string
		for i := from; i < to; i++ {
			parts = append(parts, string(hostileEvent(fmt.Sprintf("cap-%d-%d", from, i), fmt.Sprintf("cap-q%d", i), "Q", 10)))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	if got, answer := e.send(t, strings.NewReader(batch(0, 4)), auth); got != http.StatusOK {
		t.Fatalf("4 queues: %d %v", got, answer)
	}
	got, answer := e.send(t, strings.NewReader(batch(4, 6)), auth)
	if msg, _ := answer["error"].(string); got != http.StatusBadRequest || !strings.Contains(msg, "SLABOT_MAX_QUEUES") {
		t.Fatalf("2 more queues past a cap of 5: %d %v; want 400 naming SLABOT_MAX_QUEUES", got, answer)
	}
	if e.known(t, "cap-q4") || e.known(t, "cap-q5") {
		t.Error("a refused body created queues")
	}
	mu.Lock()
	logged := logs.String()
	mu.Unlock()
	if !strings.Contains(logged, "beyond the cap of known queues") {
		t.Errorf("no log line for the refusal:\n%s", logged)
	}
	// Known queues still report, and the one slot left is usable.
	if got, answer := e.send(t, strings.NewReader(batch(0, 5)), auth); got != http.StatusOK {
		t.Errorf("4 known queues and 1 new: %d %v; want 200", got, answer)
	}
	if got, _ := e.send(t, strings.NewReader(string(hostileEvent("cap-late", "cap-q9", "Q", 10))), auth); got != http.StatusBadRequest {
		t.Errorf("a 6th queue: %d; want 400", got)
	}

	t.Run("GENESYS_QUEUES", func(t *testing.T) {
		w := newHostileEnvWith(t, handlers.WebhookAuth{Token: "tok"}, func(d *handlers.Deps) {
			d.QueueLimits = handlers.QueueLimits{Max: 100, Watch: []string{"Support", "watch-id-1"}}
		})
		for _, tt := range []struct {
			queue, name, status string
		}{
			{"watch-id-1", "", "processed"},
			{"WATCH-ID-1", "", "processed"},
			{"watch-q2", "support", "processed"},
			{"watch-q3", "Billing", "ignored"},
			{"watch-q4", "", "ignored"},
		} {
			got, answer := w.send(t, strings.NewReader(string(hostileEvent("w-"+tt.queue, tt.queue, tt.name, 10))), auth)
			if got != http.StatusOK || answer["status"] != tt.status {
				t.Errorf("queue %s named %q: %d %v; want %s", tt.queue, tt.name, got, answer, tt.status)
			}
			if known := w.known(t, tt.queue); known != (tt.status == "processed") {
				t.Errorf("queue %s known: %v", tt.queue, known)
			}
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
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

// countingDir counts the gate's lookups of which queues are new.
type countingDir struct {
	handlers.QueueDirectory
	lookups atomic.Int64
}

func (c *countingDir) QueuesKnown(ctx context.Context, ids []string) ([]bool, error) {
	c.lookups.Add(1)
	return c.QueueDirectory.QueuesKnown(ctx, ids)
}

// Far below the cap, webhooks about the same queues cost no lookup, however
// many there are: each queue counts once towards the estimate.
func TestWebhookQueueCapCostsNothingBelowIt(t *testing.T) {
	var dir *countingDir
	e := newHostileEnvWith(t, handlers.WebhookAuth{Token: "tok"}, func(d *handlers.Deps) {
		d.QueueLimits = handlers.QueueLimits{Max: 10}
		dir = &countingDir{QueueDirectory: d.Queues}
		d.Queues = dir
	})
	auth := map[string]string{"Authorization": "Bearer tok"}
	for i := range 30 {
		body := hostileEvent(fmt.Sprintf("same-%d", i), fmt.Sprintf("same-q%d", i%3), "Q", 10)
		if got, answer := e.send(t, bytes.NewReader(body), auth); got != http.StatusOK {
			t.Fatalf("event %d: %d %v", i, got, answer)
		}
	}
	if n := dir.lookups.Load(); n != 0 {
		t.Errorf("30 events about 3 queues, cap 10: %d lookups of which queues are new, want 0", n)
	}
}
