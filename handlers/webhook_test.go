package handlers_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/handlers"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

const metricEvent = `{"id":"4b7e1f0c-2a55-4c1e-9d0e-6b1f3d2a9c01","version":1,"timestamp":"2026-11-27T10:15:03Z",
"event_type":"com.genesiscloud.queue.metric","source":"architect/workflow/sla-relay",
"data":{"queue_id":"2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10","queue_name":"Support","metric":"longest_wait",
"value":312.5,"unit":"seconds","interval":"2026-11-27T10:15:00Z/2026-11-27T10:15:03Z"}}`

type webhookEnv struct {
	server *httptest.Server
	store  *store.Redis
}

func newWebhookEnv(t *testing.T, url string, auth handlers.WebhookAuth) webhookEnv {
	t.Helper()
	st, err := store.New(context.Background(), url, store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := engine.New(st, app.SystemClock{}, engine.Options{Channel: "C1",
		BuiltinDefault: &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}})
	srv := httptest.NewServer(handlers.New(handlers.Deps{Ingester: eng, Store: st, Webhook: auth}))
	t.Cleanup(srv.Close)
	return webhookEnv{server: srv, store: st}
}

func post(t *testing.T, url string, body []byte, header http.Header) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+handlers.PathWebhook, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
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

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestWebhookAuth(t *testing.T) {
	url := redistest.URL(t)
	body := []byte(metricEvent)
	both := handlers.WebhookAuth{Secret: "s3cret", Token: "t0ken"}
	basic := func(pass string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth("genesys", pass)
		return r.Header
	}
	tests := []struct {
		name   string
		auth   handlers.WebhookAuth
		header http.Header
		want   int
	}{
		{"hmac", both, http.Header{"X-Genesys-Cloud-Signature": {sign("s3cret", body)}}, 200},
		{"hmac wrong secret", both, http.Header{"X-Genesys-Cloud-Signature": {sign("other", body)}}, 401},
		{"hmac of another body", both, http.Header{"X-Genesys-Cloud-Signature": {sign("s3cret", []byte("{}"))}}, 401},
		{"hmac without prefix", both, http.Header{"X-Genesys-Cloud-Signature": {strings.TrimPrefix(sign("s3cret", body), "sha256=")}}, 401},
		{"bearer", both, http.Header{"Authorization": {"Bearer t0ken"}}, 200},
		{"bearer wrong", both, http.Header{"Authorization": {"Bearer t0ke"}}, 401},
		{"api key header", both, http.Header{"X-Slabot-Token": {"t0ken"}}, 200},
		{"basic", both, basic("t0ken"), 200},
		{"basic wrong", both, basic("nope"), 401},
		{"nothing sent", both, nil, 401},
		{"token only configured, hmac sent", handlers.WebhookAuth{Token: "t0ken"}, http.Header{"X-Genesys-Cloud-Signature": {sign("t0ken", body)}}, 401},
		{"local mode open", handlers.WebhookAuth{AllowUnsigned: true}, nil, 200},
		{"production closed", handlers.WebhookAuth{}, http.Header{"Authorization": {"Bearer x"}}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newWebhookEnv(t, url, tt.auth)
			code, out := post(t, env.server.URL, body, tt.header)
			if code != tt.want {
				t.Fatalf("status %d (%v), want %d", code, out, tt.want)
			}
			n, _, _ := env.store.OutboxDepth(context.Background())
			if tt.want == 401 && n != 0 {
				t.Errorf("rejected request changed state: outbox depth %d", n)
			}
			if tt.want == 200 && n != 1 {
				t.Errorf("accepted breach: outbox depth %d, want 1", n)
			}
		})
	}
	t.Run("closed webhook names the variables", func(t *testing.T) {
		env := newWebhookEnv(t, url, handlers.WebhookAuth{})
		_, out := post(t, env.server.URL, body, nil)
		if msg, _ := out["error"].(string); !strings.Contains(msg, "GENESYS_WEBHOOK_TOKEN") {
			t.Errorf("error = %q", msg)
		}
	})
}

func TestWebhookResponses(t *testing.T) {
	env := newWebhookEnv(t, redistest.URL(t), handlers.WebhookAuth{AllowUnsigned: true})
	ignoredEvent := `{"topicName":"v2.users.abc.presence","version":"2","eventBody":{}}`
	tests := []struct {
		name   string
		body   string
		code   int
		status string
	}{
		{"processed", metricEvent, 200, "processed"},
		{"replay", metricEvent, 200, "duplicate"},
		{"ignored", ignoredEvent, 200, "ignored"},
		{"array", "[" + strings.Replace(metricEvent, "4b7e1f0c", "5b7e1f0c", 1) + "," + ignoredEvent + "]", 200, "processed"},
		{"not json", "{nope", 400, "error"},
		{"wrong type", strings.Replace(metricEvent, "312.5", `"312.5"`, 1), 400, "error"},
		{"empty array", "[]", 400, "error"},
		{"too large", `{"pad":"` + strings.Repeat("x", handlers.MaxBody) + `"}`, 413, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := post(t, env.server.URL, []byte(tt.body), nil)
			if code != tt.code || out["status"] != tt.status {
				t.Errorf("got %d %v, want %d %q", code, out, tt.code, tt.status)
			}
			if code == 400 {
				if msg, _ := out["error"].(string); msg == "" || strings.Contains(msg, "\n") {
					t.Errorf("400 needs a one-line reason, got %q", msg)
				}
			}
		})
	}
	// Both breaching events are one episode of one alert: one message.
	if n, _, _ := env.store.OutboxDepth(context.Background()); n != 1 {
		t.Errorf("outbox depth %d, want 1", n)
	}
}

func TestWebhookRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	env := newWebhookEnv(t, srv.URL, handlers.WebhookAuth{AllowUnsigned: true})
	srv.Stop()
	code, _ := post(t, env.server.URL, []byte(metricEvent), nil)
	if code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", code)
	}
	resp, err := http.Get(env.server.URL + handlers.PathReady)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d, want 503", resp.StatusCode)
	}
	// Back up: the retried event is processed, nothing was half-recorded.
	srv.Restart(t)
	deadline := time.Now().Add(20 * time.Second) // bounds a failure only
	for {
		code, out := post(t, env.server.URL, []byte(metricEvent), nil)
		if code == 200 {
			if out["status"] != "processed" {
				t.Errorf("retry after outage: %v", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d after Redis came back", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Genesys Cloud does not document a notification's CorrelationId as unique
// per message, and one topic carries instant and interval messages: two
// messages sharing one are both applied, while a true replay is not.
func TestWebhookNotificationReplayKey(t *testing.T) {
	env := newWebhookEnv(t, redistest.URL(t), handlers.WebhookAuth{AllowUnsigned: true})
	now := time.Now().UTC()
	instantAt := now.Format("2006-01-02T15:04:05.000Z")
	start := now.Truncate(30 * time.Minute)
	window := start.Format("2006-01-02T15:04:05.000Z") + "/" + start.Add(30*time.Minute).Format("2006-01-02T15:04:05.000Z")
	notification := func(interval, metrics string) string {
		return `{"topicName":"v2.analytics.queues.2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10.observations","version":"2",` +
			`"eventBody":{"group":{"queueId":"2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10","mediaType":"voice"},` +
			`"data":[{"interval":"` + interval + `","metrics":` + metrics + `}]},` +
			`"metadata":{"CorrelationId":"shared-correlation-id"}}`
	}
	instant := notification(instantAt+"/"+instantAt, `[{"metric":"oWaiting","stats":{"count":4}}]`)
	interval := notification(window, `[{"metric":"nOffered","stats":{"count":10}},{"metric":"tAbandon","stats":{"count":3}}]`)
	for _, step := range []struct {
		name, body, want string
	}{
		{"instant message", instant, "processed"},
		{"interval message with the same CorrelationId", interval, "processed"},
		{"replay of the interval message", interval, "duplicate"},
		{"replay of the instant message", instant, "duplicate"},
	} {
		code, out := post(t, env.server.URL, []byte(step.body), nil)
		if code != 200 || out["status"] != step.want {
			t.Errorf("%s: got %d %v, want 200 %q", step.name, code, out, step.want)
		}
	}
}
