package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// homeOpened is an app_home_opened event_callback as Slack sends it.
func homeOpened(eventID, user string) []byte {
	return eventCallback(eventID, map[string]any{"type": "app_home_opened", "user": user, "channel": "D0HOME0001",
		"tab": "home", "event_ts": "1700000000.000300",
		"view": map[string]any{"id": "V0HOME001", "team_id": slackTestTeam, "type": "home", "blocks": []any{}}})
}

func eventCallback(eventID string, event map[string]any) []byte {
	raw, _ := json.Marshal(map[string]any{
		"token": "legacy-verification-token", "team_id": slackTestTeam, "api_app_id": "A0SLABOT1",
		"event": event, "type": "event_callback", "event_id": eventID, "event_time": 1700000000,
		"authorizations": []any{map[string]any{"enterprise_id": nil, "team_id": slackTestTeam, "user_id": "U0BOT0001",
			"is_bot": true, "is_enterprise_install": false}},
		"is_ext_shared_channel": false, "event_context": "4-abc",
	})
	return raw
}

func TestEventsURLVerification(t *testing.T) {
	h, _ := memServer(t, newMemStore(), nil)
	body := []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	w := serve(h, signedRequest(PathSlackEvents, "application/json", body))
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d: %s", w.Code, w.Body)
	}
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got["challenge"] != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("answer = %s, want the challenge echoed", w.Body)
	}

	r := signedRequest(PathSlackEvents, "application/json", body)
	r.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("0", 64))
	if w := serve(h, r); w.Code != http.StatusUnauthorized {
		t.Errorf("forged url_verification: status = %d, want 401", w.Code)
	}
	if w := serve(h, signedRequest(PathSlackEvents, "application/json", []byte("{nope"))); w.Code != http.StatusBadRequest {
		t.Errorf("malformed event: status = %d, want 400", w.Code)
	}
}

// TestAppHomeOpened: the App Home is published once per event, for the
// user who opened it, with the open alert; a retried event (same
// event_id) is not published again.
func TestAppHomeOpened(t *testing.T) {
	e := newSlackE2E(t, nil)
	e.observe(t, supportQueue, "voice", app.LongestWait, 400)
	e.slack.waitFor(t, "chat.postMessage", 1)

	w := serve(e.h, signedRequest(PathSlackEvents, "application/json", homeOpened("Ev0HOME001", "U0LEAD001")))
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d: %s", w.Code, w.Body)
	}
	e.bg.wait()
	pubs := e.slack.of("views.publish")
	if len(pubs) != 1 {
		t.Fatalf("got %d views.publish calls, want 1", len(pubs))
	}
	if got := pubs[0].JSON["user_id"]; got != "U0LEAD001" {
		t.Errorf("published for %v, want U0LEAD001", got)
	}
	view, _ := pubs[0].JSON["view"].(map[string]any)
	if view["type"] != "home" {
		t.Errorf("view type = %v, want home", view["type"])
	}
	ctl := buttons(toBlocks(t, view["blocks"]))
	a, _ := e.openAlert(t, app.AlertID(supportQueue, "voice", app.LongestWait))
	if got := pubs[0].text(); !strings.Contains(got, "*Support (voice)*") || !strings.Contains(got, "6m 40s") {
		t.Errorf("home lacks the open alert:\n%s", got)
	}
	if got, _ := ctl["alert_ack"]["value"].(string); got != a.ID+"|1" {
		t.Errorf("home Ack button value = %q, want %q", got, a.ID+"|1")
	}

	retry := signedRequest(PathSlackEvents, "application/json", homeOpened("Ev0HOME001", "U0LEAD001"))
	retry.Header.Set("X-Slack-Retry-Num", "1")
	retry.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	if w := serve(e.h, retry); w.Code != http.StatusOK {
		t.Fatalf("retry: status = %d", w.Code)
	}
	e.bg.wait()
	if n := len(e.slack.of("views.publish")); n != 1 {
		t.Errorf("after a retry: %d views.publish calls, want still 1", n)
	}

	serve(e.h, signedRequest(PathSlackEvents, "application/json", homeOpened("Ev0HOME002", "U0LEAD002")))
	e.bg.wait()
	if pubs := e.slack.of("views.publish"); len(pubs) != 2 || pubs[1].JSON["user_id"] != "U0LEAD002" {
		t.Errorf("a new opening by another user: publishes = %d", len(pubs))
	}
}

func TestEventsIgnored(t *testing.T) {
	m := newMemStore()
	home := &homeRecorder{}
	h, bg := memServer(t, m, func(d *Deps) { d.Home = home })
	for name, body := range map[string][]byte{
		"messages tab":    eventCallback("Ev1", map[string]any{"type": "app_home_opened", "user": "U0LEAD001", "tab": "messages"}),
		"other event":     eventCallback("Ev2", map[string]any{"type": "app_mention", "user": "U0LEAD001", "text": "hi"}),
		"forged user":     homeOpened("Ev3", "<!channel>"),
		"rate limited":    []byte(`{"token":"x","type":"app_rate_limited","team_id":"T0TEAM001","minute_rate_limited":1518467820,"api_app_id":"A0SLABOT1"}`),
		"no event at all": []byte(`{"type":"event_callback","team_id":"T0TEAM001"}`),
	} {
		if w := serve(h, signedRequest(PathSlackEvents, "application/json", body)); w.Code != http.StatusOK {
			t.Errorf("%s: status = %d, want 200", name, w.Code)
		}
	}
	bg.wait()
	if len(home.homes) != 0 {
		t.Errorf("published homes for %v", home.homes)
	}
}

func TestEventsStoreDown(t *testing.T) {
	m := newMemStore()
	home := &homeRecorder{}
	h, bg := memServer(t, m, func(d *Deps) { d.Home = home; d.Once = failingOnce{} })
	w := serve(h, signedRequest(PathSlackEvents, "application/json", homeOpened("Ev9", "U0LEAD001")))
	bg.wait()
	if w.Code != http.StatusServiceUnavailable || len(home.published("U0LEAD001")) != 0 {
		t.Errorf("status = %d, published %d; want 503 and nothing, so Slack retries", w.Code, len(home.published("U0LEAD001")))
	}
}

type failingOnce struct{}

func (failingOnce) MarkOnce(context.Context, string, time.Duration) (bool, error) {
	return false, app.ErrUnavailable
}

func toBlocks(t *testing.T, v any) []map[string]any {
	t.Helper()
	raw, _ := json.Marshal(v)
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	return out
}
