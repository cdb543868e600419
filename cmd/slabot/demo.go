package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/slackapi"
)

// demoSecret signs the demo's Slack requests, so they pass the same
// verification as Slack's.
const demoSecret = "demo-signing-secret"

// demo runs a scripted story through the real HTTP handlers, engine, store
// (embedded) and dispatcher, printing each Slack message as a person would
// read it. Time is simulated, so the story takes seconds.
func demo(ctx context.Context, args []string, stdout io.Writer) error {
	return runDemo(ctx, args, stdout, "")
}

// runDemo is demo; with -json, every Slack Web API call is also made by a
// real slackapi.Client and printed as it goes over the wire, to slackURL
// when set (a test's fake Slack), else to the demo's own stand-in.
func runDemo(ctx context.Context, args []string, stdout io.Writer, slackURL string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	asJSON := fs.Bool("json", false, "also print every Slack Web API call's full payload (text, blocks, metadata, files), as sent")
	charts := fs.String("charts", "", "folder to write the charts and the report's chart to (default: a new temporary folder)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"SLACK_CHANNEL_ID": "C0DEMO", "SLACK_SIGNING_SECRET": demoSecret, "REMIND_AFTER": "15m"}[k]
	})
	if err != nil {
		return err
	}
	// The story starts at 09:00; the quiet half hour before it gives the
	// charts a history to draw.
	clock := app.NewManualClock(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC).Add(-demoQuiet))
	out := &lockedWriter{w: stdout}
	w := wiring{stdout: out, log: slog.New(slog.NewTextHandler(io.Discard, nil)), clock: clock, chartDir: *charts}
	if *asJSON {
		if slackURL == "" {
			stand := newDemoSlack()
			defer stand.Close()
			slackURL = stand.URL + "/"
		}
		w.wrap = func(console dispatch.Notifier, opts slackapi.Options) dispatch.Notifier {
			return newWireTee(console, slackURL, opts, out)
		}
	}
	svc, err := build(ctx, cfg, w)
	if err != nil {
		return err
	}
	defer svc.store.Close()
	bg, stop := context.WithCancel(ctx)
	wait := svc.start(bg)
	defer func() { stop(); wait() }()
	web := httptest.NewServer(svc.handler)
	defer web.Close()

	d := &demoRun{ctx: ctx, svc: svc, url: web.URL, clock: clock, out: out}
	return d.story()
}

type demoRun struct {
	ctx   context.Context
	svc   *service
	url   string
	clock *app.ManualClock
	out   *lockedWriter
	seq   int
}

const (
	demoQuiet   = 30 * time.Minute
	demoSupport = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"
	demoUser    = "U0SUPERVISOR"
)

func (d *demoRun) story() error {
	d.say("slabot demo: embedded Redis, no credentials, simulated time. Each ── block is a Slack message.")

	// Support's wait climbs quietly, under its threshold, before the story.
	for i := range int(demoQuiet / time.Minute) {
		if err := d.metric(demoSupport, "Support", "longest_wait", float64(90+i*7)); err != nil {
			return err
		}
		d.clock.Advance(time.Minute)
	}

	d.step("1. Queue Support's longest wait (5m 12s) breaches the built-in default threshold (5m).")
	if err := d.metric(demoSupport, "Support", "longest_wait", 312); err != nil {
		return err
	}
	d.step("2. 40 seconds later the wait is 6m 45s: the same message is updated, not a new one.")
	d.clock.Advance(40 * time.Second)
	if err := d.metric(demoSupport, "Support", "longest_wait", 405); err != nil {
		return err
	}
	d.step("3. A supervisor clicks Acknowledge (a signed Slack interaction): the message shows who and when.")
	alertID := app.AlertID(demoSupport, "", app.LongestWait)
	if err := d.click("alert_ack", alertID+"|1", ""); err != nil {
		return err
	}
	d.step("4. A second click on Acknowledge changes nothing (in Slack the clicker is told why, ephemerally).")
	if err := d.click("alert_ack", alertID+"|1", ""); err != nil {
		return err
	}
	d.step("5. Five minutes later the queue recovers: the message shows resolved, a thread reply says how long it lasted, and the chart of the breach follows in the thread (written to a PNG file here).")
	d.clock.Advance(5 * time.Minute)
	if err := d.metric(demoSupport, "Support", "longest_wait", 48); err != nil {
		return err
	}
	d.step("6. A supervisor sets a rule for every queue: more than 10 waiting is a breach (/sla set default waiting 10).")
	if err := d.command("set default waiting 10"); err != nil {
		return err
	}
	d.step("7. A storm: six queues breach within seconds. The first four post as usual; from the fifth, one digest message gathers all six, the first four included.")
	// Notifications carry no queue names; the Genesys directory does, and
	// polling caches it in the store. The demo stands in for the poller.
	var storm []app.QueueInfo
	for i, name := range []string{"Billing EU", "Sales <VIP> & Co", "Tech Support", "Returns", "Claims", "Renewals"} {
		storm = append(storm, app.QueueInfo{ID: fmt.Sprintf("b0000000-0000-4000-8000-00000000000%d", i+1), Name: name})
	}
	if err := d.svc.store.SaveQueues(d.ctx, storm); err != nil {
		return err
	}
	for i, q := range storm {
		d.clock.Advance(time.Second)
		if err := d.notification(q.ID, 12+i*5); err != nil {
			return err
		}
	}
	d.step("   Five seconds on, the digest is brought up to date in place with every alert that joined it.")
	d.clock.Advance(6 * time.Second)
	if err := d.tick(); err != nil {
		return err
	}
	d.step(`8. /sla snooze "Billing EU" 1h mutes that queue: its message shows it is snoozed.`)
	if err := d.command(`snooze "Billing EU" 1h`); err != nil {
		return err
	}
	d.step("9. /sla status lists what is open.")
	if err := d.command("status"); err != nil {
		return err
	}
	d.step("10. /sla report sums up the last 7 days per queue (breaches, time in breach, MTTA, MTTR, the worst episode); its chart of breach minutes per queue and day follows in the channel (written to a PNG file here). SLA_REPORT posts the same every week.")
	if err := d.command("report"); err != nil {
		return err
	}
	d.say("\nDone. Run `go run ./cmd/slabot` and curl the README's sample events to try it yourself.")
	return nil
}

func (d *demoRun) say(s string)  { fmt.Fprintln(d.out, s) }
func (d *demoRun) step(s string) { fmt.Fprintf(d.out, "\n▶ %s\n", s) }

// metric posts a metric event to the webhook and waits for its messages.
func (d *demoRun) metric(queueID, name, metric string, value float64) error {
	d.seq++
	body := fmt.Sprintf(`{"id":"demo-%d","event_type":"com.genesiscloud.queue.metric","data":{"queue_id":%q,"queue_name":%q,"metric":%q,"value":%v,"unit":"seconds"}}`,
		d.seq, queueID, name, metric, value)
	return d.webhook(body)
}

// notification posts a Genesys observations notification (waiting count).
func (d *demoRun) notification(queueID string, waiting int) error {
	d.seq++
	body := fmt.Sprintf(`{"topicName":"v2.analytics.queues.%[1]s.observations","version":"2","eventBody":{"group":{"queueId":%[1]q,"mediaType":"voice"},"data":[{"interval":"2026-11-27T09:00:00.000Z/2026-11-27T09:00:00.000Z","metrics":[{"metric":"oWaiting","stats":{"count":%[2]d}}]}]},"metadata":{"CorrelationId":"demo-corr-%[3]d"}}`,
		queueID, waiting, d.seq)
	return d.webhook(body)
}

func (d *demoRun) webhook(body string) error {
	resp, err := http.Post(d.url+"/webhook/genesys", "application/json", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("demo webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("demo webhook answered %d: %s", resp.StatusCode, msg)
	}
	return d.settle()
}

// click sends a signed block_actions interaction, as Slack would.
func (d *demoRun) click(actionID, value, selected string) error {
	action := map[string]any{"action_id": actionID, "block_id": "alert_actions", "type": "button", "value": value}
	if selected != "" {
		action["selected_option"] = map[string]any{"value": selected}
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": demoUser, "name": "supervisor"},
		"team": map[string]any{"id": "T0DEMO"}, "channel": map[string]any{"id": "C0DEMO"},
		"container": map[string]any{"type": "message", "message_ts": "console.0001", "channel_id": "C0DEMO"},
		"actions":   []any{action},
	})
	return d.signed("/slack/interactions", url.Values{"payload": {string(payload)}})
}

// command sends a signed /sla slash command and prints its ephemeral answer.
func (d *demoRun) command(text string) error {
	fmt.Fprintf(d.out, "   @supervisor: /sla %s\n", text)
	return d.signed("/slack/commands", url.Values{"command": {"/sla"}, "text": {text}, "user_id": {demoUser},
		"channel_id": {"C0DEMO"}, "team_id": {"T0DEMO"}})
}

func (d *demoRun) signed(path string, form url.Values) error {
	body := form.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(demoSecret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req, _ := http.NewRequestWithContext(d.ctx, http.MethodPost, d.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("demo %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("demo %s answered %d: %s", path, resp.StatusCode, raw)
	}
	var answer struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &answer) == nil && answer.Text != "" {
		fmt.Fprintf(d.out, "   (only you can see this) %s\n", strings.ReplaceAll(slackapi.Unescape(answer.Text), "\n", "\n   "))
	}
	return d.settle()
}

// tick runs the time-driven pass now (the service runs it every second),
// then waits for what it sent.
func (d *demoRun) tick() error {
	if err := d.svc.engine.Tick(d.ctx); err != nil {
		return err
	}
	return d.settle()
}

// settle waits until every notification has been delivered, so the story
// prints in order.
func (d *demoRun) settle() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _, err := d.svc.store.OutboxDepth(d.ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			time.Sleep(20 * time.Millisecond) // let the console write land
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("demo: notifications were not delivered within 10 s")
		}
		// Posts in one channel are paced (a millisecond apart in local
		// mode): the simulated time must move for a second one (a
		// resolution's chart after its reply) to go.
		d.clock.Advance(time.Millisecond)
		time.Sleep(10 * time.Millisecond)
	}
}

// lockedWriter keeps the story's and the console's lines whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
