package rig

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Call is one Slack Web API call the fake accepted (answered ok, or took
// effect before its answer was lost).
type Call struct {
	Method   string
	Channel  string
	TS       string // the new message's ts (post), or the ts updated
	ThreadTS string // set on thread replies
	Text     string
	Blocks   string // the blocks JSON as sent
	Metadata string // the metadata JSON as sent
	At       time.Time
}

var blockIDRe = regexp.MustCompile(`"block_id":"([^"|]+)\|(\d+)(?:#[^"]*)?"`)

// AlertEpisode returns the alert and episode an alert message names in its
// block_id ("<alert id>|<episode>", slackapi.AlertValue, then the
// "#<revision>" each rendering adds); ok is false for
// calls that name none (replies, resolved messages).
func (c Call) AlertEpisode() (alertID string, episode int, ok bool) {
	m := blockIDRe.FindStringSubmatch(c.Blocks)
	if m == nil {
		return "", 0, false
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return "", 0, false
	}
	return m[1], n, true
}

// Fault is how the fake answers one call instead of accepting it.
type Fault struct {
	// Status, when non-zero, is the HTTP status to answer (429, 500, 503).
	Status int
	// RetryAfter goes in the Retry-After header of a 429.
	RetryAfter time.Duration
	// SlackError answers HTTP 200 with {"ok":false,"error":SlackError}.
	SlackError string
	// Hang never answers: the client times out.
	Hang bool
	// Posted, with Hang, makes the call take effect before the answer is
	// lost, as when Slack posts a message and the connection then drops.
	Posted bool
	// After, when set, runs once the call was recorded (with Posted) or
	// refused, before the fake answers or hangs.
	After func(Call)
}

// FaultFunc picks the answer to a call, the n-th (from 1) of its method;
// the zero Fault accepts it.
type FaultFunc func(c Call, n int) Fault

// FakeSlack is a recording fake of the Slack Web API methods slabot calls:
// form-encoded requests with the bot token, answered with JSON shaped like
// Slack's. It keeps each channel's top-level messages, with their metadata,
// for conversations.history.
type FakeSlack struct {
	// URL is the API base for SLACK_API_URL, with its trailing slash.
	URL   string
	token string
	srv   *http.Server
	done  chan struct{}

	mu       sync.Mutex
	calls    []Call
	counts   map[string]int
	fault    FaultFunc
	seq      int64
	messages map[string][]*Call // channel → top-level messages, oldest first
	replies  map[string][]*Call // channel/thread ts → replies, oldest first
	byTS     map[string]*Call
	onCall   func(Call)
}

// NewFakeSlack serves the fake on 127.0.0.1, accepting only token.
func NewFakeSlack(token string) (*FakeSlack, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake slack: %w", err)
	}
	f := &FakeSlack{URL: "http://" + ln.Addr().String() + "/api/", token: token, done: make(chan struct{}),
		counts: make(map[string]int), messages: make(map[string][]*Call), replies: make(map[string][]*Call),
		byTS: make(map[string]*Call)}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// Close stops the fake; hanging calls are released.
func (f *FakeSlack) Close() {
	close(f.done)
	_ = f.srv.Close()
}

// SetFault sets how calls are answered from now on; nil accepts all.
func (f *FakeSlack) SetFault(fn FaultFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fn
}

// OnCall sets a function told of every accepted call, outside the lock.
func (f *FakeSlack) OnCall(fn func(Call)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onCall = fn
}

// Calls returns the accepted calls, in order of arrival.
func (f *FakeSlack) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Count returns how many calls of method arrived, accepted or not.
func (f *FakeSlack) Count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[method]
}

func (f *FakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token && r.PostForm.Get("token") != f.token {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	c := Call{Method: method, Channel: r.Form.Get("channel"), TS: r.Form.Get("ts"), ThreadTS: r.Form.Get("thread_ts"),
		Text: r.Form.Get("text"), Blocks: r.Form.Get("blocks"), Metadata: r.Form.Get("metadata"), At: at}

	f.mu.Lock()
	f.counts[method]++
	var fault Fault
	if f.fault != nil {
		fault = f.fault(c, f.counts[method])
	}
	f.mu.Unlock()

	switch {
	case fault.Status != 0:
		runAfter(fault, c)
		if fault.Status == http.StatusTooManyRequests {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Retry-After", strconv.Itoa(max(int(fault.RetryAfter/time.Second), 1)))
			w.WriteHeader(fault.Status)
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "ratelimited"})
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(fault.Status)
		fmt.Fprintf(w, "<html><body>%d %s</body></html>", fault.Status, http.StatusText(fault.Status))
		return
	case fault.SlackError != "":
		runAfter(fault, c)
		writeJSON(w, map[string]any{"ok": false, "error": fault.SlackError})
		return
	case fault.Hang && !fault.Posted:
		runAfter(fault, c)
		f.hang(r)
		return
	}

	answer := f.accept(&c, r)
	if fault.Hang {
		runAfter(fault, c)
		f.hang(r)
		return
	}
	writeJSON(w, answer)
}

func runAfter(fault Fault, c Call) {
	if fault.After != nil {
		fault.After(c)
	}
}

// hang holds a call until its client gives up or the fake closes.
func (f *FakeSlack) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.done:
	}
}

// accept applies and records a call and returns Slack's answer to it.
func (f *FakeSlack) accept(c *Call, r *http.Request) map[string]any {
	f.mu.Lock()
	var answer map[string]any
	recorded := true
	switch c.Method {
	case "chat.postMessage":
		if c.Channel == "" {
			answer, recorded = map[string]any{"ok": false, "error": "channel_not_found"}, false
			break
		}
		f.seq++
		// Slack's ts is the post time in seconds, made unique per channel.
		c.TS = fmt.Sprintf("%d.%06d", c.At.Unix(), f.seq%1_000_000)
		msg := map[string]any{"type": "message", "subtype": "bot_message", "text": c.Text, "user": "U0SLABOT",
			"bot_id": "B0SLABOT", "ts": c.TS}
		if c.ThreadTS != "" {
			msg["thread_ts"] = c.ThreadTS
			stored := *c
			f.replies[c.Channel+"/"+c.ThreadTS] = append(f.replies[c.Channel+"/"+c.ThreadTS], &stored)
		} else {
			stored := *c
			f.messages[c.Channel] = append(f.messages[c.Channel], &stored)
			f.byTS[c.Channel+"/"+c.TS] = &stored
		}
		answer = map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS, "message": msg}
	case "chat.update":
		m, ok := f.byTS[c.Channel+"/"+c.TS]
		if !ok {
			answer, recorded = map[string]any{"ok": false, "error": "message_not_found"}, false
			break
		}
		m.Text, m.Blocks = c.Text, c.Blocks
		if c.Metadata != "" {
			m.Metadata = c.Metadata
		}
		answer = map[string]any{"ok": true, "channel": c.Channel, "ts": c.TS, "text": c.Text,
			"message": map[string]any{"type": "message", "text": c.Text, "user": "U0SLABOT", "bot_id": "B0SLABOT"}}
	case "conversations.history":
		answer, recorded = f.history(c.Channel, r), false
	case "conversations.replies":
		answer, recorded = f.thread(c.Channel, c.TS, r), false
	case "auth.test":
		answer, recorded = map[string]any{"ok": true, "url": "https://example.slack.com/", "team": "Example",
			"user": "slabot", "team_id": "T0EXAMPLE", "user_id": "U0SLABOT", "bot_id": "B0SLABOT"}, false
	case "conversations.info":
		answer, recorded = map[string]any{"ok": true, "channel": map[string]any{"id": c.Channel,
			"name": "sla-alerts", "is_channel": true, "is_member": true}}, false
	case "files.getUploadURLExternal", "files.completeUploadExternal":
		// The rig's app was installed without files:write: slabot skips
		// the charts (logged once), as a workspace without it would.
		answer, recorded = map[string]any{"ok": false, "error": "missing_scope", "needed": "files:write",
			"provided": "commands,chat:write"}, false
	default:
		answer, recorded = map[string]any{"ok": false, "error": "unknown_method"}, false
	}
	if recorded {
		f.calls = append(f.calls, *c)
	}
	onCall := f.onCall
	f.mu.Unlock()
	if recorded && onCall != nil {
		onCall(*c)
	}
	return answer
}

// history answers conversations.history: the channel's top-level
// messages, newest first, within oldest/latest, with their metadata when
// include_all_metadata is set. Called with f.mu held.
func (f *FakeSlack) history(channel string, r *http.Request) map[string]any {
	msgs, ok := f.messages[channel]
	if !ok {
		return map[string]any{"ok": false, "error": "channel_not_found"}
	}
	limit, err := strconv.Atoi(r.Form.Get("limit"))
	if err != nil || limit <= 0 || limit > 1000 {
		limit = 100
	}
	oldest, _ := strconv.ParseFloat(r.Form.Get("oldest"), 64)
	latest, err := strconv.ParseFloat(r.Form.Get("latest"), 64)
	if err != nil || latest == 0 {
		latest = 1e18
	}
	withMeta := r.Form.Get("include_all_metadata") == "true" || r.Form.Get("include_all_metadata") == "1"
	out := []map[string]any{}
	for i := len(msgs) - 1; i >= 0 && len(out) < limit; i-- {
		m := msgs[i]
		ts, _ := strconv.ParseFloat(m.TS, 64)
		if ts < oldest || ts > latest {
			continue
		}
		out = append(out, message(m, withMeta))
	}
	return map[string]any{"ok": true, "messages": out, "has_more": false, "pin_count": 0,
		"response_metadata": map[string]any{"next_cursor": ""}}
}

// thread answers conversations.replies: the parent message then its
// replies, oldest first. Called with f.mu held.
func (f *FakeSlack) thread(channel, ts string, r *http.Request) map[string]any {
	parent, ok := f.byTS[channel+"/"+ts]
	if !ok {
		return map[string]any{"ok": false, "error": "thread_not_found"}
	}
	withMeta := r.Form.Get("include_all_metadata") == "true" || r.Form.Get("include_all_metadata") == "1"
	out := []map[string]any{message(parent, withMeta)}
	for _, m := range f.replies[channel+"/"+ts] {
		out = append(out, message(m, withMeta))
	}
	return map[string]any{"ok": true, "messages": out, "has_more": false,
		"response_metadata": map[string]any{"next_cursor": ""}}
}

// message renders a stored message as Slack's history methods do.
func message(m *Call, withMeta bool) map[string]any {
	msg := map[string]any{"type": "message", "subtype": "bot_message", "text": m.Text, "user": "U0SLABOT",
		"bot_id": "B0SLABOT", "ts": m.TS}
	if m.ThreadTS != "" {
		msg["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != "" && json.Valid([]byte(m.Blocks)) {
		msg["blocks"] = json.RawMessage(m.Blocks)
	}
	if withMeta && m.Metadata != "" && json.Valid([]byte(m.Metadata)) {
		msg["metadata"] = json.RawMessage(m.Metadata)
	}
	return msg
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}
