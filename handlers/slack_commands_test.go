package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

func TestParseCommand(t *testing.T) {
	q := func(s string) queueArg { return queueArg{text: s} }
	quoted := func(s string) queueArg { return queueArg{text: s, quoted: true} }
	tests := []struct {
		text    string
		want    command
		errVerb string // set when a usage error is expected…
		errHas  string // …with this in its reason
	}{
		// help and aliases
		{text: "", want: command{verb: verbHelp}},
		{text: "  help  ", want: command{verb: verbHelp}},
		{text: "HELP me", want: command{verb: verbHelp}},
		{text: "?", want: command{verb: verbHelp}},
		{text: "frobnicate Support", errVerb: "", errHas: "unknown subcommand 'frobnicate'"},
		{text: `"set" Support wait 5m`, errVerb: "", errHas: "unknown subcommand"},

		// set
		{text: "set Support wait 5m", want: command{verb: verbSet, queue: q("Support"), metric: app.LongestWait, value: 300}},
		{text: "SET support WAIT 300s", want: command{verb: verbSet, queue: q("support"), metric: app.LongestWait, value: 300}},
		{text: "set Support longest_wait 300", want: command{verb: verbSet, queue: q("Support"), metric: app.LongestWait, value: 300}},
		{text: `set "Billing EU" sl 80% for 10m`, want: command{verb: verbSet, queue: quoted("Billing EU"), metric: app.ServiceLevel, value: 80, forDur: 10 * time.Minute}},
		{text: "set “Billing EU” abandon 12.5", want: command{verb: verbSet, queue: quoted("Billing EU"), metric: app.AbandonRate, value: 12.5}},
		{text: "set „Billing EU“ service_level 80", want: command{verb: verbSet, queue: quoted("Billing EU"), metric: app.ServiceLevel, value: 80}},
		{text: "set Billing EU wait 90 FOR 30s", want: command{verb: verbSet, queue: q("Billing EU"), metric: app.LongestWait, value: 90, forDur: 30 * time.Second}},
		{text: "set default waiting 10", want: command{verb: verbSet, queue: q("default"), metric: app.Waiting, value: 10}},
		{text: "set Support queue 10", want: command{verb: verbSet, queue: q("Support"), metric: app.Waiting, value: 10}},
		{text: "set Support on_queue 3", want: command{verb: verbSet, queue: q("Support"), metric: app.Agents, value: 3}},
		{text: "set 客服 waiting 5", want: command{verb: verbSet, queue: q("客服"), metric: app.Waiting, value: 5}},
		{text: `set "Kundendienst Süd" wait 1h30m`, want: command{verb: verbSet, queue: quoted("Kundendienst Süd"), metric: app.LongestWait, value: 5400}},
		{text: `set "A &amp; B" wait 5m`, want: command{verb: verbSet, queue: quoted("A & B"), metric: app.LongestWait, value: 300}},
		{text: "set &lt;!channel&gt; wait 5m", want: command{verb: verbSet, queue: q("<!channel>"), metric: app.LongestWait, value: 300}},
		{text: "set Support wait -5", errVerb: verbSet, errHas: "negative"},
		{text: "set Support waiting NaN", errVerb: verbSet, errHas: "not a number"},
		{text: "set Support waiting 1000000000000", errVerb: verbSet, errHas: "not a whole count"},
		{text: "set Support waiting 1e12", errVerb: verbSet, errHas: "not a whole count"},
		{text: "set Support wait 5 parsecs", errVerb: verbSet, errHas: "unknown metric"},
		{text: "set Support wait 5parsecs", errVerb: verbSet, errHas: "not a duration"},
		{text: "set Support sl 120%", errVerb: verbSet, errHas: "over 100%"},
		{text: "set Support speed 5", errVerb: verbSet, errHas: "unknown metric"},
		{text: "set Support wait", errVerb: verbSet, errHas: "give a queue, a metric and a value"},
		{text: "set Support wait 5m for", errVerb: verbSet, errHas: "give a duration after for"},
		{text: "set Support wait 5m for soon", errVerb: verbSet, errHas: "not a duration"},
		{text: `set "Billing EU wait 5m`, errVerb: verbSet, errHas: "quote is not closed"},
		{text: `set "Billing" EU wait 5m`, errVerb: verbSet, errHas: "whole queue name in quotes"},
		{text: `set "" wait 5m`, errVerb: verbSet, errHas: "queue name is empty"},

		// set: clear band and volume gate, in any order, with for
		{text: "set Support wait 5m clear 3m", want: command{verb: verbSet, queue: q("Support"), metric: app.LongestWait, value: 300, clear: 180, hasClear: true}},
		{text: "set Support wait 5m for 1m CLEAR 180", want: command{verb: verbSet, queue: q("Support"), metric: app.LongestWait, value: 300, clear: 180, hasClear: true, forDur: time.Minute}},
		{text: `set "Billing EU" sl 80% clear 85% min 20 for 10m`, want: command{verb: verbSet, queue: quoted("Billing EU"), metric: app.ServiceLevel, value: 80, clear: 85, hasClear: true, minVolume: 20, forDur: 10 * time.Minute}},
		{text: "set Billing EU abandon 10 min 20 clear 5", want: command{verb: verbSet, queue: q("Billing EU"), metric: app.AbandonRate, value: 10, clear: 5, hasClear: true, minVolume: 20}},
		{text: "set Support waiting 10 clear 0", want: command{verb: verbSet, queue: q("Support"), metric: app.Waiting, value: 10, clear: 0, hasClear: true}},
		{text: "set Support agents 3 clear 5", want: command{verb: verbSet, queue: q("Support"), metric: app.Agents, value: 3, clear: 5, hasClear: true}},
		{text: "set Support wait 5m clear 10m", errVerb: verbSet, errHas: "Longest wait breaches above its threshold, so it must clear below it: clear 10m is not below 5m"},
		{text: "set Support sl 80 clear 75", errVerb: verbSet, errHas: "must clear above it: clear 75% is not above 80%"},
		{text: "set Support sl 80 clear 80", errVerb: verbSet, errHas: "not above"},
		{text: "set Support waiting 10 min 20", errVerb: verbSet, errHas: "min applies to service_level and abandon_rate only"},
		{text: "set Support sl 80 min 0", errVerb: verbSet, errHas: "min takes a whole number"},
		{text: "set Support sl 80 min 2.5", errVerb: verbSet, errHas: "min takes a whole number"},

		// set: media types and target
		{text: "set default voice sl target min 20", want: command{verb: verbSet, queue: q("default"), media: app.Voice, metric: app.ServiceLevel, target: true, minVolume: 20}},
		{text: "set default CALL sl 80", want: command{verb: verbSet, queue: q("default"), media: app.Voice, metric: app.ServiceLevel, value: 80}},
		{text: "set default email wait target", want: command{verb: verbSet, queue: q("default"), media: app.Email, metric: app.LongestWait, target: true}},
		{text: "set Billing EU email wait 4h", want: command{verb: verbSet, queue: q("Billing EU"), media: app.Email, metric: app.LongestWait, value: 4 * 3600}},
		{text: `set "Support" chat sl target clear 90 for 5m`, want: command{verb: verbSet, queue: quoted("Support"), media: app.Chat, metric: app.ServiceLevel, target: true, clear: 90, hasClear: true, forDur: 5 * time.Minute}},
		{text: "set Email wait 2h", want: command{verb: verbSet, queue: q("Email"), metric: app.LongestWait, value: 7200}},
		{text: `set Support "email" wait 2h`, errVerb: verbSet, errHas: "whole queue name in quotes"},
		{text: "set default fax wait 5m", errVerb: verbSet, errHas: "'fax' is not a media type"},
		{text: "set default voice waiting target", errVerb: verbSet, errHas: "target applies to service_level and longest_wait only"},
		{text: "set Support abandon target", errVerb: verbSet, errHas: "target applies to service_level and longest_wait only"},
		{text: "set Support sl targets", errVerb: verbSet, errHas: "not a number"},
		{text: "preview default email wait target", want: command{verb: verbPreview, queue: q("default"), media: app.Email, metric: app.LongestWait, target: true}},
		{text: "set Support sl 80 min", errVerb: verbSet, errHas: "give a value after min, e.g. min 20"},
		{text: "set Support wait 5m clear", errVerb: verbSet, errHas: "give a value after clear"},
		{text: "set Support wait 5m clear 3m clear 2m", errVerb: verbSet, errHas: "clear is given twice"},
		{text: "set Support wait 5m clear soon", errVerb: verbSet, errHas: "clear \"soon\" is not a duration"},
		{text: "set Support sl 80 clear 120", errVerb: verbSet, errHas: "clear 120 is over 100%"},
		{text: "set Support clear 3m", errVerb: verbSet, errHas: "give a queue, a metric and a value"},

		// unset
		{text: "unset Support", want: command{verb: verbUnset, queue: q("Support")}},
		{text: "rm Support wait", want: command{verb: verbUnset, queue: q("Support"), metric: app.LongestWait}},
		{text: `unset "Billing EU" sl`, want: command{verb: verbUnset, queue: quoted("Billing EU"), metric: app.ServiceLevel}},
		{text: "unset default", want: command{verb: verbUnset, queue: q("default")}},
		{text: "unset Billing EU", errVerb: verbUnset, errHas: "'EU' is not a metric"},
		{text: "unset", errVerb: verbUnset, errHas: "give a queue"},
		{text: "unset a b c", errVerb: verbUnset, errHas: "too many words"},
		{text: "unset default email wait", want: command{verb: verbUnset, queue: q("default"), media: app.Email, metric: app.LongestWait}},
		{text: "unset Support call", want: command{verb: verbUnset, queue: q("Support"), media: app.Voice}},
		{text: "unset Support fax wait", errVerb: verbUnset, errHas: "'fax' is not a media type"},
		{text: "unset Support email speed", errVerb: verbUnset, errHas: "'speed' is not a metric"},

		// list, status
		{text: "list", want: command{verb: verbList}},
		{text: "ls", want: command{verb: verbList}},
		{text: "list Billing EU page 2", want: command{verb: verbList, queue: queueArg{text: "Billing EU"}, page: 2}},
		{text: "list page", errVerb: verbList, errHas: "give a page number after page"},
		{text: "list page two", errVerb: verbList, errHas: "'two' is not a page number"},
		{text: "status", want: command{verb: verbStatus}},
		{text: "alerts", want: command{verb: verbStatus}},
		{text: "status ACKED page 3", want: command{verb: verbStatus, state: alertAcked, page: 3}},
		{text: `status "firing"`, want: command{verb: verbStatus, queue: queueArg{text: "firing", quoted: true}}},
		{text: "status page 0", errVerb: verbStatus, errHas: "pages count from 1"},

		// snooze, unsnooze
		{text: `snooze "Billing EU" 30m`, want: command{verb: verbSnooze, queue: quoted("Billing EU"), dur: 30 * time.Minute}},
		{text: "snooze Billing EU 30m", want: command{verb: verbSnooze, queue: q("Billing EU"), dur: 30 * time.Minute}},
		{text: "mute all 1h", want: command{verb: verbSnooze, queue: q("all"), dur: time.Hour}},
		{text: "snooze Support 900", want: command{verb: verbSnooze, queue: q("Support"), dur: 15 * time.Minute}},
		{text: "snooze Support", errVerb: verbSnooze, errHas: "give a queue (or all) and a duration"},
		{text: "snooze Support soon", errVerb: verbSnooze, errHas: "not a duration"},
		{text: "snooze Support -5m", errVerb: verbSnooze, errHas: "negative"},
		{text: "unsnooze all", want: command{verb: verbUnsnooze, queue: q("all")}},
		{text: "unmute “Billing EU”", want: command{verb: verbUnsnooze, queue: quoted("Billing EU")}},
		{text: "unsnooze", errVerb: verbUnsnooze, errHas: "give a queue"},

		// ack
		{text: "ack Support", want: command{verb: verbAck, queue: q("Support")}},
		{text: "acknowledge Billing EU", want: command{verb: verbAck, queue: q("Billing EU")}},
		{text: "ack", errVerb: verbAck, errHas: "give a queue"},

		// route
		{text: "route Support <#C0123ABCD|sla-alerts>", want: command{verb: verbRoute, queue: q("Support"), channel: channelArg{id: "C0123ABCD"}}},
		{text: "route Support <#G0123ABCD>", want: command{verb: verbRoute, queue: q("Support"), channel: channelArg{id: "G0123ABCD"}}},
		{text: "route Support C0123ABCD", want: command{verb: verbRoute, queue: q("Support"), channel: channelArg{id: "C0123ABCD"}}},
		{text: "route Support #SLA-alerts", want: command{verb: verbRoute, queue: q("Support"), channel: channelArg{name: "sla-alerts"}}},
		{text: `route "Billing EU" here`, want: command{verb: verbRoute, queue: quoted("Billing EU"), channel: channelArg{here: true}}},
		{text: "route Support default", want: command{verb: verbRoute, queue: q("Support"), channel: channelArg{clear: true}}},
		{text: "route Support banana", errVerb: verbRoute, errHas: "'banana' is not a channel"},
		{text: "route Support <@U0123ABCD>", errVerb: verbRoute, errHas: "is not a channel"},
		{text: "route Support D0123ABCD", errVerb: verbRoute, errHas: "is not a channel"},
		{text: "route #sla-alerts", errVerb: verbRoute, errHas: "give a queue and a channel"},

		// preview: set's grammar
		{text: "preview Support wait 5m", want: command{verb: verbPreview, queue: q("Support"), metric: app.LongestWait, value: 300}},
		{text: "whatif Billing EU sl 80 clear 85 for 10m", want: command{verb: verbPreview, queue: q("Billing EU"), metric: app.ServiceLevel, value: 80, clear: 85, hasClear: true, forDur: 10 * time.Minute}},
		{text: "preview default abandon 10 min 20", want: command{verb: verbPreview, queue: q("default"), metric: app.AbandonRate, value: 10, minVolume: 20}},
		{text: "preview Support wait", errVerb: verbPreview, errHas: "give a queue, a metric and a value"},
		{text: "preview Support wait 5m clear 6m", errVerb: verbPreview, errHas: "must clear below it"},

		// hours
		{text: "hours default Mon-Fri 08:00-18:00 Europe/London", want: command{verb: verbHours, queue: q("default"), hours: "Mon-Fri 08:00-18:00 Europe/London"}},
		{text: "hours Billing EU mon-fri 8-18 Sat 09:00-13:00 Europe/Berlin", want: command{verb: verbHours, queue: q("Billing EU"), hours: "mon-fri 8-18 Sat 09:00-13:00 Europe/Berlin"}},
		{text: `hours "Night desk" daily 22:00-06:00 UTC`, want: command{verb: verbHours, queue: quoted("Night desk"), hours: "daily 22:00-06:00 UTC"}},
		{text: "hours Support always", want: command{verb: verbHours, queue: q("Support"), hours: "always"}},
		{text: "hours Support default", want: command{verb: verbHours, queue: q("Support"), hoursInherit: true}},
		{text: "hours Billing EU", want: command{verb: verbHours, queue: q("Billing EU"), hoursShow: true}},
		{text: "hours default", want: command{verb: verbHours, queue: q("default"), hoursShow: true}},
		{text: "hours", errVerb: verbHours, errHas: "give a queue (or default), then its hours"},
		{text: "hours Support Mon-Fri 08:00-18:00", errVerb: verbHours, errHas: "end with a time zone, e.g. 08:00-18:00 Europe/London"},
		{text: "hours Support Mon-Fri 08:00-18:00 Mars/Olympus", errVerb: verbHours, errHas: "'Mars/Olympus' is not a time zone"},
		{text: "hours Support 08:00-18:00 Europe/London", errVerb: verbHours, errHas: "give days, hours and a time zone"},
		{text: "hours Support 08:00-18:00 Sat 10:00-12:00 Europe/London", errVerb: verbHours, errHas: "say which days 08:00-18:00 applies to"},
		{text: "hours Support Mon-Fri 18:00-18:00 Europe/London", errVerb: verbHours, errHas: "'18:00-18:00' is neither days"},
		{text: "hours default default", errVerb: verbHours, errHas: "the default hours have no default"},

		// history
		{text: "history", want: command{verb: verbHistory}},
		{text: "log Billing EU", want: command{verb: verbHistory, queue: q("Billing EU")}},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			got, err := parseCommand(tt.text)
			if tt.errHas != "" {
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Fatalf("parseCommand(%q) = %+v, %v; want a usage error", tt.text, got, err)
				}
				if ue.verb != tt.errVerb || !strings.Contains(ue.reason, tt.errHas) {
					t.Errorf("usage error = {%q %q}, want {%q …%q…}", ue.verb, ue.reason, tt.errVerb, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCommand(%q): %v", tt.text, err)
			}
			if got != tt.want {
				t.Errorf("parseCommand(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
	}
}

func TestTokenizeBounds(t *testing.T) {
	if _, err := tokenize(strings.Repeat("a ", 100)); err == nil {
		t.Error("100 words tokenized; want a bound")
	}
	toks, err := tokenize("<#C0123ABCD|sla-alerts> <unclosed x")
	if err != nil || len(toks) != 3 || !toks[0].ref || toks[1].ref || toks[1].text != "<unclosed" {
		t.Errorf("tokens = %+v, %v", toks, err)
	}
}

// TestSlashCommands runs /sla on a real Redis and engine: each answer,
// and the state each command leaves.
func TestSlashCommands(t *testing.T) {
	e := newSlackE2E(t, nil)
	ctx := context.Background()
	run := func(text string) string { t.Helper(); return runCommand(t, e.h, "U0LEAD001", text) }
	thresholds := func() string {
		t.Helper()
		ts, err := e.store.Thresholds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, x := range ts {
			parts = append(parts, x.String())
		}
		return strings.Join(parts, "; ")
	}

	steps := []struct {
		text  string
		want  []string // in the answer
		state string   // thresholds afterwards, when not ""
	}{
		{text: "help", want: []string{"`/sla set &lt;queue&gt;|default [&lt;media&gt;] &lt;metric&gt; &lt;value&gt;|target [clear &lt;value&gt;] [min &lt;n&gt;] [for &lt;duration&gt;]`",
			"/sla set default voice sl target min 20", "`/sla unset &lt;queue&gt;|default [&lt;media&gt;] [&lt;metric&gt;]`",
			"/sla history", "cannot alert on `longest_wait`", "`/sla preview &lt;queue&gt;", "`/sla hours &lt;queue&gt;|default [&lt;days&gt;",
			"*Clear*:", "*Min*:", "*Business hours*:", "*Storms*:"}},
		{text: "list", want: []string{"*default* longest_wait above 5m _(built-in; SLA_DEFAULT_LONGEST_WAIT)_", "*Snoozes* (0)", "*Routes* (0)"}},
		{text: "set Support wait 5m", want: []string{"Threshold set: *Support* longest_wait above 5m."},
			state: supportQueue + " longest_wait 5m"},
		{text: `set "billing eu" sl 80% for 10m`, want: []string{"*Billing EU* service_level below 80% for 10m"},
			state: supportQueue + " longest_wait 5m; " + billingQueue + " service_level 80% for 10m"},
		{text: "set support wait 300s", want: []string{"It was: *Support* longest_wait above 5m."}},
		{text: "set Billing EU abandon 10 clear 5 min 20", want: []string{"Threshold set: *Billing EU* abandon_rate above 10%, clears at 5% or less, min 20 offered."}},
		{text: `unset "Billing EU" abandon`, want: []string{"Removed:", "abandon_rate above 10%, clears at 5% or less, min 20 offered"},
			state: supportQueue + " longest_wait 5m; " + billingQueue + " service_level 80% for 10m"},
		{text: "set Support wait 5m clear 6m", want: []string{"Usage: `/sla set", "must clear below it"},
			state: supportQueue + " longest_wait 5m; " + billingQueue + " service_level 80% for 10m"},
		{text: "set Suport wait 5m", want: []string{"No queue named 'Suport'; did you mean 'Support'?"},
			state: supportQueue + " longest_wait 5m; " + billingQueue + " service_level 80% for 10m"},
		{text: "set Support wait 5 parsecs", want: []string{"Usage: `/sla set &lt;queue&gt;", "Unknown metric"}},
		{text: "set Support waiting 1000000000000", want: []string{"Usage: `/sla set", "not a whole count"},
			state: supportQueue + " longest_wait 5m; " + billingQueue + " service_level 80% for 10m"},
		{text: "set aaaaaaaa-1111-4222-8333-444444444444 waiting 4", want: []string{"No Genesys event has named queue `aaaaaaaa-1111-4222-8333-444444444444` yet"}},
		{text: "set default wait 10m", want: []string{"*default* longest_wait above 10m"}},
		{text: "unset default wait", want: []string{"Removed:", "The built-in default applies again: *default* longest_wait above 5m"}},
		{text: "unset default wait", want: []string{"Nothing to do: no such threshold: the built-in default (longest_wait 5m) comes from SLA_DEFAULT_LONGEST_WAIT"}},
		{text: "unset aaaaaaaa-1111-4222-8333-444444444444", want: []string{"Removed:", "waiting above 4"},
			state: supportQueue + " longest_wait 5m; " + billingQueue + " service_level 80% for 10m"},
		{text: "status", want: []string{"No open alerts"}},
		{text: "ack Support", want: []string{"Nothing to do: no firing alert on that queue."}},
		{text: "snooze default 30m", want: []string{"Default is the fallback rule, not a queue; use all"}},
		{text: "snooze Billing EU 45m", want: []string{"Snoozed *Billing EU* until <!date^", "(45m)"}},
		{text: "list", want: []string{"*Snoozes* (1)", "• *Billing EU* until <!date^", "by <@U0LEAD001>"}},
		{text: "unsnooze Billing EU", want: []string{"Unsnoozed *Billing EU*"}},
		{text: "unsnooze Billing EU", want: []string{"Nothing to do: that queue is not snoozed."}},
		{text: "route Support <#C0SUPPORT9|support-sla>", want: []string{"Alerts of *Support* now go to <#C0SUPPORT9>."}},
		{text: "route Support #support-leads", want: []string{"now go to <#C0SUPPORT1>"}}, // the channel typed in
		{text: "route Support #elsewhere", want: []string{"Slack sent '#elsewhere' as plain text", "here"}},
		{text: "list", want: []string{"*Routes* (1)", "• *Support* → <#C0SUPPORT1>"}},
		{text: "route Support default", want: []string{"now go to the default channel"}},
		{text: "route default here", want: []string{"Default is the fallback rule, not a queue"}},
		{text: "history Support", want: []string{"*History of Support* (newest first)", "routed *Support* (command): <#C0SUPPORT1> → default channel",
			"set a threshold on *Support* (command): longest_wait 5m → longest_wait 5m"}},
		{text: "history", want: []string{"snoozed *Billing EU*", "unsnoozed *Billing EU*"}},
	}
	for _, s := range steps {
		got := run(s.text)
		for _, w := range s.want {
			if !strings.Contains(got, w) {
				t.Errorf("/sla %s:\n%s\nwant it to contain %q", s.text, got, w)
			}
		}
		if strings.Contains(got, "<queue>") {
			t.Errorf("/sla %s: unescaped markup in %q", s.text, got)
		}
		if s.state != "" {
			if got := thresholds(); got != s.state {
				t.Errorf("after /sla %s: thresholds = %q, want %q", s.text, got, s.state)
			}
		}
	}

	// With an open alert: status and ack from the keyboard.
	e.observe(t, supportQueue, "voice", app.LongestWait, 400)
	e.slack.waitFor(t, "chat.postMessage", 1)
	if got := run("status"); !strings.Contains(got, "*Open alerts* (1)") || !strings.Contains(got, ":rotating_light: *Support (voice)* — Longest wait *6m 40s* (threshold 5m) · firing") {
		t.Errorf("status with an alert:\n%s", got)
	}
	if got := run("ack support"); !strings.Contains(got, "Acknowledged 1 alert on *Support* (Longest wait 6m 40s)") {
		t.Errorf("ack:\n%s", got)
	}
	if upd := e.slack.waitFor(t, "chat.update", 1)[0]; !strings.Contains(upd.text(), "<@U0LEAD001>") {
		t.Errorf("ack from the command did not update the message:\n%s", upd.text())
	}
	if got := run("status"); !strings.Contains(got, "Acknowledged by <@U0LEAD001>") {
		t.Errorf("status after ack:\n%s", got)
	}
}

// TestSlashCommandEscaping: names from Genesys and text from users are
// shown literally, never as mentions or links.
func TestSlashCommandEscaping(t *testing.T) {
	e := newSlackE2E(t, nil)
	evil := "aaaaaaaa-1111-4222-8333-444444444444"
	if err := e.store.SaveQueues(context.Background(), []app.QueueInfo{{ID: evil, Name: "<!channel> & <@U0BOSS001>"}}); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		"set &lt;!channel&gt; &amp; &lt;@U0BOSS001&gt; waiting 3", // as Slack encodes what the user typed
		"list",
		"snooze &lt;!channel&gt; &amp; &lt;@U0BOSS001&gt; 10m",
		"history",
		"set &lt;!here&gt; waiting 3",
		"ack &lt;!everyone&gt;",
		"route Support &lt;!channel&gt;",
		"frobnicate &lt;!channel&gt;",
	} {
		got := runCommand(t, e.h, "U0LEAD001", text)
		for _, bad := range []string{"<!channel>", "<!here>", "<!everyone>", "<@U0BOSS001>"} {
			if strings.Contains(got, bad) {
				t.Errorf("/sla %s: answer contains live markup %q:\n%s", text, bad, got)
			}
		}
		if text == "list" && !strings.Contains(got, "*&lt;!channel&gt; &amp; &lt;@U0BOSS001&gt;* waiting above 3") {
			t.Errorf("list does not show the escaped name:\n%s", got)
		}
	}
}

func TestSlashCommandPermissions(t *testing.T) {
	m := newMemStore()
	h, _ := memServer(t, m, func(d *Deps) { d.Admins = []string{"U0ADMIN01", "U0ADMIN02"} })
	for _, text := range []string{"set Support wait 5m", "unset Support", "route Support here", "rm Support wait", "set nonsense",
		"hours Support always", "hours default Mon-Fri 08:00-18:00 Europe/London", "hours Support Mon-Fri"} {
		got := runCommand(t, h, "U0LEAD001", text)
		if !strings.Contains(got, "Only SLA admins may change thresholds, routes and business hours") || !strings.Contains(got, "<@U0ADMIN01>, <@U0ADMIN02>") {
			t.Errorf("/sla %s by a non-admin: %q", text, got)
		}
	}
	if got := m.recorded(); len(got) != 0 {
		t.Fatalf("denied commands changed %v", got)
	}
	for _, text := range []string{"snooze Support 15m", "unsnooze Support", "ack Support"} {
		runCommand(t, h, "U0LEAD001", text)
	}
	runCommand(t, h, "U0ADMIN02", "set Support wait 5m")
	want := []string{
		"snooze " + supportQueue + " 15m0s by U0LEAD001 via command",
		"unsnooze " + supportQueue + " by U0LEAD001 via command",
		"ackqueue " + supportQueue + " by U0LEAD001",
		"set " + supportQueue + " longest_wait 300 for 0s by U0ADMIN02",
	}
	if got := m.recorded(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changes = %q\nwant %q", got, want)
	}
}

func TestSlashCommandErrorMapping(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{app.ErrUnavailable, "slabot cannot reach its database; try again in a minute."},
		{fmt.Errorf("load: %w", context.DeadlineExceeded), "could not finish in time"},
		{errors.New("boom"), "Something went wrong in slabot"},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			m := newMemStore()
			m.err = tt.err
			h, _ := memServer(t, m, nil)
			for _, text := range []string{"set Support wait 5m", "list", "status", "history"} {
				if got := runCommand(t, h, "U0LEAD001", text); !strings.Contains(got, tt.want) {
					t.Errorf("/sla %s: %q, want %q", text, got, tt.want)
				}
			}
		})
	}
}

func TestSlashCommandBadRequests(t *testing.T) {
	m := newMemStore()
	h, _ := memServer(t, m, nil)
	if got := runCommand(t, h, "", "set Support wait 5m"); !strings.Contains(got, "did not say who you are") {
		t.Errorf("no user: %q", got)
	}
	if got := runCommand(t, h, "U0LEAD001", strings.Repeat("x ", 5000)); !strings.Contains(got, "Too many words") {
		t.Errorf("long text: %q", got)
	}
	w := serve(h, signedRequest(PathSlackCommands, "application/x-www-form-urlencoded", []byte("%zz")))
	if w.Code != 400 {
		t.Errorf("unparsable form: status %d, want 400", w.Code)
	}
	if got := m.recorded(); len(got) != 0 {
		t.Errorf("bad requests changed %v", got)
	}
}
