package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/store/redistest"
)

// Tokens, secrets, signatures and response_url never reach the logs, even
// at debug level and on failure paths (bad signatures, Slack rejecting the
// token, stale clicks answered through response_url).
func TestLogsHoldNoSecrets(t *testing.T) {
	const (
		botToken      = "xoxb-SECRET-bot-token"
		signingSecret = "SECRET-signing"
		hookToken     = "SECRET-hook-token"
		hookSecret    = "SECRET-hook-hmac"
		redisPassword = "SECRETredispw"
		responseURL   = "https://hooks.slack.com/actions/T0001/SECRET/responseurl"
	)
	slack := newFakeSlack(t)
	slack.token = botToken
	slack.setHook(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		if method == "chat.postMessage" && n == 1 { // first post: Slack rejects the token
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
			return true
		}
		return false
	})
	rs := redistest.Start(t)
	redisURL := strings.Replace(rs.URL, "unix://", "unix://:"+redisPassword+"@", 1)
	logs := &syncWriter{}
	cfg, err := loadConfig(env(map[string]string{
		"SLACK_BOT_TOKEN": botToken, "SLACK_SIGNING_SECRET": signingSecret, "SLACK_CHANNEL_ID": "C0ALERTS",
		"SLACK_API_URL": slack.URL + "/", "REDIS_URL": rs.URL, "GENESYS_WEBHOOK_TOKEN": hookToken,
		"GENESYS_WEBHOOK_SECRET": hookSecret, "LOG_LEVEL": "debug", "SLACK_POST_INTERVAL": "1ms",
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := newLogger(logs, slog.LevelDebug)
	log.Info("config", "cfg", cfg, "redis_url", Secret(redisURL))
	svc, err := build(ctx, cfg, wiring{stdout: logs, log: log})
	if err != nil {
		t.Fatal(err)
	}
	wait := svc.start(ctx)
	web := httptest.NewServer(svc.handler)
	t.Cleanup(func() { cancel(); wait(); web.Close(); svc.store.Close() })

	event := func(id string, v int) []byte {
		return fmt.Appendf(nil, `{"id":%q,"event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"q1","queue_name":"Support","metric":"wait","value":%d}}`, id, v)
	}
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write(event("e1", 400))
	goodSig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	for _, h := range []http.Header{
		{"Authorization": {"Bearer " + hookToken}},
		{"X-Genesys-Cloud-Signature": {goodSig}},
		{"X-Slabot-Token": {"wrong-" + hookToken}},
		{"X-Genesys-Cloud-Signature": {"sha256=" + strings.Repeat("ab", 32)}},
	} {
		req, _ := http.NewRequest(http.MethodPost, web.URL+"/webhook/genesys", strings.NewReader(string(event("e1", 400))))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A second breach episode gets posted (the first post hit invalid_auth).
	for i, v := range []int{10, 500} {
		req, _ := http.NewRequest(http.MethodPost, web.URL+"/webhook/genesys", strings.NewReader(string(event(fmt.Sprint("e", i+2), v))))
		req.Header.Set("Authorization", "Bearer "+hookToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	slack.waitCalls(t, "the second episode's post", func(c []slackCall) bool { return count(c, "chat.postMessage") >= 1 })

	signed := func(path string, form url.Values, secret string) {
		body := form.Encode()
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(m, "v0:%s:%s", ts, body)
		req, _ := http.NewRequest(http.MethodPost, web.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	cmd := url.Values{"command": {"/sla"}, "text": {"status"}, "user_id": {"U1"}, "channel_id": {"C0ALERTS"},
		"team_id": {"T1"}, "response_url": {responseURL}, "token": {"SECRET-legacy-verification-token"}}
	signed("/slack/commands", cmd, signingSecret)
	signed("/slack/commands", cmd, "wrong-secret")
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]any{"id": "U0LEAD001"},
		"response_url": responseURL, "token": "SECRET-legacy-verification-token",
		"actions": []any{map[string]any{"type": "button", "block_id": "alert_actions", "action_id": "alert_ack", "value": "q1//longest_wait|1"}}})
	for range 2 { // episode 1 is over: the clicks are stale and answered through response_url
		signed("/slack/interactions", url.Values{"payload": {string(payload)}}, signingSecret)
	}
	// The stale click's ephemeral reply runs in the background and fails
	// (hooks.slack.com is out of reach or refuses the made-up URL): wait
	// for its log, however long a busy machine takes.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(logs.String(), "ephemeral reply failed"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log of the ephemeral reply after 15 s:\n%s", logs.String())
		}
	}

	got := logs.String()
	if !strings.Contains(got, `"level":"DEBUG"`) {
		t.Fatal("no debug logs captured; the test proves nothing")
	}
	for _, secret := range []string{botToken, signingSecret, hookToken, hookSecret, redisPassword, goodSig,
		strings.TrimPrefix(goodSig, "sha256="), "SECRET", responseURL, "/actions/T0001/"} { // a DNS error may name the public host
		if strings.Contains(got, secret) {
			i := strings.Index(got, secret)
			t.Errorf("logs contain %q: …%s…", secret, got[max(0, i-200):min(len(got), i+100)])
		}
	}
}
