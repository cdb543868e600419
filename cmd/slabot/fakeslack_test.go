package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/internal/slackfake"
)

// slackCall is one Web API call the fake received and answered with ok.
type slackCall struct {
	Method, Channel, TS, ThreadTS, Text, Blocks, User, Metadata string
	// Posted is the ts the fake gave a new message (chat.postMessage).
	Posted string
}

// fakeSlack is an httptest Slack Web API that records calls. Its hook may
// answer a call itself (rate limits, errors, hangs) by returning true.
type fakeSlack struct {
	*httptest.Server
	mu    sync.Mutex
	calls []slackCall
	seq   int
	hook  func(w http.ResponseWriter, r *http.Request, method string, n int) bool
	count map[string]int
	// token is the bot token the fake accepts.
	token string
	// files fakes the three-step upload and records the shared files.
	files *slackfake.Files
}

func newFakeSlack(t *testing.T) *fakeSlack {
	t.Helper()
	f := &fakeSlack{count: make(map[string]int), token: "xoxb-test"}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	f.files = &slackfake.Files{Base: f.URL}
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSlack) setHook(h func(w http.ResponseWriter, r *http.Request, method string, n int) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = h
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if slackfake.IsUpload(r) {
		f.files.ServeUpload(w, r)
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	token := f.token
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token && r.PostForm.Get("token") != token {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	f.mu.Lock()
	f.count[method]++
	n, hook := f.count[method], f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r, method, n) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.files.ServeMethod(w, method, r.PostForm) {
		// Files are recorded by f.files, not as calls.
		return
	}
	if method == "conversations.history" || method == "conversations.replies" {
		// Reads change nothing: answered from the posts, not recorded.
		f.history(w, r.PostForm.Get("channel"), r.PostForm.Get("ts"), method == "conversations.replies")
		return
	}
	f.seq++
	ts := fmt.Sprintf("1700000000.%06d", f.seq)
	c := slackCall{Method: method, Channel: r.PostForm.Get("channel"), TS: r.PostForm.Get("ts"),
		ThreadTS: r.PostForm.Get("thread_ts"), Text: r.PostForm.Get("text"), Blocks: r.PostForm.Get("blocks"),
		User: r.PostForm.Get("user_id"), Metadata: r.PostForm.Get("metadata")}
	if method == "chat.postMessage" {
		c.Posted = ts
	}
	f.calls = append(f.calls, c)
	w.Header().Set("Content-Type", "application/json")
	switch method {
	case "chat.update":
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS})
	case "auth.test":
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "team": "Example", "user": "slabot", "team_id": "T0001", "user_id": "U0BOT"})
	case "conversations.info":
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": map[string]any{"id": c.Channel, "name": "sla-alerts", "is_member": true}})
	default:
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": c.Channel, "ts": ts})
	}
}

// history answers conversations.history (the channel's messages, newest
// first) or conversations.replies (the thread of ts), with the metadata
// each post carried. Called with f.mu held.
func (f *fakeSlack) history(w http.ResponseWriter, channel, ts string, thread bool) {
	msgs := []map[string]any{}
	for i := len(f.calls) - 1; i >= 0; i-- {
		c := f.calls[i]
		if c.Method != "chat.postMessage" || c.Channel != channel || (thread && c.ThreadTS != ts) || (!thread && c.ThreadTS != "") {
			continue
		}
		m := map[string]any{"type": "message", "text": c.Text, "ts": c.Posted}
		if json.Valid([]byte(c.Metadata)) {
			m["metadata"] = json.RawMessage(c.Metadata)
		}
		msgs = append(msgs, m)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": msgs, "has_more": false})
}

func (f *fakeSlack) recorded() []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slackCall(nil), f.calls...)
}

// waitCalls polls until pred holds for the recorded calls, or fails.
func (f *fakeSlack) waitCalls(t *testing.T, what string, pred func([]slackCall) bool) []slackCall {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if calls := f.recorded(); pred(calls) {
			return calls
		}
		time.Sleep(10 * time.Millisecond)
	}
	calls := f.recorded()
	byMethod := make(map[string]int)
	for _, c := range calls {
		byMethod[c.Method]++
	}
	t.Fatalf("timed out waiting for %s; calls by method: %v", what, byMethod)
	return nil
}

func count(calls []slackCall, method string) int {
	n := 0
	for _, c := range calls {
		if c.Method == method {
			n++
		}
	}
	return n
}
