package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/chart"
	"github.com/slabot/slabot/internal/slackfake"
	"github.com/slabot/slabot/store/redistest"
)

// reportReplica is one slabot process, wired by build() in production mode
// on a shared redis-server and fake Slack, on the test's clock. ticks counts
// the weekly report's checks it ran (holding the lease).
type reportReplica struct {
	svc   *service
	web   *httptest.Server
	ticks atomic.Int64
	stop  func()
}

// reportVars is a production configuration with a weekly report due on
// Mondays at 09:00 in London (UTC in November and December).
func reportVars(slack *fakeSlack, redisURL string) map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "signing", "SLACK_CHANNEL_ID": "C0ALERTS",
		"SLACK_API_URL": slack.URL + "/", "REDIS_URL": redisURL, "GENESYS_WEBHOOK_TOKEN": "hook-token",
		"SLA_REPORT": "Mon 09:00 Europe/London", "SLACK_POST_INTERVAL": "1ms",
	}
}

// reportEvery is the test's report check interval: a check (drawing and
// uploading the chart) may take 5 of them, the lease's time, which leaves
// a race-instrumented render on a busy machine seconds.
const reportEvery = time.Second

func startReplica(t *testing.T, vars map[string]string, clock app.Clock) *reportReplica {
	t.Helper()
	cfg, err := loadConfig(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := build(ctx, cfg, wiring{stdout: io.Discard, log: slog.New(slog.DiscardHandler), clock: clock,
		reportEvery: reportEvery})
	if err != nil {
		t.Fatal(err)
	}
	r := &reportReplica{svc: svc, web: httptest.NewServer(svc.handler)}
	tick := svc.report
	if tick == nil {
		t.Fatal("SLA_REPORT is set but no weekly report is wired")
	}
	svc.report = func(ctx context.Context) error {
		err := tick(ctx)
		r.ticks.Add(1)
		return err
	}
	wait := svc.start(ctx)
	r.stop = sync.OnceFunc(func() {
		cancel()
		wait()
		r.web.Close()
		svc.store.Close()
	})
	t.Cleanup(r.stop)
	return r
}

// observe posts one longest-wait value for queue Support, stamped now.
func (r *reportReplica) observe(t *testing.T, id string, seconds float64) {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"event_type":"com.genesiscloud.queue.metric","data":{
		"queue_id":"2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10","queue_name":"Support","metric":"longest_wait","value":%v,"unit":"seconds"}}`,
		id, seconds)
	req, _ := http.NewRequest(http.MethodPost, r.web.URL+"/webhook/genesys", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer hook-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(msg), "processed") {
		t.Fatalf("webhook answered %d: %s", resp.StatusCode, msg)
	}
}

// command types /sla text as user in channel, signed as Slack signs it,
// and returns the ephemeral answer's text.
func (r *reportReplica) command(t *testing.T, user, channel, text string) string {
	t.Helper()
	body := url.Values{"command": {"/sla"}, "text": {text}, "user_id": {user}, "user_name": {"lead"},
		"channel_id": {channel}, "channel_name": {"support-leads"}, "team_id": {"T0001"},
		"response_url": {r.web.URL + "/no-response-url"}, "trigger_id": {"1.2.3"}}.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10) // slack-go checks it against the real clock
	m := hmac.New(sha256.New, []byte("signing"))
	fmt.Fprintf(m, "v0:%s:%s", ts, body)
	req, _ := http.NewRequest(http.MethodPost, r.web.URL+"/slack/commands", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		ResponseType string `json:"response_type"`
		Text         string `json:"text"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/sla %s: %d, %v", text, resp.StatusCode, err)
	}
	if answer.ResponseType != "ephemeral" {
		t.Errorf("/sla %s answered %q, want ephemeral", text, answer.ResponseType)
	}
	return answer.Text
}

// waitTicks waits until the replicas have checked the report n more times
// between them; a generous deadline only bounds a broken loop.
func waitTicks(t *testing.T, n int64, rs ...*reportReplica) {
	t.Helper()
	sum := func() (s int64) {
		for _, r := range rs {
			s += r.ticks.Load()
		}
		return s
	}
	want := sum() + n
	for deadline := time.Now().Add(30 * time.Second); sum() < want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d report checks after 30 s, want %d", sum(), want)
		}
	}
}

// reports are the weekly reports posted so far.
func reports(calls []slackCall) []slackCall {
	var out []slackCall
	for _, c := range calls {
		if c.Method == "chat.postMessage" && strings.HasPrefix(c.Text, "*SLA report, week to") {
			out = append(out, c)
		}
	}
	return out
}

// breachWeek plays one breach of Support through r: it fires on Friday 27
// November 2026 at 10:00 UTC, is acknowledged by U0LEAD001 4 minutes in
// and resolves 25 minutes in.
func breachWeek(t *testing.T, r *reportReplica, slack *fakeSlack, clock *app.ManualClock) {
	t.Helper()
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	clock.Set(start)
	r.observe(t, "ev-fire", 412)
	slack.waitCalls(t, "the alert", func(c []slackCall) bool {
		for _, call := range c {
			if call.Method == "chat.postMessage" && strings.Contains(call.Text, "Support") && call.ThreadTS == "" &&
				!strings.HasPrefix(call.Text, "*SLA report") {
				return true
			}
		}
		return false
	})
	clock.Set(start.Add(4 * time.Minute))
	if got := r.command(t, "U0LEAD001", "C0ALERTS", "ack Support"); !strings.Contains(strings.ToLower(got), "acknowledged") {
		t.Fatalf("/sla ack Support answered %q", got)
	}
	clock.Set(start.Add(25 * time.Minute))
	r.observe(t, "ev-resolve", 42)
	slack.waitCalls(t, "the resolution in the thread", func(c []slackCall) bool {
		for _, call := range c {
			if call.ThreadTS != "" && strings.Contains(strings.ToLower(call.Text), "resolved") {
				return true
			}
		}
		return false
	})
}

// checkReportPNG decodes a shared chart and checks it is the 800×400 bar
// chart, with the bars' first colour (the worst queue) drawn in it.
func checkReportPNG(t *testing.T, data []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the chart is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != chart.Width || b.Dy() != chart.Height {
		t.Errorf("chart is %v, want %d×%d", b, chart.Width, chart.Height)
	}
	// The first bar colour (chart's palette, #1f77b4) fills the bar.
	found := 0
	for y := range chart.Height {
		for x := range chart.Width {
			r, g, b, _ := img.At(x, y).RGBA()
			if r>>8 == 0x1f && g>>8 == 0x77 && b>>8 == 0xb4 {
				found++
			}
		}
	}
	if found < 100 {
		t.Errorf("%d pixels of the first queue's colour: no bar drawn", found)
	}
}

// The weekly report is posted once per period whatever the replicas: two
// replicas tick on one Redis (the lease keeps the work on one; the period
// mark makes it once even when both run), the holder stops and another
// replica starts in the same week and posts nothing, and the report tells
// the week's breach with its MTTA and MTTR, with its chart.
func TestWeeklyReportTwoReplicasAndRestart(t *testing.T) {
	slack := newFakeSlack(t)
	rs := redistest.Start(t)
	vars := reportVars(slack, rs.URL)
	clock := app.NewManualClock(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))

	a, b := startReplica(t, vars, clock), startReplica(t, vars, clock)
	// First start after Monday 23 November 09:00: that week's report,
	// late, once; quiet, so without a chart.
	slack.waitCalls(t, "the late report", func(c []slackCall) bool { return len(reports(c)) == 1 })
	waitTicks(t, 3, a, b)
	if got := reports(slack.recorded()); len(got) != 1 || !strings.Contains(got[0].Text, "week to Mon 23 Nov") ||
		!strings.Contains(got[0].Text, "No queue breached") || got[0].Channel != "C0ALERTS" {
		t.Fatalf("reports %+v: want one quiet report of the week to Mon 23 Nov in C0ALERTS", got)
	}

	breachWeek(t, a, slack, clock)
	// Slack refuses the report chart's first upload (a 503): the chart is
	// an outbox job, so the dispatcher retries it after its backoff.
	var refused atomic.Int64
	slack.setHook(func(w http.ResponseWriter, r *http.Request, method string, _ int) bool {
		if method == "files.getUploadURLExternal" && r.PostForm.Get("filename") == "sla-report.png" && refused.Add(1) == 1 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	due := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	clock.Set(due.Add(-time.Minute))
	waitTicks(t, 3, a, b)
	if got := reports(slack.recorded()); len(got) != 1 {
		t.Fatalf("a minute early: %d reports, want still 1", len(got))
	}
	clock.Set(due)
	slack.waitCalls(t, "the week's report", func(c []slackCall) bool { return len(reports(c)) == 2 })
	waitTicks(t, 3, a, b)
	got := reports(slack.recorded())
	want := "*SLA report, week to Mon 30 Nov* (Mon 23 Nov 09:00 – Mon 30 Nov 09:00 Europe/London)\n" +
		"1 queue breached, 1 breach in all.\n" +
		"• *Support*: 1 breach, 25m in breach · MTTA 4m (1 of 1 acknowledged) · MTTR 25m\n" +
		"   worst: longest wait from Fri 27 Nov 10:00 for 25m, peak 6m 52s (threshold 5m), acknowledged by <@U0LEAD001> after 4m"
	if len(got) != 2 || got[1].Text != want || got[1].Channel != "C0ALERTS" || got[1].ThreadTS != "" {
		t.Fatalf("reports %+v\nwant the second to read\n%s", got, want)
	}
	// The chart is paced after the text (1 ms on the test's clock).
	for deadline := time.Now().Add(15 * time.Second); refused.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the report's chart was never uploaded")
		}
		clock.Advance(time.Millisecond)
	}
	if got := reportFiles(slack); len(got) != 0 {
		t.Fatalf("shared %+v although the upload was refused", got)
	}
	// The retry waits out its backoff on the test's clock.
	files := waitFilesAdvancing(t, slack, clock)
	if n := refused.Load(); n != 2 {
		t.Errorf("the report chart's upload was asked for %d times, want 2 (refused, then retried)", n)
	}
	if f := files[0]; len(files) != 1 || f.Channel != "C0ALERTS" || f.ThreadTS != "" || f.Name != "sla-report.png" ||
		f.Title != "SLA report, week to Mon 30 Nov" {
		t.Errorf("shared %+v, want the report's chart in C0ALERTS", f)
	}
	checkReportPNG(t, files[0].Bytes)

	// A restart in the week: both processes stop, a new one starts.
	a.stop()
	b.stop()
	clock.Set(due.Add(3 * time.Hour))
	c := startReplica(t, vars, clock)
	waitTicks(t, 3, c)
	if got := reports(slack.recorded()); len(got) != 2 {
		t.Errorf("after a restart: %d reports, want still 2", len(got))
	}
	if got := reportFiles(slack); len(got) != 1 {
		t.Errorf("after a restart: %d report charts, want still 1", len(got))
	}
}

// waitFiles waits until the fake has n shared report charts (the
// episodes' charts, in their alerts' threads, are left out).
func waitFiles(t *testing.T, slack *fakeSlack, n int) []slackfake.File {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got := reportFiles(slack); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d report charts shared after 15 s, want %d", len(reportFiles(slack)), n)
		}
	}
}

// waitFilesAdvancing waits until the fake has shared a report chart,
// moving the clock a second at a time so that a retry's backoff ends.
func waitFilesAdvancing(t *testing.T, slack *fakeSlack, clock *app.ManualClock) []slackfake.File {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got := reportFiles(slack); len(got) > 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatal("no report chart shared after 15 s")
		}
		clock.Advance(time.Second)
	}
}

// reportFiles are the report charts the fake has shared.
func reportFiles(slack *fakeSlack) []slackfake.File {
	var out []slackfake.File
	for _, f := range slack.files.Shared() {
		if f.Name == "sla-report.png" {
			out = append(out, f)
		}
	}
	return out
}

// /sla report, end to end: the week's breach, played through the webhook
// and an ack, is summed up in the ephemeral answer, and its chart is
// shared in the channel the command was typed in.
func TestSlashReportEndToEnd(t *testing.T) {
	slack := newFakeSlack(t)
	rs := redistest.Start(t)
	vars := reportVars(slack, rs.URL)
	delete(vars, "SLA_REPORT") // times in UTC; no weekly post in the way
	clock := app.NewManualClock(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	cfg, err := loadConfig(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := build(ctx, cfg, wiring{stdout: io.Discard, log: slog.New(slog.DiscardHandler), clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	wait := svc.start(ctx)
	r := &reportReplica{svc: svc, web: httptest.NewServer(svc.handler)}
	t.Cleanup(func() { cancel(); wait(); r.web.Close(); svc.store.Close() })

	breachWeek(t, r, slack, clock)
	clock.Set(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	got := r.command(t, "U0LEAD002", "C0LEADS", "report")
	want := "*SLA report, last 7 days* (Mon 23 Nov 09:00 – Mon 30 Nov 09:00 UTC)\n" +
		"1 queue breached, 1 breach in all.\n" +
		"• *Support*: 1 breach, 25m in breach · MTTA 4m (1 of 1 acknowledged) · MTTR 25m\n" +
		"   worst: longest wait from Fri 27 Nov 10:00 for 25m, peak 6m 52s (threshold 5m), acknowledged by <@U0LEAD001> after 4m\n" +
		"The chart of breach minutes per queue and day follows in this channel."
	if got != want {
		t.Errorf("/sla report answered\n%s\nwant\n%s", got, want)
	}
	files := waitFiles(t, slack, 1)
	if f := files[0]; f.Channel != "C0LEADS" || f.Title != "SLA report, last 7 days" {
		t.Errorf("shared %+v, want the chart in C0LEADS", f)
	}
	checkReportPNG(t, files[0].Bytes)

	if got := r.command(t, "U0LEAD002", "C0LEADS", "report 30d Nowhere"); !strings.Contains(got, "Nowhere") || strings.Contains(got, "SLA report,") {
		t.Errorf("/sla report 30d Nowhere answered %q, want an error naming the queue", got)
	}
}

// A bad SLA_REPORT stops start-up, saying what is wrong, before anything
// listens or connects.
func TestBadReportScheduleStopsStartup(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve"}, env(map[string]string{"SLA_REPORT": "Mon 25:00 UTC"}), &out)
	if err == nil || !strings.Contains(err.Error(), "SLA_REPORT: '25:00' is not a time of day such as 09:00") {
		t.Fatalf("serve with SLA_REPORT=Mon 25:00 UTC: %v, want an error naming SLA_REPORT and the time", err)
	}
	if out.Len() != 0 {
		t.Errorf("slabot started before failing: %q", out.String())
	}
}

// The report's chart: a bar a day labelled in the report's zone, the
// worst queues first under their (clipped) names, the period and zone in
// the title; a month's days by date alone.
func TestReportBars(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	to := time.Date(2026, 11, 30, 9, 0, 0, 0, london)
	from := to.AddDate(0, 0, -7)
	var eps []app.Episode
	for i := range 12 { // queue i breaches 10+i minutes on Friday
		start := time.Date(2026, 11, 27, 10, 0, 0, 0, london)
		eps = append(eps, app.Episode{QueueID: fmt.Sprintf("q%02d", i), Metric: app.Waiting, Start: start,
			End: start.Add(time.Duration(10+i) * time.Minute)})
	}
	names := map[string]string{"q11": "Customer Service & Billing - Northern Europe"}
	b := reportBars(app.BuildReport(eps, from, to, london, names))
	if got, want := strings.Join(b.Days, ","), "Mon 23,Tue 24,Wed 25,Thu 26,Fri 27,Sat 28,Sun 29,Mon 30"; got != want {
		t.Errorf("days %s, want %s", got, want)
	}
	if want := "Minutes in breach per queue, 23 Nov – 30 Nov (Europe/London)"; b.Title != want {
		t.Errorf("title %q, want %q", b.Title, want)
	}
	if len(b.Rows) != chart.MaxBarRows || b.Rows[0].Label != "Customer Service & Bill…" || b.Rows[1].Label != "q10" ||
		b.Rows[0].Minutes[4] != 21 || b.Rows[9].Label != "q02" {
		t.Errorf("rows %+v, want the 10 worst queues, worst first, the long name clipped", b.Rows)
	}
	if _, err := chart.Bars(b); err != nil {
		t.Errorf("chart.Bars: %v", err)
	}
	month := reportBars(app.BuildReport(eps, to.AddDate(0, 0, -30), to, london, names))
	if len(month.Days) != 31 || month.Days[0] != "31" || month.Days[30] != "30" {
		t.Errorf("a month's days %q, want dates alone", month.Days)
	}
}
