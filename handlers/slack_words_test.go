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
)

// runCommandIn is runCommand typed in channel (ID and name).
func runCommandIn(t *testing.T, h http.Handler, user, channel, channelName, text string) string {
	t.Helper()
	v, err := url.ParseQuery(string(commandForm(user, text)))
	if err != nil {
		t.Fatal(err)
	}
	v.Set("channel_id", channel)
	v.Set("channel_name", channelName)
	w := serve(h, signedRequest(PathSlackCommands, "application/x-www-form-urlencoded", []byte(v.Encode())))
	var resp struct{ Text string }
	if err := json.Unmarshal(w.Body.Bytes(), &resp); w.Code != http.StatusOK || err != nil {
		t.Fatalf("/sla %s: status %d: %s", text, w.Code, w.Body)
	}
	return resp.Text
}

// TestAnswersThatDoNotMislead reads the answers a supervisor gets to the
// commands issue 13 found misleading, on a real Redis and engine.
func TestAnswersThatDoNotMislead(t *testing.T) {
	e := newSlackE2E(t, func(d *Deps) { d.DefaultChannel = slackTestChan; d.Admins = []string{"U0LEAD001"} })
	steps := []struct {
		text    string
		channel string // typed in; default C0SUPPORT1
		want    []string
		not     []string
	}{
		{text: "set Support wait 5 minutes", want: []string{"'5 minutes' is not a duration: write it as one word, 5m"}, not: []string{"Unknown metric"}},
		{text: "set Support wait 5m for 2 min", want: []string{"'2 min' is not a duration: write it as one word, 2m"}},
		{text: "snooze Support 30 minutes", want: []string{"'30 minutes' is not a duration: write it as one word, 30m"}},
		{text: "set Support waiting 10 min 20", want: []string{"Min applies to service_level and abandon_rate only"}, not: []string{"not a duration"}},
		{text: "set Support sl 80 clear 75", want: []string{"Service level breaches below its threshold, so it must clear above it"}, not: []string{"Service_level"}},
		{text: "snooze Support 30d", want: []string{"A snooze lasts at most 7 days, and 30d is longer"}, not: []string{"try 30s, 5m or 1h"}},
		{text: "snooze Support 2d", want: []string{"Snoozed *Support* until", "(48h)"}},
		{text: "sett Support wait 5m", want: []string{"Unknown subcommand 'sett': did you mean `set`?", "Usage: `/sla set &lt;queue&gt;"},
			not: []string{"*/sla: queue SLA alerts from Slack*", "/sla hours"}},
		{text: "stauts", want: []string{"did you mean `status`?"}},
		{text: "frobnicate", want: []string{"Unknown subcommand 'frobnicate'. The subcommands are `set`,", "`/sla help` explains each"},
			not: []string{"*/sla: queue SLA alerts from Slack*"}},
		{text: "route Support here", channel: slackTestChan, want: []string{"This is the default alert channel (SLACK_CHANNEL_ID): alerts of *Support* come here without a route"},
			not: []string{"direct messages"}},
		{text: "route Support here", channel: "C1", want: []string{"Alerts of *Support* now go to <#C1>."}, not: []string{"direct messages"}},
		{text: "route Support here", channel: "D0123ABCD", want: []string{"Alerts go to channels, not to direct messages"}},
		{text: "help", want: []string{"`/sla set &lt;queue&gt;", "_(admins)_ — e.g. /sla set", "`/sla snooze &lt;queue&gt;|all &lt;duration&gt;` _(`all`: admins)_",
			"_(admins)_: only SLA admins (SLA_ADMINS) may run these"}, not: []string{"`/sla status` _(admins)_", "`/sla ack &lt;queue&gt;|all` _(admins)_"}},
		{text: "set Nowhere wait 4m", want: []string{"No queue named 'Nowhere' yet", "Name the queue by its ID instead", "Admin → Contact Center → Queues"}},
		{text: `set "*Payments *urgent**" wait 4m`, want: []string{"No queue named '∗Payments ∗urgent∗∗' yet"}, not: []string{"*Payments"}},
	}
	for _, s := range steps {
		ch, name := "C0SUPPORT1", "support-leads"
		if s.channel != "" {
			ch, name = s.channel, "alerts"
		}
		got := runCommandIn(t, e.h, "U0LEAD001", ch, name, s.text)
		for _, w := range s.want {
			if !strings.Contains(got, w) {
				t.Errorf("/sla %s (in %s):\n%s\nwant it to contain %q", s.text, ch, got, w)
			}
		}
		for _, w := range s.not {
			if strings.Contains(got, w) {
				t.Errorf("/sla %s (in %s):\n%s\nwant no %q", s.text, ch, got, w)
			}
		}
	}
	// The route typed in the default channel is no route at all.
	states, err := e.store.QueueStates(t.Context(), []string{supportQueue})
	if err != nil || len(states) != 1 || states[0].Route != "C1" {
		t.Errorf("Support's route = %+v, %v; want C1 (the last route)", states, err)
	}
}

// TestHelpWithoutAdmins says that everyone may run every command.
func TestHelpWithoutAdmins(t *testing.T) {
	h, _ := memServer(t, newMemStore(), nil)
	got := runCommand(t, h, "U0LEAD001", "help")
	if !strings.Contains(got, "_(admins)_: SLA_ADMINS is not set, so everyone may run these too.") {
		t.Errorf("help without SLA_ADMINS:\n%s", got)
	}
}

// TestPreviewSentences reads the preview line /sla set adds and /sla
// preview answers, in the cases that read wrong before.
func TestPreviewSentences(t *testing.T) {
	support := app.Threshold{QueueID: supportQueue, Metric: app.LongestWait, Value: 300}
	def := app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}
	tests := []struct {
		name string
		t    app.Threshold
		p    app.Preview
		want string
	}{
		{"less than a minute of history", support, app.Preview{Series: 1, Queues: 1, Covered: 20 * time.Second, Episodes: 1, Longest: 20 * time.Second, Now: true},
			"would have fired once so far (slabot has less than a minute of history), for 20s. It would be firing now."},
		{"default on no queue", def, app.Preview{},
			"every known queue has its own rule for longest_wait, so this default applies to none of them yet."},
		{"no history", support, app.Preview{Queues: 1},
			"there is no history to replay it on yet (slabot keeps each queue's metrics for 7 days, from its first event)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := previewSentence(tt.t, tt.p); got != tt.want {
				t.Errorf("previewSentence = %q\nwant              %q", got, tt.want)
			}
			x := &commands{d: Deps{Actions: fixedPreview{p: tt.p}}.withDefaults()}
			set := x.setPreview(t.Context(), tt.t)
			for _, bad := range []string{"it every", "it has no", "it there", "in the last 0s"} {
				if strings.Contains(set, bad) {
					t.Errorf("set's preview line %q reads %q", set, bad)
				}
			}
			if !strings.HasPrefix(set, "\nOver the stored history, this rule would") && !strings.HasPrefix(set, "\nEvery known") && !strings.HasPrefix(set, "\nThere is no") {
				t.Errorf("set's preview line = %q", set)
			}
		})
	}
}

// fixedPreview is an Actions that previews every rule the same way (and
// does nothing else).
type fixedPreview struct {
	Actions
	p app.Preview
}

func (f fixedPreview) Preview(context.Context, app.Threshold) (app.Preview, error) { return f.p, nil }
