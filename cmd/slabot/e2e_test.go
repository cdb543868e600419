package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/internal/slackfake"
	"github.com/slabot/slabot/slackapi"
	"github.com/slabot/slabot/store/redistest"
)

// e2e is slabot wired by build() in production mode on a private
// redis-server, with Slack faked.
type e2e struct {
	t     *testing.T
	slack *fakeSlack
	svc   *service
	web   *httptest.Server
	redis *redistest.Server
	seq   int
	// logs holds what slabot logged (JSON, warnings and up).
	logs *syncWriter
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func newE2E(t *testing.T, extra map[string]string, background bool) *e2e {
	t.Helper()
	slack := newFakeSlack(t)
	rs := redistest.Start(t)
	vars := map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "signing", "SLACK_CHANNEL_ID": "C0ALERTS",
		"SLACK_API_URL": slack.URL + "/", "REDIS_URL": rs.URL, "GENESYS_WEBHOOK_TOKEN": "hook-token",
	}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := loadConfig(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncWriter{}
	svc, err := build(ctx, cfg, wiring{stdout: io.Discard, log: newLogger(logs, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, slack: slack, svc: svc, redis: rs, web: httptest.NewServer(svc.handler), logs: logs}
	var wait func()
	if background {
		wait = svc.start(ctx)
	}
	t.Cleanup(func() {
		cancel()
		if wait != nil {
			wait()
		}
		e.web.Close()
		svc.store.Close()
	})
	return e
}

// send posts a metric event for queue "Support" with a fresh id.
func (e *e2e) send(metric string, value float64) {
	e.t.Helper()
	e.seq++
	body := fmt.Sprintf(`{"id":"ev-%d","event_type":"com.genesiscloud.queue.metric","data":{
		"queue_id":"2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10","queue_name":"Support <team>","metric":%q,"value":%v,"unit":"seconds"}}`,
		e.seq, metric, value)
	req, _ := http.NewRequest(http.MethodPost, e.web.URL+"/webhook/genesys", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer hook-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("webhook answered %d: %s", resp.StatusCode, msg)
	}
}

func TestEndToEndBreachUpdateResolve(t *testing.T) {
	e := newE2E(t, nil, true)
	e.send("longest_wait", 312.5)
	calls := e.slack.waitCalls(t, "the alert", func(c []slackCall) bool { return count(c, "chat.postMessage") >= 1 })
	post := calls[0]
	if post.Method != "chat.postMessage" || post.Channel != "C0ALERTS" || !strings.Contains(post.Text, "Support &lt;team&gt;") {
		t.Fatalf("first call %+v: want a post in C0ALERTS naming the escaped queue", post)
	}
	for _, action := range []string{"alert_ack", "alert_resolve", "alert_snooze", "alert_chart"} {
		if !strings.Contains(post.Blocks, action) {
			t.Errorf("message has no %s control", action)
		}
	}
	e.send("longest_wait", 400)
	e.send("longest_wait", 500)
	e.send("longest_wait", 42)
	e.slack.waitCalls(t, "the resolution", func(c []slackCall) bool { return len(c) >= 3 })
	time.Sleep(200 * time.Millisecond) // room for a wrong extra message
	calls = e.slack.recorded()
	if len(calls) != 3 || count(calls, "chat.postMessage") != 2 || count(calls, "chat.update") != 1 {
		t.Fatalf("calls %+v: want post, update, threaded reply", calls)
	}
	upd, reply := calls[1], calls[2]
	if upd.Method != "chat.update" || upd.TS != post.Posted {
		t.Errorf("update %+v does not target the alert message %s", upd, post.Posted)
	}
	if reply.ThreadTS != post.Posted || !strings.Contains(strings.ToLower(reply.Text), "resolved") {
		t.Errorf("reply %+v: want a threaded resolution", reply)
	}
	// The episode's chart follows in the thread.
	chart := waitShared(t, e.slack, 1)[0]
	if chart.Channel != "C0ALERTS" || chart.ThreadTS != post.Posted || chart.Name != "sla-chart.png" ||
		chart.Title != "Support <team>: Longest wait, the breach and the 30 minutes before it" {
		t.Errorf("chart %q titled %q shared in %s thread %q, want sla-chart.png of Support's wait in the alert's thread %s",
			chart.Name, chart.Title, chart.Channel, chart.ThreadTS, post.Posted)
	}
	checkChartPNG(t, chart.Bytes)
	// The next breach is a new episode: a new message.
	e.send("longest_wait", 700)
	e.slack.waitCalls(t, "a new episode", func(c []slackCall) bool { return count(c, "chat.postMessage") == 3 })

	// The fake records a call before slabot removes its outbox entry, so
	// scrape until the outbox has drained.
	var body []byte
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get(e.web.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if got, err := parseMetrics(string(body)); (err == nil && got["slabot_outbox_depth"] == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkMetrics(t, string(body), map[string]float64{
		`slabot_webhook_events_total{format="metric",outcome="processed"}`:            5,
		`slabot_webhook_request_duration_seconds_count{code="200"}`:                   5,
		`slabot_alert_transitions_total{transition="fired"}`:                          2,
		`slabot_alert_transitions_total{transition="resolved"}`:                       1,
		`slabot_slack_calls_total{method="chat.update",result="ok"}`:                  1,
		`slabot_slack_calls_total{method="chat.postMessage",result="ok"}`:             3,
		`slabot_slack_calls_total{method="files.completeUploadExternal",result="ok"}`: 1,
		`slabot_open_alerts`:                         1,
		`slabot_outbox_depth`:                        0,
		`slabot_outbox_oldest_age_seconds`:           0,
		`slabot_poll_cycles_total{result="ok"}`:      0,
		`slabot_poll_last_success_timestamp_seconds`: 0,
		`slabot_redis_errors_total`:                  0,
		`slabot_slack_delivery_delay_seconds_count`:  5,
		`slabot_webhook_unknown_metrics_total`:       0,
	})
}

func TestEndToEndRateLimitedOnce(t *testing.T) {
	e := newE2E(t, nil, true)
	e.slack.setHook(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		if method == "chat.postMessage" && n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	e.send("longest_wait", 312.5)
	e.slack.waitCalls(t, "the alert after the 429", func(c []slackCall) bool { return count(c, "chat.postMessage") == 1 })
	time.Sleep(300 * time.Millisecond)
	if got := count(e.slack.recorded(), "chat.postMessage"); got != 1 {
		t.Errorf("%d messages, want exactly 1", got)
	}
}

// A dispatcher killed while Slack holds its request loses and duplicates
// nothing: the entry stays pending and the next dispatcher delivers it once.
func TestEndToEndDispatcherKilledMidSend(t *testing.T) {
	e := newE2E(t, nil, false)
	held := make(chan struct{})
	e.slack.setHook(func(w http.ResponseWriter, r *http.Request, method string, n int) bool {
		if method == "chat.postMessage" && n == 1 {
			close(held)
			<-r.Context().Done() // Slack never answers; the sender gives up
			return true
		}
		return false
	})
	e.send("longest_wait", 312.5)
	e.send("longest_wait", 30) // resolution queued behind the post

	notifier := slackapi.New("xoxb-test", slackapi.Options{APIURL: e.slack.URL + "/"})
	opts := dispatch.Options{Consumer: "first", ClaimIdle: 300 * time.Millisecond, CallTimeout: 500 * time.Millisecond,
		IdleWait: 20 * time.Millisecond, Pace: time.Millisecond}
	ctx1, kill := context.WithCancel(context.Background())
	first := dispatch.New(e.svc.store, notifier, app.SystemClock{}, opts)
	done := make(chan struct{})
	go func() { first.Run(ctx1); close(done) }()
	<-held
	kill()
	<-done

	opts.Consumer = "second"
	opts.CallTimeout = 5 * time.Second // its calls are answered: room for a busy machine
	ctx2, stop := context.WithCancel(context.Background())
	defer stop()
	second := dispatch.New(e.svc.store, notifier, app.SystemClock{}, opts)
	go second.Run(ctx2)
	e.slack.waitCalls(t, "post, update and reply", func(c []slackCall) bool { return len(c) >= 3 })
	time.Sleep(300 * time.Millisecond)
	calls := e.slack.recorded()
	if len(calls) != 3 || count(calls, "chat.postMessage") != 2 {
		t.Errorf("calls %+v: want exactly one alert post, one update, one reply", calls)
	}
}

func TestLocalModeRunsWithNoConfiguration(t *testing.T) {
	out := &syncWriter{}
	cfg, err := loadConfig(env(map[string]string{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := build(ctx, cfg, wiring{stdout: out, log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.store.Close()
	wait := svc.start(ctx)
	defer func() { cancel(); wait() }()
	web := httptest.NewServer(svc.handler)
	defer web.Close()
	resp, err := http.Post(web.URL+"/webhook/genesys", "application/json", strings.NewReader(
		`{"id":"x","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":"q1","queue_name":"Support","metric":"wait","value":312.5}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("unsigned webhook in local mode: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), "Support") {
		if time.Now().After(deadline) {
			t.Fatalf("console shows no alert: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitShared waits until the fake Slack has shared n files, and returns them.
func waitShared(t *testing.T, f *fakeSlack, n int) []slackfake.File {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got := f.files.Shared(); len(got) >= n {
			return got
		}
	}
	t.Fatalf("%d files shared, want %d", len(f.files.Shared()), n)
	return nil
}

// checkChartPNG decodes a shared chart: an 800×400 PNG, under 100 KB.
func checkChartPNG(t *testing.T, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("shared chart is not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 800 || got.Y != 400 {
		t.Errorf("chart is %v, want 800x400", got)
	}
	if len(b) > 100<<10 {
		t.Errorf("chart is %d bytes, want under 100 KB", len(b))
	}
}

// Without files:write the chart is skipped, said once in the log, and
// the alerts go on as before.
func TestEndToEndChartWithoutFilesScope(t *testing.T) {
	e := newE2E(t, nil, true)
	e.slack.mu.Lock() // the fake reads Refuse with mu held
	e.slack.files.Refuse = func(string) string { return "missing_scope" }
	e.slack.mu.Unlock()
	for episode := 1; episode <= 2; episode++ {
		e.send("longest_wait", 400)
		e.send("longest_wait", 10)
		e.slack.waitCalls(t, "the resolution", func(c []slackCall) bool { return count(c, "chat.postMessage") >= 2*episode })
	}
	// The second chart is skipped without asking Slack: wait for the
	// outbox to drain, then read the log.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n, _, err := e.svc.store.OutboxDepth(context.Background()); err == nil && n == 0 {
			break
		}
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "lacks a scope for charts"); n != 1 || !strings.Contains(logs, `"scope":"files:write"`) {
		t.Errorf("missing scope logged %d times, want once naming files:write:\n%s", n, logs)
	}
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("a skipped chart was logged as an error:\n%s", logs)
	}
	if got := e.slack.files.Shared(); len(got) != 0 {
		t.Errorf("shared %d files without the scope", len(got))
	}
	calls := e.slack.recorded()
	if count(calls, "chat.postMessage") != 4 || count(calls, "chat.update") != 2 {
		t.Errorf("calls %+v: want two alerts, each updated and resolved in its thread", calls)
	}
}
