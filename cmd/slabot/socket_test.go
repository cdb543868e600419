package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/handlers/sockettest"
	"github.com/slabot/slabot/store/redistest"
)

// socketE2E is slabot in Socket Mode, built by build() from the variables
// of a trial (bot token, app token, channel; no signing secret), one or
// more replicas on one redis-server, Slack faked: the Web API by fakeSlack,
// Socket Mode by sockettest behind the same SLACK_API_URL.
type socketE2E struct {
	t        *testing.T
	slack    *fakeSlack
	sock     *sockettest.Server
	replicas []*socketReplica
	seq      int
}

type socketReplica struct {
	svc  *service
	web  *httptest.Server
	logs *syncWriter
}

func newSocketE2E(t *testing.T, replicas int) *socketE2E {
	t.Helper()
	slack := newFakeSlack(t)
	sock := sockettest.New(t, "xapp-1-test", http.HandlerFunc(slack.serve))
	rs := redistest.Start(t)
	e := &socketE2E{t: t, slack: slack, sock: sock}
	for range replicas {
		cfg, err := loadConfig(env(map[string]string{
			"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-1-test", "SLACK_CHANNEL_ID": "C0ALERTS",
			"SLACK_API_URL": sock.APIURL(), "REDIS_URL": rs.URL, "GENESYS_WEBHOOK_TOKEN": "hook-token",
			"SLACK_TEAM_ID": "T0001", "SLA_ADMINS": "U0ADMIN",
		}))
		if err != nil {
			t.Fatal(err)
		}
		logs := &syncWriter{}
		ctx, cancel := context.WithCancel(context.Background())
		svc, err := build(ctx, cfg, wiring{stdout: io.Discard, log: newLogger(logs, slog.LevelInfo)})
		if err != nil {
			t.Fatal(err)
		}
		wait := svc.start(ctx)
		r := &socketReplica{svc: svc, web: httptest.NewServer(svc.handler), logs: logs}
		t.Cleanup(func() {
			cancel()
			wait()
			r.web.Close()
			svc.store.Close()
		})
		e.replicas = append(e.replicas, r)
	}
	sock.WaitConns(t, replicas, replicas)
	// The server counts a connection before the client has read its
	// hello; a replica is connected once /readyz says so.
	for _, r := range e.replicas {
		for deadline := time.Now().Add(15 * time.Second); ; {
			code, body := get(t, r.web.URL+"/readyz")
			if code == http.StatusOK && strings.Contains(body, `"slack_socket_mode":"connected"`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz = %d %s 15 s after the connection opened\n%s", code, body, r.logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return e
}

// webhook posts a longest_wait event for queue Support.
func (e *socketE2E) webhook(value float64) {
	e.t.Helper()
	e.seq++
	body := fmt.Sprintf(`{"id":"ev-%d","event_type":"com.genesiscloud.queue.metric","data":{
		"queue_id":"2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10","queue_name":"Support","metric":"longest_wait","value":%v,"unit":"seconds"}}`,
		e.seq, value)
	req, _ := http.NewRequest(http.MethodPost, e.replicas[0].web.URL+"/webhook/genesys", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer hook-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("webhook answered %d", resp.StatusCode)
	}
}

// command is a slash_commands envelope of /sla text typed by user.
func command(envelopeID, trigger, user, text string) sockettest.Envelope {
	return sockettest.Envelope{EnvelopeID: envelopeID, Type: "slash_commands", AcceptsResponsePayload: true,
		Payload: map[string]string{
			"token": "legacy", "team_id": "T0001", "team_domain": "example", "channel_id": "C0ALERTS",
			"channel_name": "sla-alerts", "user_id": user, "user_name": "someone", "command": "/sla", "text": text,
			"api_app_id": "A0FAKE", "is_enterprise_install": "false",
			"response_url": "https://hooks.slack.com/commands/T0001/1/abc", "trigger_id": trigger,
		}}
}

// click is an interactive envelope: user presses the button actionID
// (value, in block blockID) on the message ts.
func click(envelopeID, trigger, user, actionID, blockID, value, ts string) sockettest.Envelope {
	return sockettest.Envelope{EnvelopeID: envelopeID, Type: "interactive", AcceptsResponsePayload: false,
		Payload: map[string]any{
			"type": "block_actions", "team": map[string]string{"id": "T0001", "domain": "example"},
			"user": map[string]string{"id": user, "username": "someone", "team_id": "T0001"}, "api_app_id": "A0FAKE",
			// No response_url: the ephemeral note on a click that changes
			// nothing would go to hooks.slack.com (handlers' tests cover it).
			"token": "legacy", "trigger_id": trigger,
			"container": map[string]any{"type": "message", "message_ts": ts, "channel_id": "C0ALERTS", "is_ephemeral": false},
			"channel":   map[string]string{"id": "C0ALERTS", "name": "sla-alerts"},
			"message":   map[string]any{"type": "message", "ts": ts, "text": "alert"},
			"actions": []map[string]any{{"type": "button", "action_id": actionID, "block_id": blockID, "value": value,
				"text": map[string]any{"type": "plain_text", "text": "Acknowledge"}, "action_ts": "1700000001.000100"}},
		}}
}

// answer is a command's ack payload.
func answer(t *testing.T, a sockettest.Ack) string {
	t.Helper()
	var p struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.Unmarshal(a.Payload, &p); err != nil {
		t.Fatalf("ack of %s carries %q, not a message: %v", a.EnvelopeID, a.Payload, err)
	}
	if p.ResponseType != "ephemeral" {
		t.Errorf("ack of %s: response_type %q, want ephemeral", a.EnvelopeID, p.ResponseType)
	}
	return p.Text
}

// button finds the control actionID in Block Kit JSON: its block_id and
// value.
func button(t *testing.T, blocks, actionID string) (blockID, value string) {
	t.Helper()
	var bs []struct {
		BlockID  string `json:"block_id"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(blocks), &bs); err != nil {
		t.Fatalf("blocks do not parse: %v", err)
	}
	for _, b := range bs {
		for _, el := range b.Elements {
			if el.ActionID == actionID {
				return b.BlockID, el.Value
			}
		}
	}
	t.Fatalf("no %s control in %s", actionID, blocks)
	return "", ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The trial set-up: /sla set over the socket changes the rule the next
// Genesys event is judged by, and Acknowledge clicked over the socket
// updates the alert message in place, as over HTTP.
func TestSocketModeCommandAndClick(t *testing.T) {
	e := newSocketE2E(t, 1)
	conn := e.sock.Conns()[0]
	web := e.replicas[0].web.URL

	if code, body := get(t, web+"/readyz"); code != http.StatusOK || !strings.Contains(body, `"slack_socket_mode":"connected"`) {
		t.Errorf("/readyz = %d %s, want 200 reporting socket mode connected", code, body)
	}
	resp, err := http.Post(web+"/slack/commands", "application/x-www-form-urlencoded", strings.NewReader("text=list"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "Socket Mode is on") {
		t.Errorf("POST /slack/commands = %d %s, want 404 saying Socket Mode is on", resp.StatusCode, b)
	}

	// A non-admin may not change rules, over the socket as over HTTP.
	conn.Send(command("env-0", "trig-0", "U0OTHER", "set default wait 2m"))
	if got := answer(t, e.sock.WaitAck(t, "env-0")); !strings.Contains(got, "Only SLA admins") {
		t.Errorf("non-admin set answered %q, want a refusal", got)
	}
	conn.Send(command("env-1", "trig-1", "U0ADMIN", "set default wait 2m"))
	if got := answer(t, e.sock.WaitAck(t, "env-1")); !strings.Contains(got, "Threshold set") || !strings.Contains(got, "2m") {
		t.Fatalf("/sla set answered %q, want the new threshold", got)
	}
	// 200 s breaches the 2m just set, not the built-in 300 s default.
	e.webhook(200)
	calls := e.slack.waitCalls(t, "the alert", func(c []slackCall) bool { return count(c, "chat.postMessage") == 1 })
	post := calls[0]
	blockID, value := button(t, post.Blocks, "alert_ack")

	conn.Send(click("env-2", "trig-2", "U0SUP", "alert_ack", blockID, value, post.Posted))
	if a := e.sock.WaitAck(t, "env-2"); len(a.Payload) != 0 && string(a.Payload) != "null" {
		t.Errorf("click ack carries %s, want no payload", a.Payload)
	}
	calls = e.slack.waitCalls(t, "the update", func(c []slackCall) bool { return count(c, "chat.update") == 1 })
	i := slices.IndexFunc(calls, func(c slackCall) bool { return c.Method == "chat.update" })
	if upd := calls[i]; upd.TS != post.Posted || !strings.Contains(upd.Text, "acknowledged") || !strings.Contains(upd.Blocks, `Acknowledged by \u003c@U0SUP\u003e`) {
		t.Errorf("update %+v: want the alert message %s showing who acknowledged it", upd, post.Posted)
	}

	conn.Send(command("env-3", "trig-3", "U0OTHER", "status"))
	if got := answer(t, e.sock.WaitAck(t, "env-3")); !strings.Contains(got, "Support") || !strings.Contains(strings.ToLower(got), "acknowledged") {
		t.Errorf("/sla status answered %q, want Support acknowledged", got)
	}

	// Another workspace's command is refused and changes nothing.
	other := command("env-4", "trig-4", "U0ADMIN", "unset default")
	other.Payload.(map[string]string)["team_id"] = "T0EVIL"
	conn.Send(other)
	if got := answer(t, e.sock.WaitAck(t, "env-4")); !strings.Contains(got, "another Slack workspace") {
		t.Errorf("foreign command answered %q, want a refusal", got)
	}

	_, metrics := get(t, web+"/metrics")
	checkMetrics(t, metrics, map[string]float64{
		`slabot_slack_socket_connections_total{kind="first"}`:                          1,
		`slabot_slack_socket_connections_total{kind="reconnect"}`:                      0,
		`slabot_slack_socket_connected`:                                                1,
		`slabot_slack_socket_envelopes_total{outcome="handled",type="slash_commands"}`: 4,
		`slabot_slack_socket_envelopes_total{outcome="handled",type="interactive"}`:    1,
		`slabot_slack_socket_ack_seconds_count`:                                        5,
	})
}

// setHistory counts the threshold changes recorded.
func setHistory(t *testing.T, svc *service) int {
	t.Helper()
	h, err := svc.store.History(context.Background(), "", 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range h {
		if x.Action == "set" {
			n++
		}
	}
	return n
}

// Slack delivers an envelope again when it missed the ack: the same
// envelope (retry_attempt 1), or a new envelope_id with the same payload.
// Each is acknowledged; the command acts once.
func TestSocketModeRetriedEnvelopeActsOnce(t *testing.T) {
	e := newSocketE2E(t, 1)
	conn := e.sock.Conns()[0]
	first := command("env-1", "trig-1", "U0ADMIN", "set default waiting 10")
	conn.Send(first)
	if got := answer(t, e.sock.WaitAck(t, "env-1")); !strings.Contains(got, "Threshold set") {
		t.Fatalf("/sla set answered %q", got)
	}
	again := first
	again.RetryAttempt, again.RetryReason = 1, "timeout"
	conn.Send(again)
	renewed := first
	renewed.EnvelopeID, renewed.RetryAttempt, renewed.RetryReason = "env-1b", 2, "timeout"
	conn.Send(renewed)
	acks := e.sock.WaitAcks(t, 3)
	if got := setHistory(t, e.replicas[0].svc); got != 1 {
		t.Errorf("%d threshold changes recorded, want 1", got)
	}
	byID := map[string]int{}
	for _, a := range acks {
		byID[a.EnvelopeID]++
	}
	if byID["env-1"] != 2 || byID["env-1b"] != 1 {
		t.Errorf("acks by envelope %v: want env-1 twice (it was sent twice) and env-1b once", byID)
	}
	if !strings.Contains(e.replicas[0].logs.String(), "slack socket mode envelope already handled") {
		t.Error("no log line says a redelivery was skipped")
	}
}

// Two replicas, one socket each: Slack spreads a stream over both and
// redelivers every envelope to the other replica; each acts once.
func TestSocketModeTwoReplicasActOnce(t *testing.T) {
	e := newSocketE2E(t, 2)
	conns := e.sock.Conns()
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		env := command(fmt.Sprintf("env-%d", i), fmt.Sprintf("trig-%d", i), "U0ADMIN", fmt.Sprintf("set default waiting %d", i+1))
		retry := env
		retry.EnvelopeID, retry.RetryAttempt, retry.RetryReason = env.EnvelopeID+"-retry", 1, "timeout"
		a, b := conns[i%2], conns[(i+1)%2]
		wg.Go(func() { a.Send(env) })
		wg.Go(func() { b.Send(retry) })
	}
	wg.Wait()
	acks := e.sock.WaitAcks(t, 2*n)
	if got := setHistory(t, e.replicas[0].svc); got != n {
		t.Errorf("%d threshold changes recorded for %d commands each delivered twice, want %d", got, n, n)
	}
	seen := map[string]int{}
	for _, a := range acks {
		seen[a.EnvelopeID]++
	}
	if len(seen) != 2*n {
		t.Errorf("%d distinct envelopes acknowledged, want %d", len(seen), 2*n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("envelope %s acknowledged %d times", id, k)
		}
	}
	for i, r := range e.replicas {
		if !strings.Contains(r.logs.String(), "slack socket mode connected") {
			t.Errorf("replica %d did not log its connection", i)
		}
	}
}

// Slack asks for a reconnect (refresh_requested), then the network drops
// the socket: each time slabot reconnects, logs one line, counts it, and
// handles the next envelope.
func TestSocketModeReconnects(t *testing.T) {
	e := newSocketE2E(t, 1)
	r := e.replicas[0]
	e.sock.Conns()[0].Disconnect("refresh_requested")
	conn := e.sock.WaitConns(t, 1, 2)[0]
	conn.Send(command("env-1", "trig-1", "U0OTHER", "help"))
	if got := answer(t, e.sock.WaitAck(t, "env-1")); !strings.Contains(got, "/sla") {
		t.Errorf("help after a refresh answered %q", got)
	}

	conn.Drop()
	conn = e.sock.WaitConns(t, 1, 3)[0]
	conn.Send(command("env-2", "trig-2", "U0OTHER", "list"))
	if got := answer(t, e.sock.WaitAck(t, "env-2")); !strings.Contains(got, "longest_wait") {
		t.Errorf("list after a dropped socket answered %q", got)
	}

	if got := strings.Count(r.logs.String(), "slack socket mode reconnected"); got != 2 {
		t.Errorf("%d reconnect log lines, want 2:\n%s", got, r.logs.String())
	}
	_, metrics := get(t, r.web.URL+"/metrics")
	checkMetrics(t, metrics, map[string]float64{
		`slabot_slack_socket_connections_total{kind="first"}`:     1,
		`slabot_slack_socket_connections_total{kind="reconnect"}`: 2,
		`slabot_slack_socket_connected`:                           1,
	})
}

// A burst of 200 envelopes (commands, clicks, App Home openings) is
// acknowledged, every one, within Slack's 3 s.
func TestSocketModeBurstAckedWithin3s(t *testing.T) {
	e := newSocketE2E(t, 1)
	conn := e.sock.Conns()[0]
	conn.Send(command("env-set", "trig-set", "U0ADMIN", "set default wait 2m"))
	e.sock.WaitAck(t, "env-set")
	e.webhook(200)
	post := e.slack.waitCalls(t, "the alert", func(c []slackCall) bool { return count(c, "chat.postMessage") == 1 })[0]
	blockID, value := button(t, post.Blocks, "alert_ack")

	const n = 200
	texts := []string{"status", "list", "help", "history", "snooze Support 5m", "unsnooze Support"}
	for i := range n {
		id, trig := fmt.Sprintf("burst-%d", i), fmt.Sprintf("btrig-%d", i)
		switch i % 4 {
		case 0, 1:
			conn.Send(command(id, trig, "U0OTHER", texts[i%len(texts)]))
		case 2:
			conn.Send(click(id, trig, "U0SUP", "alert_ack", blockID, value, post.Posted))
		case 3:
			conn.Send(sockettest.Envelope{EnvelopeID: id, Type: "events_api", Payload: map[string]any{
				"token": "legacy", "team_id": "T0001", "api_app_id": "A0FAKE", "type": "event_callback",
				"event_id": "Ev" + id, "event_time": 1700000000,
				"event": map[string]any{"type": "app_home_opened", "user": "U0SUP", "channel": "D0001", "tab": "home", "event_ts": "1700000000.1"},
			}})
		}
	}
	acks := e.sock.WaitAcks(t, n+1)
	var lat []time.Duration
	for _, a := range acks {
		if strings.HasPrefix(a.EnvelopeID, "burst-") {
			lat = append(lat, a.Latency)
		}
	}
	if len(lat) != n {
		t.Fatalf("%d burst envelopes acknowledged, want %d", len(lat), n)
	}
	slices.Sort(lat)
	p50, p99, worst := lat[n/2], lat[n*99/100-1], lat[n-1]
	t.Logf("ack latency over %d envelopes: p50 %v, p99 %v, max %v", n, p50, p99, worst)
	if worst > 3*time.Second {
		t.Errorf("slowest ack took %v; Slack allows 3 s", worst)
	}
	// App Home views are published after the ack, as a courtesy that a
	// burst may shed (handlers' background limit), never twice.
	time.Sleep(200 * time.Millisecond)
	views := count(e.slack.recorded(), "views.publish")
	t.Logf("%d of %d App Home openings published a view", views, n/4)
	if views == 0 || views > n/4 {
		t.Errorf("%d App Home views published for %d openings", views, n/4)
	}
}
