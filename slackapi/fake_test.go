package slackapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/internal/slackfake"
)

const testToken = "xoxb-1234-5678-s3cr3tT0k3n"

// slackCall is one Web API request as the fake received it.
type slackCall struct {
	Method string // e.g. "chat.postMessage"
	Form   url.Values
}

// Blocks decodes the call's blocks form field.
func (c slackCall) Blocks(t *testing.T) []map[string]any {
	t.Helper()
	raw := c.Form.Get("blocks")
	if raw == "" {
		return nil
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		t.Fatalf("blocks of %s are not JSON: %v\n%s", c.Method, err, raw)
	}
	return blocks
}

// fakeSlack speaks enough of the Slack Web API for the client: form-encoded
// requests under a base path, JSON answers shaped like Slack's. A test can
// take over any answer with respond.
type fakeSlack struct {
	t       *testing.T
	srv     *httptest.Server
	prefix  string
	respond func(w http.ResponseWriter, c slackCall) bool

	// files fakes the three-step upload and records shared files.
	files *slackfake.Files

	mu    sync.Mutex
	calls []slackCall
	seq   int
}

func newFakeSlack(t *testing.T, prefix string) *fakeSlack {
	t.Helper()
	f := &fakeSlack{t: t, prefix: prefix}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.files = &slackfake.Files{Base: f.srv.URL}
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the API base URL to configure, without a trailing slash.
func (f *fakeSlack) URL() string { return f.srv.URL + strings.TrimSuffix(f.prefix, "/") }

func (f *fakeSlack) Calls() []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slackCall(nil), f.calls...)
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if slackfake.IsUpload(r) {
		f.files.ServeUpload(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, f.prefix)
	if !ok || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		f.t.Errorf("%s: Content-Type = %q, want form encoding", method, ct)
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := slackCall{Method: method, Form: r.PostForm}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.seq++
	seq := f.seq
	f.mu.Unlock()

	if f.respond != nil && f.respond(w, c) {
		return
	}
	if c.Form.Get("token") != testToken {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	channel := c.Form.Get("channel")
	switch method {
	case "chat.postMessage":
		ts := fmt.Sprintf("1700000000.%06d", 100*seq)
		writeJSON(w, map[string]any{"ok": true, "channel": channel, "ts": ts,
			"message": map[string]any{"type": "message", "text": c.Form.Get("text"), "ts": ts}})
	case "chat.update":
		writeJSON(w, map[string]any{"ok": true, "channel": channel, "ts": c.Form.Get("ts"), "text": c.Form.Get("text")})
	case "auth.test":
		writeJSON(w, map[string]any{"ok": true, "url": "https://example.slack.com/", "team": "Example Inc",
			"user": "slabot", "team_id": "T0001", "user_id": "U0BOT", "bot_id": "B0001"})
	case "conversations.info":
		if channel != "C1" {
			writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		writeJSON(w, map[string]any{"ok": true, "channel": map[string]any{"id": "C1", "name": "sla-alerts",
			"is_channel": true, "is_member": true, "created": 1700000000}})
	default:
		if !f.files.ServeMethod(w, method, c.Form) {
			writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
		}
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// Fixtures shared by the tests: a Support queue breaching its 5-minute
// longest-wait threshold, fired at 1700000000 (22:13:20 UTC).
var testFiredAt = time.Unix(1700000000, 0).UTC()

func floatPtr(v float64) *float64 { return &v }

func firingAlert() app.Alert {
	return app.Alert{
		ID:           app.AlertID("q-1", "voice", app.LongestWait),
		QueueID:      "q-1",
		QueueName:    "Support",
		MediaType:    "voice",
		Metric:       app.LongestWait,
		State:        app.StateFiring,
		Value:        372,
		Threshold:    300,
		Episode:      3,
		FiredAt:      testFiredAt,
		Channel:      "C1",
		QueueWaiting: floatPtr(14),
		QueueAgents:  floatPtr(3),
	}
}

func notification(kind app.NotificationKind, a app.Alert) app.Notification {
	return app.Notification{Kind: kind, Channel: a.Channel, Alert: a, At: testFiredAt.Add(4*time.Minute + 2*time.Second)}
}

// walk calls fn for every JSON object in v, depth first.
func walk(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v)
		for _, x := range v {
			walk(x, fn)
		}
	case []any:
		for _, x := range v {
			walk(x, fn)
		}
	}
}

// elementsByAction indexes the interactive elements of blocks by action_id,
// each with the block_id of the block holding it.
func elementsByAction(blocks []map[string]any) map[string]map[string]any {
	out := make(map[string]map[string]any)
	for _, b := range blocks {
		blockID, _ := b["block_id"].(string)
		walk(b, func(m map[string]any) {
			if id, ok := m["action_id"].(string); ok {
				m["_block_id"] = blockID
				out[id] = m
			}
		})
	}
	return out
}

// texts collects every "text" string in blocks, in order.
func texts(blocks []map[string]any) string {
	var sb strings.Builder
	for _, b := range blocks {
		walk(b, func(m map[string]any) {
			if s, ok := m["text"].(string); ok {
				sb.WriteString(s)
				sb.WriteByte('\n')
			}
		})
	}
	return sb.String()
}
