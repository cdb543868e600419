package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/slabot/slabot/app"
)

// liveMarkup finds Slack control sequences other than the ones slabot
// writes on purpose (user mentions, channel links, dates): a broadcast
// such as <!channel> or a link must never come out of user input.
var liveMarkup = regexp.MustCompile(`<(?:[^@#!]|@[^UW]|#[^CG]|![^d]|!d[^a])`)

// FuzzSlashCommand feeds arbitrary /sla text through the grammar and the
// whole command handler: no panic; a parse failure is a usage error and
// changes nothing; every answer is ephemeral JSON with no live markup.
func FuzzSlashCommand(f *testing.F) {
	for _, s := range []string{
		"", "help", "set Support wait 5m", `set "Billing EU" sl 80% for 10m`, "set “Billing EU” abandon 12.5",
		"set default waiting 10", "set Support waiting 1e12", "set Support wait NaN", "set Support wait -5",
		"set Support wait 5 parsecs", "set &lt;!channel&gt; wait 5m", "set 客服 waiting 5", `set "A &amp; B" wait 5m`,
		"unset Support", "unset Billing EU", "list", "status", "snooze all 1h", "snooze Billing EU 30m",
		"unsnooze all", "ack Support", "route Support <#C0123ABCD|sla>", "route Support #sla-alerts",
		"route Support here", "history", "history Support", `set "unclosed wait 5m`, "<!channel>", "<#C0123ABCD",
		"set aaaaaaaa-1111-4222-8333-444444444444 waiting 4", "snooze Support 99999999999999999999h",
		// Issue 14: a queue named with a mention reached through errors.
		"snooze &lt;!here&gt; &amp; &lt;@U0BOSS00&gt; 1h", "ack &lt;@U0BOSS001&gt;", "snooze ALL 168h", "unsnooze All",
	} {
		f.Add(s)
	}
	m := newMemStore()
	m.known["aaaaaaaa-1111-4222-8333-444444444444"] = "<!here> & <@U0BOSS001>"
	h, _ := memServerF(f, m)
	f.Fuzz(func(t *testing.T, text string) {
		cmd, perr := parseCommand(text)
		var ue *usageError
		if perr != nil && !errors.As(perr, &ue) {
			t.Fatalf("parseCommand(%q): %v is not a usage error", text, perr)
		}
		if perr == nil {
			checkCommand(t, text, cmd)
		}
		before := len(m.recorded())
		w := serve(h, signedRequest(PathSlackCommands, "application/x-www-form-urlencoded", commandForm("U0LEAD001", text)))
		if w.Code != http.StatusOK {
			t.Fatalf("/sla %q: status %d: %s", text, w.Code, w.Body)
		}
		var resp struct {
			ResponseType string `json:"response_type"`
			Text         string `json:"text"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.ResponseType != "ephemeral" || resp.Text == "" {
			t.Fatalf("/sla %q: answer %s", text, w.Body)
		}
		if strings.Contains(resp.Text, "<@U0BOSS001>") {
			t.Errorf("/sla %q: the mention in a queue name is live:\n%s", text, resp.Text)
		}
		if loc := liveMarkup.FindStringIndex(resp.Text); loc != nil {
			t.Errorf("/sla %q: live markup %q in answer:\n%s", text, resp.Text[loc[0]:min(loc[1]+10, len(resp.Text))], resp.Text)
		}
		if after := len(m.recorded()); perr != nil && after != before {
			t.Errorf("/sla %q: unparsable, yet changed %v", text, m.recorded()[before:])
		}
	})
}

// checkCommand asserts what the executor relies on in a parsed command.
func checkCommand(t *testing.T, text string, c command) {
	t.Helper()
	if _, ok := verbAliases[c.verb]; !ok {
		t.Fatalf("parseCommand(%q): verb %q is not canonical", text, c.verb)
	}
	needsQueue := c.verb == verbSet || c.verb == verbUnset || c.verb == verbSnooze ||
		c.verb == verbUnsnooze || c.verb == verbAck || c.verb == verbRoute
	if needsQueue && strings.TrimSpace(c.queue.text) == "" {
		t.Errorf("parseCommand(%q): %s without a queue", text, c.verb)
	}
	switch c.verb {
	case verbSet:
		if _, err := app.ParseMetric(string(c.metric)); err != nil || c.value < 0 || c.value != c.value || c.forDur < 0 {
			t.Errorf("parseCommand(%q): bad set %+v", text, c)
		}
	case verbSnooze:
		if c.dur < 0 {
			t.Errorf("parseCommand(%q): negative snooze %v", text, c.dur)
		}
	case verbRoute:
		ch := c.channel
		if ch.id != "" && !validChannelID(ch.id) {
			t.Errorf("parseCommand(%q): route to invalid channel %q", text, ch.id)
		}
	}
}

// FuzzInteractionPayload feeds arbitrary payloads to the interaction
// endpoint: no panic (the recovery middleware would answer 500); the
// answer is 200 or 400; every change names a valid alert or queue.
func FuzzInteractionPayload(f *testing.F) {
	alert := app.AlertID(supportQueue, "voice", app.LongestWait)
	for _, c := range []click{
		{user: "U0LEAD001", action: actionJSON("alert_ack", "alert_actions", alert+"|1", ""), responseURL: hooksURL},
		{user: "U0LEAD001", action: actionJSON("alert_resolve", "alert_actions", alert+"|1", ""), responseURL: hooksURL},
		{user: "U0LEAD001", action: actionJSON("alert_snooze", alert+"|1", "", "1h"), responseURL: hooksURL},
		{user: "U0LEAD001", action: actionJSON("alert_snooze", alert+"|2", "", "4h"), responseURL: hooksURL},
		{user: "U0LEAD001", action: actionJSON("alert_unsnooze", "b", alert+"|1", ""), home: true},
		{user: "U0LEAD001", action: actionJSON("queue_unsnooze", "b", "all", ""), home: true},
		{user: "U0LEAD001", action: actionJSON("alert_ack", "alert_actions", "../../etc|1", ""), responseURL: "https://evil.example/x"},
		{user: "<!channel>", action: actionJSON("alert_ack", "alert_actions", alert+"|1", ""), responseURL: hooksURL},
	} {
		v, _ := url.ParseQuery(string(c.payload()))
		f.Add(v.Get("payload"))
	}
	for _, s := range []string{"", "{}", "null", `{"type":"block_actions","actions":[null]}`, `{"type":"block_actions","actions":[{}]}`,
		`{"type":"view_submission"}`, `{"type":"block_actions","actions":"x"}`} {
		f.Add(s)
	}
	m := newMemStore()
	m.alerts = []app.Alert{{ID: alert, QueueID: supportQueue, MediaType: "voice", Metric: app.LongestWait, State: app.StateFiring, Episode: 1}}
	h, bg := memServerF(f, m)
	f.Fuzz(func(t *testing.T, payload string) {
		before := len(m.recorded())
		body := []byte(url.Values{"payload": {payload}}.Encode())
		w := serve(h, signedRequest(PathSlackInteractions, "application/x-www-form-urlencoded", body))
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("payload %q: status %d: %s", payload, w.Code, w.Body)
		}
		bg.wait()
		for _, c := range m.recorded()[before:] {
			fields := strings.Fields(c)
			if len(fields) < 2 {
				t.Fatalf("change %q", c)
			}
			target := fields[1]
			if i := strings.LastIndex(target, "#"); fields[0] == "ack" || fields[0] == "resolve" {
				if _, _, _, err := app.ParseAlertID(target[:max(i, 0)]); err != nil {
					t.Errorf("payload %q: %s of an invalid alert %q", payload, fields[0], target)
				}
			} else if target != app.AllQueues && app.ValidateQueueID(target) != nil {
				t.Errorf("payload %q: %s of an invalid queue %q", payload, fields[0], target)
			}
		}
	})
}

// memServerF is memServer for fuzz targets: no network for response_url
// posts, an App Home recorder.
func memServerF(f *testing.F, m *memStore) (http.Handler, *background) {
	f.Helper()
	d := Deps{Actions: m, Records: m, Home: &homeRecorder{}, SlackHTTPClient: noNetwork(),
		Slack: SlackAuth{SigningSecret: slackTestSecret, TeamID: slackTestTeam}}
	h, bg := newServer(d)
	f.Cleanup(bg.wait)
	return h, bg
}
