package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// Test fixtures shared by the Slack handler tests.
const (
	slackTestSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	slackTestTeam   = "T0TEAM001"
	slackTestToken  = "xoxb-test-token"
	slackTestChan   = "C0ALERTS01"
	supportQueue    = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"
	billingQueue    = "7d1e2c3b-4a59-4b6c-8d7e-9f0a1b2c3d4e"
)

// slackSign computes Slack's v0 request signature, as Slack documents it:
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
func slackSign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// signedRequest builds a POST to path signed now with the test secret.
func signedRequest(path, contentType string, body []byte) *http.Request {
	ts := time.Now().Unix()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	r.Header.Set("X-Slack-Signature", slackSign(slackTestSecret, ts, body))
	return r
}

// commandForm is a slash command request body as Slack sends it.
func commandForm(user, text string) []byte {
	v := url.Values{
		"token": {"legacy-verification-token"}, "team_id": {slackTestTeam}, "team_domain": {"example"},
		"channel_id": {"C0SUPPORT1"}, "channel_name": {"support-leads"}, "user_id": {user}, "user_name": {"lead"},
		"command": {"/sla"}, "text": {text}, "api_app_id": {"A0SLABOT1"},
		"response_url": {"https://hooks.slack.com/commands/" + slackTestTeam + "/1/secretpath"},
		"trigger_id":   {"1.2.3"},
	}
	return []byte(v.Encode())
}

// serve runs one request through h and returns the recorder.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// runCommand sends /sla text as user, signed, and returns the ephemeral
// answer's text.
func runCommand(t *testing.T, h http.Handler, user, text string) string {
	t.Helper()
	w := serve(h, signedRequest(PathSlackCommands, "application/x-www-form-urlencoded", commandForm(user, text)))
	if w.Code != http.StatusOK {
		t.Fatalf("/sla %s: status %d: %s", text, w.Code, w.Body)
	}
	var resp struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("/sla %s: answer is not JSON: %v\n%s", text, err, w.Body)
	}
	if resp.ResponseType != "ephemeral" {
		t.Errorf("/sla %s: response_type = %q, want ephemeral", text, resp.ResponseType)
	}
	return resp.Text
}

// webCall is one request the Slack fake received: a Web API method (form
// or JSON encoded) or a post to a response_url.
type webCall struct {
	Method string // "chat.update", …, or "response_url"
	Path   string
	Form   url.Values
	JSON   map[string]any
	// RespTS is the ts the fake answered a chat.postMessage with.
	RespTS string
}

// slackFake is a recording Slack: the Web API under /api/ and the
// response_url host, each answering as Slack does.
type slackFake struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	calls []webCall
	seq   int
}

func newSlackFake(t *testing.T) *slackFake {
	t.Helper()
	f := &slackFake{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// APIURL is the Web API base for slackapi.Options.
func (f *slackFake) APIURL() string { return f.srv.URL + "/api/" }

// hooksClient sends requests for https://hooks.slack.com to the fake, so
// response_url posts pass slabot's host check and are recorded.
func (f *slackFake) hooksClient() *http.Client {
	target, _ := url.Parse(f.srv.URL)
	return &http.Client{Timeout: 5 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host != "hooks.slack.com" {
			return nil, fmt.Errorf("unexpected host %q", r.URL.Host)
		}
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (f *slackFake) serve(w http.ResponseWriter, r *http.Request) {
	c := webCall{Path: r.URL.Path}
	body, _ := io.ReadAll(r.Body)
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/json"):
		if err := json.Unmarshal(body, &c.JSON); err != nil {
			f.t.Errorf("%s: body is not JSON: %v", r.URL.Path, err)
		}
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		c.Form, _ = url.ParseQuery(string(body))
	default:
		f.t.Errorf("%s: unexpected Content-Type %q", r.URL.Path, ct)
	}
	if method, ok := strings.CutPrefix(r.URL.Path, "/api/"); ok {
		c.Method = method
		if r.Header.Get("Authorization") != "Bearer "+slackTestToken && c.Form.Get("token") != slackTestToken {
			writeSlackJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
	} else if strings.HasPrefix(r.URL.Path, "/actions/") {
		c.Method = "response_url"
	} else {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	f.seq++
	ts := fmt.Sprintf("1700000000.%06d", f.seq*100)
	if c.Method == "chat.postMessage" {
		c.RespTS = ts
	}
	f.calls = append(f.calls, c)
	f.mu.Unlock()

	channel := c.Form.Get("channel")
	switch c.Method {
	case "chat.postMessage":
		writeSlackJSON(w, map[string]any{"ok": true, "channel": channel, "ts": ts,
			"message": map[string]any{"type": "message", "text": c.Form.Get("text"), "ts": ts, "bot_id": "B0SLABOT1"}})
	case "chat.update":
		writeSlackJSON(w, map[string]any{"ok": true, "channel": channel, "ts": c.Form.Get("ts"), "text": c.Form.Get("text")})
	case "chat.postEphemeral":
		writeSlackJSON(w, map[string]any{"ok": true, "message_ts": ts})
	case "views.publish":
		view, _ := c.JSON["view"].(map[string]any)
		if view == nil {
			view = map[string]any{}
		}
		view["id"], view["team_id"], view["hash"] = "V0HOME001", slackTestTeam, "1700000000.abc"
		writeSlackJSON(w, map[string]any{"ok": true, "view": view})
	case "response_url":
		writeSlackJSON(w, map[string]any{"ok": true})
	default:
		writeSlackJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func writeSlackJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *slackFake) recorded() []webCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]webCall(nil), f.calls...)
}

// of returns the recorded calls of one method.
func (f *slackFake) of(method string) []webCall {
	var out []webCall
	for _, c := range f.recorded() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// waitFor polls until method has been called n times, or fails the test.
func (f *slackFake) waitFor(t *testing.T, method string, n int) []webCall {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if calls := f.of(method); len(calls) >= n {
			return calls
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %d %s calls; got: %+v", n, method, f.recorded())
	return nil
}

// blocks decodes a form-encoded call's blocks.
func (c webCall) blocks(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	if raw := c.Form.Get("blocks"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &out); err != nil {
			t.Fatalf("%s blocks are not JSON: %v", c.Method, err)
		}
	}
	return out
}

// text is everything a person reads in the call: its text field and the
// texts of its blocks (or view, or reply), decoded.
func (c webCall) text() string {
	var sb strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["text"].(string); ok {
				sb.WriteString(s)
				sb.WriteByte('\n')
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	sb.WriteString(c.Form.Get("text"))
	sb.WriteByte('\n')
	if raw := c.Form.Get("blocks"); raw != "" {
		var blocks []any
		_ = json.Unmarshal([]byte(raw), &blocks)
		walk(blocks)
	}
	walk(c.JSON)
	return sb.String()
}

// memStore is an in-memory Actions and Records for tests that need no
// Redis: it records every change it is asked for.
type memStore struct {
	mu         sync.Mutex
	changes    []string
	known      map[string]string
	thresholds []app.Threshold
	alerts     []app.Alert
	queues     []app.Queue
	history    []app.HistoryEntry
	err        error // returned by every call when set
}

func newMemStore() *memStore {
	return &memStore{known: map[string]string{supportQueue: "Support", billingQueue: "Billing EU"}}
}

func (m *memStore) record(format string, args ...any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.changes = append(m.changes, fmt.Sprintf(format, args...))
	return nil
}

func (m *memStore) recorded() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.changes...)
}

func (m *memStore) Ack(_ context.Context, id string, ep int, by app.Actor) (app.Alert, error) {
	q, media, metric, err := app.ParseAlertID(id)
	if err != nil {
		return app.Alert{}, err
	}
	return app.Alert{ID: id, QueueID: q, MediaType: media, Metric: metric, Episode: ep, State: app.StateAcknowledged, AckedBy: by.UserID},
		m.record("ack %s#%d by %s via %s", id, ep, by.UserID, by.Via)
}

func (m *memStore) Resolve(_ context.Context, id string, ep int, by app.Actor) (app.Alert, error) {
	q, media, metric, err := app.ParseAlertID(id)
	if err != nil {
		return app.Alert{}, err
	}
	return app.Alert{ID: id, QueueID: q, MediaType: media, Metric: metric, Episode: ep, State: app.StateResolved},
		m.record("resolve %s#%d by %s via %s", id, ep, by.UserID, by.Via)
}

func (m *memStore) AckQueue(_ context.Context, q string, by app.Actor) ([]app.Alert, error) {
	return []app.Alert{{QueueID: q, Metric: app.Waiting, Value: 12}}, m.record("ackqueue %s by %s", q, by.UserID)
}

func (m *memStore) Snooze(_ context.Context, q string, d time.Duration, by app.Actor) (time.Time, error) {
	return time.Unix(1700000000, 0).Add(d), m.record("snooze %s %s by %s via %s", q, d, by.UserID, by.Via)
}

func (m *memStore) Unsnooze(_ context.Context, q string, by app.Actor) error {
	return m.record("unsnooze %s by %s via %s", q, by.UserID, by.Via)
}

func (m *memStore) SetThreshold(_ context.Context, t app.Threshold, by app.Actor) (*app.Threshold, error) {
	return nil, m.record("set %s %s %g for %s by %s", t.QueueID, t.Metric, t.Value, t.For, by.UserID)
}

func (m *memStore) UnsetThreshold(_ context.Context, q, media string, metric app.Metric, by app.Actor) ([]app.Threshold, error) {
	return []app.Threshold{{QueueID: q, Metric: app.Waiting, Value: 5}}, m.record("unset %s %q by %s", q, metric, by.UserID)
}

func (m *memStore) Route(_ context.Context, q, channel string, by app.Actor) error {
	return m.record("route %s %q by %s", q, channel, by.UserID)
}

func (m *memStore) read() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *memStore) Thresholds(context.Context) ([]app.Threshold, error) {
	return m.thresholds, m.read()
}
func (m *memStore) OpenAlerts(context.Context) ([]app.Alert, error) { return m.alerts, m.read() }
func (m *memStore) KnownQueues(context.Context) (map[string]string, error) {
	return m.known, m.read()
}

func (m *memStore) QueueStates(_ context.Context, ids []string) ([]app.Queue, error) {
	out := make([]app.Queue, 0, len(ids))
	for _, id := range ids {
		q := app.Queue{ID: id}
		for _, s := range m.queues {
			if s.ID == id {
				q = s
			}
		}
		out = append(out, q)
	}
	return out, m.read()
}

func (m *memStore) History(_ context.Context, q string, limit int) ([]app.HistoryEntry, error) {
	var out []app.HistoryEntry
	for _, h := range m.history {
		if q == "" || h.QueueID == q {
			out = append(out, h)
		}
	}
	return out[:min(limit, len(out))], m.read()
}

// homeRecorder is a HomePublisher that records what it was asked to show.
type homeRecorder struct {
	mu    sync.Mutex
	homes map[string][]slackapi.Home
}

func (h *homeRecorder) PublishHome(_ context.Context, user string, home slackapi.Home) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.homes == nil {
		h.homes = make(map[string][]slackapi.Home)
	}
	h.homes[user] = append(h.homes[user], home)
	return nil
}

func (h *homeRecorder) published(user string) []slackapi.Home {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slackapi.Home(nil), h.homes[user]...)
}

// memServer is the HTTP edge on a memStore, with signing on.
func memServer(t *testing.T, m *memStore, mod func(*Deps)) (http.Handler, *background) {
	t.Helper()
	d := Deps{Actions: m, Records: m, Slack: SlackAuth{SigningSecret: slackTestSecret}, SlackHTTPClient: noNetwork()}
	if mod != nil {
		mod(&d)
	}
	h, bg := newServer(d)
	t.Cleanup(bg.wait)
	return h, bg
}

// noNetwork is an HTTP client that answers every request 200 itself, so
// tests on a memStore never reach the Internet.
func noNetwork() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})}
}
