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
	"testing"
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
