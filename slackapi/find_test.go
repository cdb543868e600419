package slackapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
)

func findDigest() *app.Digest {
	return &app.Digest{ID: "d-42", Channel: "C1", Seq: 1, OpenedAt: testFiredAt, Size: 6, Open: 6, Reminders: 2}
}

// TestNotifySendsMetadata checks that every new message carries metadata
// naming its notification, in Slack's wire format (a metadata form field
// holding {"event_type","event_payload"}), and that updates send none.
func TestNotifySendsMetadata(t *testing.T) {
	alertID := app.AlertID("q-1", "voice", app.LongestWait)
	reminded := firingAlert()
	reminded.Reminders = 2
	tests := []struct {
		name   string
		n      app.Notification
		ts     string
		want   map[string]any // event_payload; nil: no metadata
		thread bool
	}{
		{name: "post", n: notification(app.KindPost, firingAlert()),
			want: map[string]any{"kind": "post", "alert_id": alertID, "episode": 3.0}},
		{name: "resolution reply", ts: "1700000000.000100",
			n:    app.Notification{Kind: app.KindReply, Channel: "C1", Alert: firingAlert(), Reason: "resolved", At: testFiredAt},
			want: map[string]any{"kind": "reply", "alert_id": alertID, "episode": 3.0, "reason": "resolved", "reminders": 0.0}},
		{name: "second reminder", ts: "1700000000.000100",
			n:    app.Notification{Kind: app.KindReply, Channel: "C1", Alert: reminded, Reason: "reminder", At: testFiredAt},
			want: map[string]any{"kind": "reply", "alert_id": alertID, "episode": 3.0, "reason": "reminder", "reminders": 2.0}},
		{name: "announcement",
			n:    app.Notification{Kind: app.KindAnnounce, Channel: "C1", Text: "data is stale", At: testFiredAt.Add(1500 * time.Microsecond)},
			want: map[string]any{"kind": "announce", "at": "2023-11-14T22:13:20.0015Z"}},
		{name: "digest post",
			n:    app.Notification{Kind: app.KindDigestPost, Channel: "C1", Digest: findDigest(), At: testFiredAt},
			want: map[string]any{"kind": "digest_post", "digest_id": "d-42"}},
		{name: "digest reminder", ts: "1700000000.000100",
			n:    app.Notification{Kind: app.KindDigestReply, Channel: "C1", Digest: findDigest(), Reason: "reminder", At: testFiredAt},
			want: map[string]any{"kind": "digest_reply", "digest_id": "d-42", "reason": "reminder", "reminders": 2.0}},
		{name: "update", ts: "1700000000.000100", n: notification(app.KindUpdate, firingAlert())},
		{name: "digest update", ts: "1700000000.000100",
			n: app.Notification{Kind: app.KindDigestUpdate, Channel: "C1", Digest: findDigest(), At: testFiredAt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSlack(t, "/api/")
			c := newTestClient(t, f, Options{})
			if _, err := c.Notify(t.Context(), tt.n, tt.ts); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			call := onlyCall(t, f)
			raw := call.Form.Get("metadata")
			if tt.want == nil {
				if call.Form.Has("metadata") {
					t.Errorf("%s sent metadata %s, want none (an update keeps the message's)", call.Method, raw)
				}
				return
			}
			var got struct {
				EventType    string         `json:"event_type"`
				EventPayload map[string]any `json:"event_payload"`
			}
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatalf("metadata %q is not JSON: %v", raw, err)
			}
			if got.EventType != "slabot_notification" {
				t.Errorf("event_type = %q, want slabot_notification", got.EventType)
			}
			if !reflect.DeepEqual(got.EventPayload, tt.want) {
				t.Errorf("event_payload = %v, want %v", got.EventPayload, tt.want)
			}
		})
	}
}

// historyMessage is a message as conversations.history and .replies
// return it with include_all_metadata.
func historyMessage(ts, metadata string) map[string]any {
	m := map[string]any{"type": "message", "subtype": "bot_message", "bot_id": "B0001", "text": "…", "ts": ts}
	if metadata != "" {
		m["metadata"] = json.RawMessage(metadata)
	}
	return m
}

// TestFindPostRoundTrip posts an alert, then finds it in the channel's
// history from the metadata the post sent, among other messages: its
// other episodes, another app's metadata, none at all. The history is
// paged: the post is on the second page.
func TestFindPostRoundTrip(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{})
	n := notification(app.KindPost, firingAlert())
	if _, err := c.Notify(t.Context(), n, ""); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	sent := onlyCall(t, f).Form.Get("metadata")
	other := firingAlert()
	other.Episode = 2
	otherEpisode := notification(app.KindPost, other)
	otherMeta, _ := json.Marshal(notificationMetadata(otherEpisode))

	f.respond = func(w http.ResponseWriter, call slackCall) bool {
		if call.Method != "conversations.history" {
			return false
		}
		if call.Form.Get("cursor") == "" {
			writeJSON(w, map[string]any{"ok": true, "has_more": true, "messages": []any{
				historyMessage("1700000300.000300", ""),
				historyMessage("1700000290.000200", `{"event_type":"other_app","event_payload":{"kind":"post"}}`),
			}, "response_metadata": map[string]any{"next_cursor": "page2"}})
			return true
		}
		writeJSON(w, map[string]any{"ok": true, "has_more": false, "messages": []any{
			historyMessage("1700000250.000150", string(otherMeta)),
			historyMessage("1700000242.000100", sent),
		}, "response_metadata": map[string]any{"next_cursor": ""}})
		return true
	}
	ts, err := c.Find(t.Context(), n, "")
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if ts != "1700000242.000100" {
		t.Errorf("Find = %q, want the post's ts 1700000242.000100", ts)
	}
	calls := f.Calls()[1:]
	if len(calls) != 2 {
		t.Fatalf("got %d history calls, want 2 (two pages)", len(calls))
	}
	// oldest: a minute before the notification was enqueued (1700000242).
	for field, want := range map[string]string{"channel": "C1", "include_all_metadata": "1", "limit": "200",
		"oldest": "1700000182.000000", "token": testToken} {
		if got := calls[0].Form.Get(field); got != want {
			t.Errorf("history %s = %q, want %q", field, got, want)
		}
	}
	if got := calls[1].Form.Get("cursor"); got != "page2" {
		t.Errorf("second page cursor = %q, want page2", got)
	}
}

// TestFindReply finds a resolution reply in its thread by its metadata,
// past the parent message and a reminder of the same episode.
func TestFindReply(t *testing.T) {
	f := newFakeSlack(t, "/api/")
	c := newTestClient(t, f, Options{})
	a := firingAlert()
	post := notification(app.KindPost, a)
	a.Reminders = 1
	reminder := app.Notification{Kind: app.KindReply, Channel: "C1", Alert: a, Reason: "reminder", At: testFiredAt}
	resolved := app.Notification{Kind: app.KindReply, Channel: "C1", Alert: a, Reason: "resolved", At: testFiredAt}
	meta := func(n app.Notification) string {
		raw, err := json.Marshal(notificationMetadata(n))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	f.respond = func(w http.ResponseWriter, call slackCall) bool {
		if call.Method != "conversations.replies" {
			return false
		}
		writeJSON(w, map[string]any{"ok": true, "has_more": false, "messages": []any{
			historyMessage("1700000100.000100", meta(post)),
			historyMessage("1700000200.000200", meta(reminder)),
			historyMessage("1700000300.000300", meta(resolved)),
		}})
		return true
	}
	ts, err := c.Find(t.Context(), resolved, "1700000100.000100")
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if ts != "1700000300.000300" {
		t.Errorf("Find = %q, want the resolution's ts 1700000300.000300", ts)
	}
	call := onlyCall(t, f)
	for field, want := range map[string]string{"channel": "C1", "ts": "1700000100.000100", "include_all_metadata": "1"} {
		if got := call.Form.Get(field); got != want {
			t.Errorf("replies %s = %q, want %q", field, got, want)
		}
	}

	// The second reminder was never posted: nothing to find.
	a.Reminders = 2
	ts, err = c.Find(t.Context(), app.Notification{Kind: app.KindReply, Channel: "C1", Alert: a, Reason: "reminder",
		At: testFiredAt}, "1700000100.000100")
	if err != nil || ts != "" {
		t.Errorf("Find of a reply never posted = %q, %v; want none", ts, err)
	}
}

// TestFindFailures checks that a failed lookup is a classified
// *dispatch.DeliveryError naming the method and, for a missing scope, the fix.
func TestFindFailures(t *testing.T) {
	tests := []struct {
		name      string
		kind      app.NotificationKind
		body      string
		status    int
		wantRetry bool
		wantFix   string
		wantIn    string
	}{
		{name: "history without its scope", kind: app.KindPost, status: 200,
			body:    `{"ok":false,"error":"missing_scope","needed":"channels:history","provided":"chat:write"}`,
			wantFix: "channels:history", wantIn: "conversations.history"},
		{name: "replies without its scope", kind: app.KindReply, status: 200,
			body:    `{"ok":false,"error":"missing_scope","needed":"groups:history","provided":"chat:write"}`,
			wantFix: "groups:history", wantIn: "conversations.replies"},
		{name: "rate limited", kind: app.KindPost, status: 200, body: `{"ok":false,"error":"ratelimited"}`,
			wantRetry: true, wantIn: "conversations.history"},
		{name: "server error", kind: app.KindReply, status: 503, wantRetry: true, wantIn: "conversations.replies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSlack(t, "/api/")
			f.respond = func(w http.ResponseWriter, _ slackCall) bool {
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
				return true
			}
			c := newTestClient(t, f, Options{})
			n := notification(tt.kind, firingAlert())
			n.Reason = "resolved"
			_, err := c.Find(t.Context(), n, "1700000100.000100")
			var de *dispatch.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("error = %v (%T), want *dispatch.DeliveryError", err, err)
			}
			if de.Retry != tt.wantRetry {
				t.Errorf("Retry = %v, want %v (err %v)", de.Retry, tt.wantRetry, err)
			}
			if !strings.Contains(de.Fix, tt.wantFix) {
				t.Errorf("Fix = %q, want it to mention %q", de.Fix, tt.wantFix)
			}
			if !strings.Contains(err.Error(), tt.wantIn) || strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q: want it to name %s and not the token", err, tt.wantIn)
			}
		})
	}
}

// TestNotifyTimeoutIsUnsure checks that a post whose answer never comes is
// retryable and unsure: Slack may have posted it.
func TestNotifyTimeoutIsUnsure(t *testing.T) {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm() // read the request, never answer
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // runs first
	c := New(testToken, Options{APIURL: srv.URL + "/api/"})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Notify(ctx, notification(app.KindPost, firingAlert()), "")
	var de *dispatch.DeliveryError
	if !errors.As(err, &de) {
		t.Fatalf("error = %v, want *dispatch.DeliveryError", err)
	}
	if !de.Retry || !de.Unsure {
		t.Errorf("Retry, Unsure = %v, %v for %v; want both", de.Retry, de.Unsure, err)
	}
}
