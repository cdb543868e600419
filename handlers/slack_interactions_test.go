package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/slackapi"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

// slackE2E is slabot's Slack side on a real Redis: engine, dispatcher and
// the HTTP edge, delivering to a recording Slack fake.
type slackE2E struct {
	store  *store.Redis
	engine *engine.Engine
	slack  *slackFake
	h      http.Handler
	bg     *background
	seq    int
}

func newSlackE2E(t *testing.T, mod func(*Deps)) *slackE2E {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, redistest.URL(t), store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.SaveQueues(ctx, []app.QueueInfo{{ID: supportQueue, Name: "Support"}, {ID: billingQueue, Name: "Billing EU"}}); err != nil {
		t.Fatal(err)
	}
	builtin := &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300, SetBy: "built-in"}
	eng := engine.New(st, app.SystemClock{}, engine.Options{Channel: slackTestChan, BuiltinDefault: builtin})
	fake := newSlackFake(t)
	client := slackapi.New(slackTestToken, slackapi.Options{APIURL: fake.APIURL()})

	disp := dispatch.New(st, client, app.SystemClock{}, dispatch.Options{
		Consumer: "test", Pace: time.Millisecond, IdleWait: 20 * time.Millisecond})
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { disp.Run(dctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	d := Deps{Actions: eng, Records: st, Once: st, Home: client, BuiltinDefault: builtin,
		Slack:           SlackAuth{SigningSecret: slackTestSecret, TeamID: slackTestTeam},
		SlackHTTPClient: fake.hooksClient()}
	if mod != nil {
		mod(&d)
	}
	h, bg := newServer(d)
	t.Cleanup(bg.wait)
	return &slackE2E{store: st, engine: eng, slack: fake, h: h, bg: bg}
}

// observe feeds one observation of queue to the engine, as a webhook would.
func (e *slackE2E) observe(t *testing.T, queue, media string, m app.Metric, v float64) {
	t.Helper()
	e.seq++
	ev := app.Event{Key: "ev-" + strings.Repeat("x", e.seq), QueueID: queue,
		Observations: []app.Observation{{QueueID: queue, MediaType: media, Metric: m, Value: v}}}
	if _, err := e.engine.Ingest(context.Background(), ev); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

func (e *slackE2E) openAlert(t *testing.T, id string) (app.Alert, bool) {
	t.Helper()
	open, err := e.store.OpenAlerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range open {
		if a.ID == id {
			return a, true
		}
	}
	return app.Alert{}, false
}

// click is one block_actions payload, shaped as Slack sends it.
type click struct {
	user, team  string
	action      map[string]any
	responseURL string
	home        bool
}

// actionJSON is one element of a payload's actions: a button press, or a
// static_select choice when selected is set.
func actionJSON(actionID, blockID, value, selected string) map[string]any {
	a := map[string]any{"action_id": actionID, "block_id": blockID, "action_ts": "1700000100.000200"}
	if selected != "" {
		a["type"] = "static_select"
		a["selected_option"] = map[string]any{"text": map[string]any{"type": "plain_text", "text": selected, "emoji": true}, "value": selected}
		a["placeholder"] = map[string]any{"type": "plain_text", "text": "Snooze queue…", "emoji": true}
	} else {
		a["type"] = "button"
		a["value"] = value
		a["text"] = map[string]any{"type": "plain_text", "text": "Acknowledge", "emoji": true}
	}
	return a
}

func (c click) payload() []byte {
	team := c.team
	if team == "" {
		team = slackTestTeam
	}
	p := map[string]any{
		"type": "block_actions", "api_app_id": "A0SLABOT1", "token": "legacy-verification-token",
		"trigger_id": "1700000100.1.abc",
		"user":       map[string]any{"id": c.user, "username": "lead", "name": "lead", "team_id": team},
		"team":       map[string]any{"id": team, "domain": "example"},
		"enterprise": nil, "is_enterprise_install": false,
		"state":   map[string]any{"values": map[string]any{}},
		"actions": []any{c.action},
	}
	if c.home {
		p["container"] = map[string]any{"type": "view", "view_id": "V0HOME001"}
		p["view"] = map[string]any{"id": "V0HOME001", "type": "home", "team_id": team, "blocks": []any{}}
	} else {
		p["container"] = map[string]any{"type": "message", "message_ts": "1700000000.000100", "channel_id": slackTestChan, "is_ephemeral": false}
		p["channel"] = map[string]any{"id": slackTestChan, "name": "sla-alerts"}
		p["message"] = map[string]any{"type": "message", "ts": "1700000000.000100", "text": "SLA breach", "bot_id": "B0SLABOT1"}
		p["response_url"] = c.responseURL
	}
	raw, _ := json.Marshal(p)
	return []byte(url.Values{"payload": {string(raw)}}.Encode())
}

// send posts the click, signed, and checks Slack's 200.
func (c click) send(t *testing.T, h http.Handler) {
	t.Helper()
	w := serve(h, signedRequest(PathSlackInteractions, "application/x-www-form-urlencoded", c.payload()))
	if w.Code != http.StatusOK {
		t.Fatalf("click %v: status %d: %s", c.action["action_id"], w.Code, w.Body)
	}
}

const hooksURL = "https://hooks.slack.com/actions/" + slackTestTeam + "/397700885554/96rGlfmibIGlgcZRskXaIFfN"

// buttons indexes the interactive elements of posted blocks by action_id,
// each with its block_id under "_block_id".
func buttons(blocks []map[string]any) map[string]map[string]any {
	out := make(map[string]map[string]any)
	var walk func(v any, blockID string)
	walk = func(v any, blockID string) {
		switch v := v.(type) {
		case map[string]any:
			if id, ok := v["action_id"].(string); ok {
				v["_block_id"] = blockID
				out[id] = v
			}
			for _, x := range v {
				walk(x, blockID)
			}
		case []any:
			for _, x := range v {
				walk(x, blockID)
			}
		}
	}
	for _, b := range blocks {
		id, _ := b["block_id"].(string)
		walk(b, id)
	}
	return out
}

// TestInteractionsEndToEnd walks one alert through every button: breach →
// message; Ack → update naming the user; double click → one transition
// and an ephemeral reason; Snooze 1h → update and silence; Resolve →
// update and thread reply; a click from an older episode → stale.
func TestInteractionsEndToEnd(t *testing.T) {
	e := newSlackE2E(t, nil)
	ctx := context.Background()
	alertID := app.AlertID(supportQueue, "voice", app.LongestWait)

	// Breach: one message with the three controls.
	e.observe(t, supportQueue, "voice", app.LongestWait, 400)
	post := e.slack.waitFor(t, "chat.postMessage", 1)[0]
	if got := post.Form.Get("channel"); got != slackTestChan {
		t.Errorf("posted to %q, want %q", got, slackTestChan)
	}
	ctl := buttons(post.blocks(t))
	ackValue, _ := ctl[slackapi.ActionAck]["value"].(string)
	resolveValue, _ := ctl[slackapi.ActionResolve]["value"].(string)
	snoozeBlock, _ := ctl[slackapi.ActionSnooze]["_block_id"].(string)
	if ackValue == "" || resolveValue == "" || snoozeBlock == "" {
		t.Fatalf("posted message lacks its controls: %v", ctl)
	}

	// Ack: the same message is updated and names the user.
	ack := click{user: "U0LEAD001", action: actionJSON(slackapi.ActionAck, slackapi.BlockActions, ackValue, ""), responseURL: hooksURL}
	ack.send(t, e.h)
	upd := e.slack.waitFor(t, "chat.update", 1)[0]
	if got := upd.Form.Get("ts"); got != post.RespTS {
		t.Errorf("update of ts %q, want the alert message %q", got, post.RespTS)
	}
	if !strings.Contains(upd.text(), "<@U0LEAD001>") {
		t.Errorf("update does not show the acknowledging user:\n%s", upd.text())
	}

	// Double click: nothing changes, the user is told why.
	dbl := ack
	dbl.user = "U0LEAD002"
	dbl.send(t, e.h)
	e.bg.wait()
	eph := e.slack.of("response_url")
	if len(eph) != 1 {
		t.Fatalf("got %d ephemeral replies, want 1: %+v", len(eph), e.slack.recorded())
	}
	if got := eph[0].JSON; got["response_type"] != "ephemeral" || got["replace_original"] != false ||
		!strings.Contains(got["text"].(string), "already acknowledged by <@U0LEAD001>") {
		t.Errorf("ephemeral reply = %v", got)
	}
	hist, err := e.store.History(ctx, supportQueue, 10)
	if err != nil {
		t.Fatal(err)
	}
	if n := countActions(hist, "ack"); n != 1 {
		t.Errorf("history has %d acks, want 1: %+v", n, hist)
	}
	if a, _ := e.openAlert(t, alertID); a.AckedBy != "U0LEAD001" {
		t.Errorf("acked by %q, want the first clicker", a.AckedBy)
	}

	// Snooze 1h from the menu: the message shows it, and new breaches of
	// the queue post nothing while it lasts.
	snooze := click{user: "U0LEAD002", action: actionJSON(slackapi.ActionSnooze, snoozeBlock, "", "1h"), responseURL: hooksURL}
	snooze.send(t, e.h)
	upd = e.slack.waitFor(t, "chat.update", 2)[1]
	if !strings.Contains(upd.text(), "snoozed") {
		t.Errorf("update after snooze does not say snoozed:\n%s", upd.text())
	}
	qs, err := e.store.QueueStates(ctx, []string{supportQueue})
	if err != nil {
		t.Fatal(err)
	}
	if until := qs[0].SnoozedUntil; until.Before(time.Now().Add(59*time.Minute)) || until.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("queue snoozed until %v, want about an hour from now", until)
	}
	if got := runCommand(t, e.h, "U0LEAD001", "set Support waiting 5"); !strings.Contains(got, "Threshold set") {
		t.Fatalf("set: %s", got)
	}
	e.observe(t, supportQueue, "voice", app.Waiting, 12)      // a new breach while snoozed
	e.observe(t, billingQueue, "voice", app.LongestWait, 500) // a sentinel on another queue
	posts := e.slack.waitFor(t, "chat.postMessage", 2)
	if len(posts) != 2 || !strings.Contains(posts[1].Form.Get("text"), "Billing EU") {
		t.Errorf("while Support is snoozed, posts are %v; want only the Billing EU alert", texts(posts))
	}

	// Resolve: the message shows it, and a thread reply says so.
	resolve := click{user: "U0LEAD001", action: actionJSON(slackapi.ActionResolve, slackapi.BlockActions, resolveValue, ""), responseURL: hooksURL}
	resolve.send(t, e.h)
	upd = e.slack.waitFor(t, "chat.update", 3)[2]
	if !strings.Contains(upd.text(), "Resolved") {
		t.Errorf("update after resolve:\n%s", upd.text())
	}
	reply := e.slack.waitFor(t, "chat.postMessage", 3)[2]
	if got := reply.Form.Get("thread_ts"); got != post.RespTS {
		t.Errorf("resolution reply in thread %q, want the alert message %q", got, post.RespTS)
	}
	if !strings.Contains(reply.Form.Get("text"), "Resolved by <@U0LEAD001>") {
		t.Errorf("thread reply = %q", reply.Form.Get("text"))
	}
	if _, open := e.openAlert(t, alertID); open {
		t.Error("alert still open after Resolve")
	}

	// A new episode; then an Ack from the first episode's message is stale.
	if got := runCommand(t, e.h, "U0LEAD001", "unsnooze Support"); !strings.Contains(got, "Unsnoozed *Support*") {
		t.Fatalf("unsnooze: %s", got)
	}
	e.observe(t, supportQueue, "voice", app.LongestWait, 420)
	e.slack.waitFor(t, "chat.postMessage", 5) // the Waiting alert, posted afresh, and the new episode
	before, _ := e.openAlert(t, alertID)
	if before.Episode != 2 || before.State != app.StateFiring {
		t.Fatalf("new episode = %+v, want episode 2 firing", before)
	}
	nEph := len(e.slack.of("response_url"))
	stale := ack
	stale.send(t, e.h)
	e.bg.wait()
	eph = e.slack.of("response_url")
	if len(eph) != nEph+1 || !strings.Contains(eph[len(eph)-1].JSON["text"].(string), "earlier breach") {
		t.Errorf("stale click replies: %+v", eph)
	}
	if after, _ := e.openAlert(t, alertID); after.State != app.StateFiring || after.AckedBy != "" {
		t.Errorf("stale click changed the alert: %+v", after)
	}
}

func countActions(h []app.HistoryEntry, action string) int {
	n := 0
	for _, x := range h {
		if x.Action == action {
			n++
		}
	}
	return n
}

func texts(calls []webCall) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Form.Get("text")
	}
	return out
}

func TestInteractionFailures(t *testing.T) {
	e := newSlackE2E(t, nil)
	e.observe(t, supportQueue, "voice", app.LongestWait, 400)
	post := e.slack.waitFor(t, "chat.postMessage", 1)[0]
	ctl := buttons(post.blocks(t))
	snoozeBlock, _ := ctl[slackapi.ActionSnooze]["_block_id"].(string)
	ackValue, _ := ctl[slackapi.ActionAck]["value"].(string)

	tests := []struct {
		name  string
		click click
		want  string
	}{
		{"forged value", click{user: "U0LEAD001", action: actionJSON(slackapi.ActionAck, slackapi.BlockActions, "nonsense", ""), responseURL: hooksURL},
			"names no alert"},
		{"snooze length not offered", click{user: "U0LEAD001", action: actionJSON(slackapi.ActionSnooze, snoozeBlock, "", "999h"), responseURL: hooksURL},
			"not one slabot offers"},
		{"unsnooze a queue that is not snoozed", click{user: "U0LEAD001", action: actionJSON(slackapi.ActionUnsnooze, "b", ackValue, ""), responseURL: hooksURL},
			"not snoozed"},
		{"no user", click{user: "", action: actionJSON(slackapi.ActionAck, slackapi.BlockActions, ackValue, ""), responseURL: hooksURL},
			"did not say who you are"},
		{"forged digest", click{user: "U0LEAD001", action: actionJSON(slackapi.ActionDigestAck, "b", "digest:../etc:1", ""), responseURL: hooksURL},
			"names no storm digest"},
		{"digest that does not exist", click{user: "U0LEAD001", action: actionJSON(slackapi.ActionDigestAck, "b", "digest:C0ALERTS01:9", ""), responseURL: hooksURL},
			"names no alert slabot knows"},
		{"digest snooze length not offered", click{user: "U0LEAD001", action: actionJSON(slackapi.ActionDigestSnooze, "digest:C0ALERTS01:9", "", "999h"), responseURL: hooksURL},
			"not one slabot offers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(e.slack.of("response_url"))
			tt.click.send(t, e.h)
			e.bg.wait()
			eph := e.slack.of("response_url")
			if len(eph) != n+1 {
				t.Fatalf("got %d new ephemeral replies, want 1", len(eph)-n)
			}
			if got := eph[n].JSON["text"].(string); !strings.Contains(got, tt.want) {
				t.Errorf("reply = %q, want it to contain %q", got, tt.want)
			}
		})
	}
	if a, _ := e.openAlert(t, app.AlertID(supportQueue, "voice", app.LongestWait)); a.State != app.StateFiring || a.AckedBy != "" {
		t.Errorf("failed clicks changed the alert: %+v", a)
	}
}

func TestPostEphemeralOnlyToSlack(t *testing.T) {
	var sent []string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = append(sent, r.URL.String())
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}, nil
	})}
	for _, u := range []string{"https://evil.example.com/actions/x", "http://hooks.slack.com/actions/x",
		"https://hooks.slack.com.evil.example/x", "not a url", ""} {
		if err := postEphemeral(context.Background(), client, u, "hi"); err == nil {
			t.Errorf("postEphemeral(%q) succeeded", u)
		} else if u != "" && strings.Contains(err.Error(), u) {
			t.Errorf("error quotes the URL: %v", err)
		}
	}
	if len(sent) != 0 {
		t.Errorf("requests went to %v", sent)
	}
	if err := postEphemeral(context.Background(), client, hooksURL, "hi"); err != nil || len(sent) != 1 {
		t.Errorf("Slack hooks URL: err = %v, sent %d", err, len(sent))
	}
}

func TestInteractionFromAppHome(t *testing.T) {
	e := newSlackE2E(t, nil)
	e.observe(t, supportQueue, "voice", app.LongestWait, 400)
	e.slack.waitFor(t, "chat.postMessage", 1)
	a, _ := e.openAlert(t, app.AlertID(supportQueue, "voice", app.LongestWait))

	c := click{user: "U0LEAD001", home: true, action: actionJSON(slackapi.ActionAck, "home_alert_0", slackapi.AlertValue(a), "")}
	c.send(t, e.h)
	e.bg.wait()
	pubs := e.slack.of("views.publish")
	if len(pubs) != 1 || pubs[0].JSON["user_id"] != "U0LEAD001" {
		t.Fatalf("views.publish calls = %+v, want one for U0LEAD001", pubs)
	}
	if got := pubs[0].text(); !strings.Contains(got, "Acknowledged *Support*") || !strings.Contains(got, ":eyes:") {
		t.Errorf("home after the click lacks the notice or the new state:\n%s", got)
	}
	hist, _ := e.store.History(context.Background(), supportQueue, 5)
	if len(hist) == 0 || hist[0].Via != "home" {
		t.Errorf("history = %+v, want an ack via home", hist)
	}

	// Snooze everything, then Unsnooze from the home's snooze list.
	if got := runCommand(t, e.h, "U0LEAD001", "snooze all 30m"); !strings.Contains(got, "Snoozed *all queues*") {
		t.Fatalf("snooze all: %s", got)
	}
	un := click{user: "U0LEAD001", home: true, action: actionJSON(slackapi.ActionUnsnoozeQueue, "b", app.AllQueues, "")}
	un.send(t, e.h)
	e.bg.wait()
	pubs = e.slack.of("views.publish")
	if got := pubs[len(pubs)-1].text(); !strings.Contains(got, "Unsnoozed *all queues*") {
		t.Errorf("home after unsnooze:\n%s", got)
	}
	qs, _ := e.store.QueueStates(context.Background(), []string{app.DefaultQueue})
	if qs[0].SnoozedUntil.After(time.Now()) {
		t.Error("the all-queues snooze is still on")
	}
}
