package slackapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
)

func newTestClient(t *testing.T, f *fakeSlack, opts Options) *Client {
	t.Helper()
	opts.APIURL = f.URL() // no trailing slash: New must add it
	return New(testToken, opts)
}

func onlyCall(t *testing.T, f *fakeSlack) slackCall {
	t.Helper()
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatalf("got %d Slack calls, want 1: %+v", len(calls), calls)
	}
	return calls[0]
}

func TestNotifyPost(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{AppsURL: testAppsURL})
	a := firingAlert()
	a.QueueName = "<!channel> & <@U123>"

	ts, err := c.Notify(t.Context(), notification(app.KindPost, a), "")
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if ts != "1700000000.000100" {
		t.Errorf("ts = %q, want the ts Slack returned", ts)
	}
	call := onlyCall(t, f)
	if call.Method != "chat.postMessage" {
		t.Errorf("method = %q, want chat.postMessage", call.Method)
	}
	for field, want := range map[string]string{"token": testToken, "channel": "C1", "thread_ts": ""} {
		if got := call.Form.Get(field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if got, want := call.Form.Get("text"), "SLA breach: &lt;!channel&gt; &amp; &lt;@U123&gt; — Longest wait 6m 12s (threshold 5m)"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	blocks := call.Blocks(t)
	els := elementsByAction(blocks)
	for _, id := range []string{ActionAck, ActionSnooze, ActionResolve} {
		if els[id] == nil {
			t.Errorf("posted blocks lack %s", id)
		}
	}
	if got := els[ActionAck]["value"]; got != AlertValue(a) {
		t.Errorf("ack value = %v, want %q", got, AlertValue(a))
	}
	all := texts(blocks)
	if !strings.Contains(all, "&lt;!channel&gt; &amp; &lt;@U123&gt;") || strings.Contains(all, "<!channel>") {
		t.Errorf("queue name not escaped in blocks:\n%s", all)
	}
	if !strings.Contains(all, "Breach started <!date^1700000000^") {
		t.Errorf("blocks not rendered at the notification's time:\n%s", all)
	}
}

func TestNotifyUpdate(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{})
	a := firingAlert()
	a.State, a.AckedBy, a.AckedAt = app.StateAcknowledged, "U123", testFiredAt.Add(time.Minute)

	ts, err := c.Notify(t.Context(), notification(app.KindUpdate, a), "1700000000.000100")
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if ts != "1700000000.000100" {
		t.Errorf("ts = %q, want the updated message's ts", ts)
	}
	call := onlyCall(t, f)
	if call.Method != "chat.update" {
		t.Errorf("method = %q, want chat.update", call.Method)
	}
	if got := call.Form.Get("ts"); got != "1700000000.000100" {
		t.Errorf("ts field = %q, want 1700000000.000100", got)
	}
	if got := call.Form.Get("channel"); got != "C1" {
		t.Errorf("channel = %q, want C1", got)
	}
	blocks := call.Blocks(t)
	if !strings.Contains(texts(blocks), "Acknowledged by <@U123>") {
		t.Errorf("update does not show the acknowledgement:\n%s", texts(blocks))
	}
	if els := elementsByAction(blocks); els[ActionAck] != nil {
		t.Error("acknowledged message still has the Acknowledge button")
	}
}

func TestNotifyReply(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{Mention: "<!here>"})
	n := notification(app.KindReply, firingAlert())
	n.Reason = "reminder"
	n.At = testFiredAt.Add(15 * time.Minute)

	ts, err := c.Notify(t.Context(), n, "1699999999.000100")
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if ts != "1700000000.000100" {
		t.Errorf("ts = %q, want the reply's ts from Slack", ts)
	}
	call := onlyCall(t, f)
	if call.Method != "chat.postMessage" {
		t.Errorf("method = %q, want chat.postMessage", call.Method)
	}
	if got := call.Form.Get("thread_ts"); got != "1699999999.000100" {
		t.Errorf("thread_ts = %q, want the alert message's ts", got)
	}
	text := call.Form.Get("text")
	if !strings.HasPrefix(text, "<!here> :alarm_clock: Still breaching after 15m and not acknowledged.") {
		t.Errorf("text = %q, want a reminder with the mention", text)
	}
	if call.Form.Has("blocks") {
		t.Errorf("reply sent blocks %q, want text only", call.Form.Get("blocks"))
	}
}

func TestNotifyRejectsBadNotifications(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{})
	noChannel := notification(app.KindPost, firingAlert())
	noChannel.Channel = ""
	tests := []struct {
		name    string
		n       app.Notification
		ts      string
		wantFix bool
	}{
		{"no channel", noChannel, "", true},
		{"update without ts", notification(app.KindUpdate, firingAlert()), "", false},
		{"reply without ts", notification(app.KindReply, firingAlert()), "", false},
		{"unknown kind", notification("delete", firingAlert()), "1.2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Notify(t.Context(), tt.n, tt.ts)
			var de *dispatch.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("error = %v, want *dispatch.DeliveryError", err)
			}
			if de.Retry {
				t.Error("Retry = true, want a permanent error")
			}
			if got := de.Fix != ""; got != tt.wantFix {
				t.Errorf("Fix = %q, want present %v", de.Fix, tt.wantFix)
			}
		})
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("made %d Slack calls for invalid notifications, want 0", n)
	}
}

func TestNotifyClassifiesFailures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		wantRetry bool
		// wantUnsure: the post may have happened although the call failed.
		wantUnsure bool
		wantAfter  time.Duration
		wantFix    string // substring; "" means no Fix expected
	}{
		{name: "429 with Retry-After", status: 429, header: map[string]string{"Retry-After": "7"},
			body: `{"ok":false,"error":"ratelimited"}`, wantRetry: true, wantAfter: 7 * time.Second},
		{name: "429 without Retry-After", status: 429, body: `{"ok":false,"error":"ratelimited"}`, wantRetry: true},
		{name: "429 with a date Retry-After", status: 429, header: map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, wantRetry: true},
		{name: "500", status: 500, body: "<html>oops</html>", wantRetry: true},
		{name: "503", status: 503, wantRetry: true},
		{name: "408", status: 408, wantRetry: true},
		{name: "404", status: 404, wantFix: "SLACK_API_URL"},
		{name: "403", status: 403, wantFix: "SLACK_API_URL"},
		{name: "channel_not_found", status: 200, body: `{"ok":false,"error":"channel_not_found"}`, wantFix: "SLACK_CHANNEL_ID"},
		{name: "not_in_channel", status: 200, body: `{"ok":false,"error":"not_in_channel"}`, wantFix: "/invite @slabot"},
		{name: "invalid_auth", status: 200, body: `{"ok":false,"error":"invalid_auth"}`, wantFix: "SLACK_BOT_TOKEN"},
		{name: "token_revoked", status: 200, body: `{"ok":false,"error":"token_revoked"}`, wantFix: "reinstall"},
		{name: "is_archived", status: 200, body: `{"ok":false,"error":"is_archived"}`, wantFix: "archived"},
		{name: "missing_scope names the scope", status: 200,
			body: `{"ok":false,"error":"missing_scope","needed":"chat:write","provided":"commands"}`, wantFix: "chat:write"},
		{name: "unknown code", status: 200, body: `{"ok":false,"error":"invalid_arguments"}`, wantFix: "api.slack.com/methods/chat.postMessage"},
		{name: "ok false ratelimited", status: 200, body: `{"ok":false,"error":"ratelimited"}`, wantRetry: true},
		{name: "internal_error", status: 200, body: `{"ok":false,"error":"internal_error"}`, wantRetry: true},
		{name: "service_unavailable", status: 200, body: `{"ok":false,"error":"service_unavailable"}`, wantRetry: true},
		{name: "garbled body", status: 200, body: `<html>`, wantRetry: true, wantUnsure: true},
		{name: "ok without ts", status: 200, body: `{"ok":true,"channel":"C1"}`, wantRetry: true, wantUnsure: true},
		{name: "token echoed back", status: 200, body: `{"ok":false,"error":"bad token ` + testToken + `"}`, wantFix: "api.slack.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSlack(t, "/api/")
			f.respond = func(w http.ResponseWriter, _ slackCall) bool {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
				return true
			}
			c := newTestClient(t, f, Options{})

			_, err := c.Notify(t.Context(), notification(app.KindPost, firingAlert()), "")
			var de *dispatch.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("error = %v (%T), want *dispatch.DeliveryError", err, err)
			}
			if de.Retry != tt.wantRetry {
				t.Errorf("Retry = %v, want %v (err %v)", de.Retry, tt.wantRetry, err)
			}
			if de.Unsure != tt.wantUnsure {
				t.Errorf("Unsure = %v, want %v (err %v)", de.Unsure, tt.wantUnsure, err)
			}
			if de.After != tt.wantAfter {
				t.Errorf("After = %v, want %v", de.After, tt.wantAfter)
			}
			switch {
			case tt.wantFix == "" && de.Fix != "":
				t.Errorf("Fix = %q, want none", de.Fix)
			case !strings.Contains(de.Fix, tt.wantFix):
				t.Errorf("Fix = %q, want it to mention %q", de.Fix, tt.wantFix)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(de.Fix, testToken) {
				t.Errorf("error %q leaks the token", err)
			}
			if !strings.HasPrefix(err.Error(), "slack chat.postMessage: ") {
				t.Errorf("error %q does not name the method", err)
			}
		})
	}
}

func TestNotifyNetworkErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1) + "/api/"
	srv.Close() // nothing listens any more

	c := New(testToken, Options{APIURL: base})
	_, err := c.Notify(t.Context(), notification(app.KindPost, firingAlert()), "")
	var de *dispatch.DeliveryError
	if !errors.As(err, &de) {
		t.Fatalf("error = %v, want *dispatch.DeliveryError", err)
	}
	if !de.Retry {
		t.Errorf("Retry = false for %v, want a retry", err)
	}
	if de.Unsure {
		t.Errorf("Unsure = true for %v: no connection was made, so nothing was posted", err)
	}
	for _, secret := range []string{testToken, "hunter2", "/api/chat.postMessage"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains %q", err, secret)
		}
	}
}

func TestNotifyContextCanceledRetries(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.Notify(ctx, notification(app.KindPost, firingAlert()), "")
	var de *dispatch.DeliveryError
	if !errors.As(err, &de) || !de.Retry {
		t.Fatalf("error = %v, want a retryable *dispatch.DeliveryError", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
}

func TestNewAPIURL(t *testing.T) {
	for _, base := range []string{"/api", "/api/"} {
		t.Run(base, func(t *testing.T) {
			f := newFakeSlack(t, "/api/")
			c := New(testToken, Options{APIURL: f.srv.URL + base})
			if _, err := c.Notify(t.Context(), notification(app.KindPost, firingAlert()), ""); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			if got := onlyCall(t, f).Method; got != "chat.postMessage" {
				t.Errorf("method = %q, want chat.postMessage", got)
			}
		})
	}
}

func TestAuthTest(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	team, user, err := newTestClient(t, f, Options{}).AuthTest(t.Context())
	if err != nil {
		t.Fatalf("AuthTest: %v", err)
	}
	if team != "Example Inc" || user != "slabot" {
		t.Errorf("AuthTest = (%q, %q), want (Example Inc, slabot)", team, user)
	}

	_, _, err = New("xoxb-wrong", Options{APIURL: f.URL()}).AuthTest(t.Context())
	var de *dispatch.DeliveryError
	if !errors.As(err, &de) || de.Retry || !strings.Contains(de.Fix, "SLACK_BOT_TOKEN") {
		t.Errorf("AuthTest with a bad token: error = %v, want a permanent error with a token fix", err)
	}
	if err != nil && strings.Contains(err.Error(), "xoxb-wrong") {
		t.Errorf("error %q leaks the token", err)
	}
}

// TestCheckChannel: the channel is checked with conversations.history
// (limit 1), whose scopes the manifest has; not being in it, or a wrong
// ID, is a permanent error with a fix.
func TestCheckChannel(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	f.respond = func(w http.ResponseWriter, c slackCall) bool {
		if c.Method != "conversations.history" {
			return false
		}
		switch c.Form.Get("channel") {
		case "C1":
			writeJSON(w, map[string]any{"ok": true, "messages": []any{}, "has_more": false})
		case "C2":
			writeJSON(w, map[string]any{"ok": false, "error": "not_in_channel"})
		default:
			writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		}
		return true
	}
	c := newTestClient(t, f, Options{})

	if err := c.CheckChannel(t.Context(), "C1"); err != nil {
		t.Fatalf("CheckChannel: %v", err)
	}
	call := f.Calls()[0]
	if call.Method != "conversations.history" || call.Form.Get("channel") != "C1" || call.Form.Get("limit") != "1" {
		t.Errorf("called %s with %v, want conversations.history of C1, limit 1", call.Method, call.Form)
	}
	err := c.CheckChannel(t.Context(), "C2")
	var de *dispatch.DeliveryError
	if !errors.Is(err, ErrNotInChannel) || !errors.As(err, &de) || de.Retry {
		t.Errorf("CheckChannel(C2) = %v, want a permanent ErrNotInChannel", err)
	}
	for _, id := range []string{"C404", ""} {
		err = c.CheckChannel(t.Context(), id)
		if !errors.As(err, &de) || de.Retry || de.Fix == "" || errors.Is(err, ErrNotInChannel) {
			t.Errorf("CheckChannel(%q): error = %v, want a permanent error with a fix", id, err)
		}
	}
}
