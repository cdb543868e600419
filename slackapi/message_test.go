package slackapi

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/slabot/slabot/app"
)

const testAppsURL = "https://apps.mypurecloud.com"

// decodeBlocks returns blocks as Slack receives them, checking on the way
// that slack-go can read them back (what Slack sends in block_actions).
func decodeBlocks(t *testing.T, blocks []slack.Block) []map[string]any {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatalf("marshal blocks: %v", err)
	}
	var typed slack.Blocks
	if err := json.Unmarshal(raw, &typed); err != nil {
		t.Fatalf("slack-go cannot read the blocks back: %v\n%s", err, raw)
	}
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("unmarshal blocks: %v", err)
	}
	return out
}

func TestAlertMessageStates(t *testing.T) {
	now := testFiredAt.Add(4*time.Minute + 2*time.Second)
	ackedAt := time.Unix(1700000400, 0) // 22:20 UTC

	acked := firingAlert()
	acked.State, acked.AckedBy, acked.AckedAt = app.StateAcknowledged, "U123", ackedAt

	resolved := firingAlert()
	resolved.State, resolved.Value, resolved.ResolvedAt = app.StateResolved, 130, testFiredAt.Add(12*time.Minute+5*time.Second)

	resolvedBy := resolved
	resolvedBy.Value, resolvedBy.ResolvedBy = 372, "U9"

	muted := firingAlert()
	muted.Muted, muted.SnoozedUntil, muted.SnoozedBy = true, testFiredAt.Add(time.Hour), "U7"

	oldMuted := firingAlert() // a record from before who snoozed was kept
	oldMuted.Muted = true

	waited := firingAlert() // fired after a rule's 2-minute "for" wait
	waited.PendingSince, waited.ValueAt, waited.Peak = testFiredAt.Add(-2*time.Minute), testFiredAt.Add(4*time.Minute), floatPtr(410)

	unsnoozed := firingAlert()
	unsnoozed.SnoozeEndedBy = "U8"

	removed := firingAlert()
	removed.State, removed.ResolvedAt, removed.RuleRemoved, removed.RuleRemovedBy = app.StateResolved, testFiredAt.Add(12*time.Minute+5*time.Second), true, "U5"

	bare := firingAlert()
	bare.MediaType, bare.QueueWaiting, bare.QueueAgents, bare.QueueName = "", nil, nil, ""

	tests := []struct {
		name     string
		alert    app.Alert
		appsURL  string
		fallback string
		want     []string
		notWant  []string
		actions  []string
	}{
		{
			name: "firing", alert: firingAlert(), appsURL: testAppsURL,
			fallback: "SLA breach: Support — Longest wait 6m 12s (threshold 5m)",
			want: []string{":rotating_light: *SLA breach: Support*", "*Longest wait* is *6m 12s* (threshold 5m)",
				"Breach started <!date^1700000000^{date_short_pretty} {time}|Nov 14 22:13 UTC>.", "*Media type*\nvoice", "*Waiting*\n14", "*Agents on queue*\n3",
				"<https://apps.mypurecloud.com/directory/#/admin/admin/organization/_queuesV2/q-1|Open in Genesys Cloud>"},
			notWant: []string{"Acknowledged by", "Snoozed", "Breaching for", "as of", "peak"},
			actions: []string{ActionAck, ActionChart, ActionResolve, ActionSnooze},
		},
		{
			name: "acknowledged", alert: acked, appsURL: testAppsURL,
			fallback: "SLA breach (acknowledged): Support — Longest wait 6m 12s (threshold 5m)",
			want:     []string{":eyes:", "Acknowledged by <@U123> at <!date^1700000400^{time}|22:20 UTC>.", "Breach started <!date^1700000000^"},
			actions:  []string{ActionChart, ActionResolve, ActionSnooze},
		},
		{
			name: "resolved", alert: resolved, appsURL: testAppsURL,
			fallback: "Resolved: Support — Longest wait 2m 10s (threshold 5m)",
			want:     []string{":white_check_mark: *Resolved: Support*", "*Longest wait* is back to 2m 10s (threshold 5m)", "Resolved after 12m 5s."},
			notWant:  []string{"Breaching for", " by "},
		},
		{
			name: "resolved by hand", alert: resolvedBy,
			fallback: "Resolved: Support — Longest wait 6m 12s (threshold 5m)",
			want:     []string{"*Longest wait* was 6m 12s (threshold 5m)", "Resolved after 12m 5s by <@U9>."},
			notWant:  []string{"Open in Genesys Cloud"},
		},
		{
			name: "snoozed", alert: muted,
			fallback: "SLA breach (snoozed): Support — Longest wait 6m 12s (threshold 5m)",
			want: []string{":zzz:", "(snoozed)",
				"Snoozed by <@U7> until <!date^1700003600^{date_short_pretty} {time}|Nov 14 23:13 UTC>: no reminders or new alerts for this queue until then."},
			notWant: []string{"Breaching for"},
			actions: []string{ActionAck, ActionChart, ActionResolve, ActionSnooze, ActionUnsnooze},
		},
		{
			name: "snoozed, record without who or until", alert: oldMuted,
			fallback: "SLA breach (snoozed): Support — Longest wait 6m 12s (threshold 5m)",
			want:     []string{"Snoozed: no reminders or new alerts for this queue until the snooze ends."},
			actions:  []string{ActionAck, ActionChart, ActionResolve, ActionSnooze, ActionUnsnooze},
		},
		{
			name: "after a for wait, with peak and value time", alert: waited,
			fallback: "SLA breach: Support — Longest wait 6m 12s (threshold 5m)",
			want: []string{"*Longest wait* is *6m 12s*, as of <!date^1700000240^{date_short_pretty} {time}|Nov 14 22:17 UTC> (threshold 5m)",
				"Breach started <!date^1699999880^{date_short_pretty} {time}|Nov 14 22:11 UTC>; peak 6m 50s."},
			actions: []string{ActionAck, ActionChart, ActionResolve, ActionSnooze},
		},
		{
			name: "snooze ended early", alert: unsnoozed,
			fallback: "SLA breach: Support — Longest wait 6m 12s (threshold 5m)",
			want:     []string{"Snooze ended early by <@U8>."},
			actions:  []string{ActionAck, ActionChart, ActionResolve, ActionSnooze},
		},
		{
			name: "closed because its threshold was removed", alert: removed,
			fallback: "Alert closed (threshold removed): Support — Longest wait 6m 12s (threshold 5m)",
			want: []string{":no_bell: *Alert closed: Support*", "*Longest wait* was 6m 12s (threshold 5m, now removed)",
				"Closed after 12m 5s: threshold removed by <@U5>; this queue no longer alerts on it."},
			notWant: []string{"back to", "Resolved"},
		},
		{
			name: "without context or name", alert: bare,
			fallback: "SLA breach: q-1 — Longest wait 6m 12s (threshold 5m)",
			want:     []string{"*SLA breach: q-1*"},
			notWant:  []string{"Media type", "Waiting", "Agents on queue", "Open in Genesys Cloud"},
			actions:  []string{ActionAck, ActionChart, ActionResolve, ActionSnooze},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, blocks := AlertMessage(tt.alert, now, tt.appsURL)
			if text != tt.fallback {
				t.Errorf("text = %q, want %q", text, tt.fallback)
			}
			decoded := decodeBlocks(t, blocks)
			all := texts(decoded)
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("blocks lack %q; texts:\n%s", w, all)
				}
			}
			for _, nw := range tt.notWant {
				if strings.Contains(all, nw) {
					t.Errorf("blocks contain %q; texts:\n%s", nw, all)
				}
			}
			var got []string
			for id := range elementsByAction(decoded) {
				got = append(got, id)
			}
			slices.Sort(got)
			want := slices.Clone(tt.actions)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("action_ids = %v, want %v", got, want)
			}
		})
	}
}

func TestAlertMessageControls(t *testing.T) {
	a := firingAlert()
	_, blocks := AlertMessage(a, testFiredAt, testAppsURL)
	els := elementsByAction(decodeBlocks(t, blocks))
	value := "q-1/voice/longest_wait|3"

	for _, id := range []string{ActionAck, ActionResolve, ActionChart} {
		if got := els[id]["value"]; got != value {
			t.Errorf("%s value = %v, want %q", id, got, value)
		}
		if got, _ := els[id]["_block_id"].(string); BlockBase(got) != BlockActions {
			t.Errorf("%s block_id = %v, want %q", id, got, BlockActions)
		}
	}
	resolve := els[ActionResolve]
	if resolve["style"] != "danger" || resolve["confirm"] == nil {
		t.Errorf("resolve button = %v, want style danger with a confirm dialog", resolve)
	}

	snooze := els[ActionSnooze]
	if got, _ := snooze["_block_id"].(string); BlockBase(got) != value {
		t.Errorf("snooze block_id = %v, want %q", got, value)
	}
	if got := snooze["type"]; got != "static_select" {
		t.Errorf("snooze type = %v, want static_select", got)
	}
	var values []string
	for _, o := range snooze["options"].([]any) {
		values = append(values, o.(map[string]any)["value"].(string))
	}
	if want := SnoozeChoices(); !slices.Equal(values, want) {
		t.Errorf("snooze options = %v, want %v", values, want)
	}
	for _, v := range values {
		if _, err := app.ParseDuration(v); err != nil {
			t.Errorf("snooze option %q does not parse: %v", v, err)
		}
	}
}

func TestAlertMessageEscapesGenesysText(t *testing.T) {
	a := firingAlert()
	a.QueueName = "<!channel> & <@U123>"
	a.MediaType = "<!here>"
	text, blocks := AlertMessage(a, testFiredAt, testAppsURL)
	all := texts(decodeBlocks(t, blocks)) + text

	if !strings.Contains(all, "*SLA breach: &lt;!channel&gt; &amp; &lt;@U123&gt;*") {
		t.Errorf("queue name not escaped; texts:\n%s", all)
	}
	for _, markup := range []string{"<!channel>", "<@U123>", "<!here>"} {
		if strings.Contains(all, markup) {
			t.Errorf("message contains live markup %q; texts:\n%s", markup, all)
		}
	}
}

func TestAlertMessageClipsLongNames(t *testing.T) {
	a := firingAlert()
	a.QueueName = strings.Repeat("&", 5000)
	_, blocks := AlertMessage(a, testFiredAt, "")
	for _, b := range decodeBlocks(t, blocks) {
		walk(b, func(m map[string]any) {
			if s, ok := m["text"].(string); ok && len(s) > 2000 {
				t.Errorf("text object of %d characters exceeds Slack's limits", len(s))
			}
		})
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Support", "Support"},
		{"A & B", "A &amp; B"},
		{"<!channel>", "&lt;!channel&gt;"},
		{"&lt;", "&amp;lt;"},
		{"*bold* _it_", "*bold* _it_"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAlertValueRoundTrip(t *testing.T) {
	for _, a := range []app.Alert{
		{ID: app.AlertID("q-1", "voice", app.LongestWait), Episode: 3},
		{ID: app.AlertID("0a1b2c3d-0000-4000-8000-000000000001", "", app.ServiceLevel), Episode: 1},
		{ID: app.AlertID("q-1", "odd|media", app.Waiting), Episode: 12},
	} {
		t.Run(a.ID, func(t *testing.T) {
			id, ep, err := ParseAlertValue(AlertValue(a))
			if err != nil {
				t.Fatalf("ParseAlertValue(%q): %v", AlertValue(a), err)
			}
			if id != a.ID || ep != a.Episode {
				t.Errorf("got (%q, %d), want (%q, %d)", id, ep, a.ID, a.Episode)
			}
		})
	}
}

func TestParseAlertValueRejects(t *testing.T) {
	for _, v := range []string{
		"",
		"q-1/voice/longest_wait",
		"q-1/voice/longest_wait|",
		"q-1/voice/longest_wait|x",
		"q-1/voice/longest_wait|0",
		"q-1/voice/longest_wait|-2",
		"q-1/voice/wait|3",       // alias, not a metric's wire name
		"q-1|3",                  // not an alert ID
		"<!channel>/x/waiting|1", // bad queue ID
		"default/voice/waiting|1",
	} {
		t.Run(v, func(t *testing.T) {
			_, _, err := ParseAlertValue(v)
			if !errors.Is(err, app.ErrNotFound) {
				t.Errorf("ParseAlertValue(%q) error = %v, want app.ErrNotFound", v, err)
			}
		})
	}
}

func TestReplyText(t *testing.T) {
	now := testFiredAt.Add(15 * time.Minute)
	resolved := firingAlert()
	resolved.State, resolved.Value, resolved.ResolvedAt = app.StateResolved, 130, testFiredAt.Add(12*time.Minute+5*time.Second)
	byHand := resolved
	byHand.Value, byHand.ResolvedBy = 372, "U9"
	removed := byHand
	removed.ResolvedBy, removed.RuleRemoved, removed.RuleRemovedBy = "", true, "U5"
	evil := firingAlert()
	evil.QueueName = "<!everyone>"

	tests := []struct {
		name, reason, mention string
		alert                 app.Alert
		want                  string
	}{
		{"resolved", "resolved", "<!here>", resolved,
			":white_check_mark: Resolved: *Support* longest wait is back to 2m 10s (threshold 5m) after 12m 5s."},
		{"threshold removed", "resolved", "", removed,
			":no_bell: Alert closed after 12m 5s: threshold removed by <@U5>. *Support* longest wait was 6m 12s (threshold 5m)."},
		{"resolved by hand", "resolved", "", byHand,
			":white_check_mark: Resolved by <@U9> after 12m 5s: *Support* longest wait is 6m 12s (threshold 5m)."},
		{"reminder with mention", "reminder", "<!here>", firingAlert(),
			"<!here> :alarm_clock: Still breaching after 15m and not acknowledged. *Support* longest wait is 6m 12s (threshold 5m)."},
		{"reminder without mention", "reminder", "", firingAlert(),
			":alarm_clock: Still breaching after 15m and not acknowledged. *Support* longest wait is 6m 12s (threshold 5m)."},
		{"unknown reason", "mystery", "<!here>", evil,
			":information_source: *&lt;!everyone&gt;*: longest wait is 6m 12s (threshold 5m)."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replyText(tt.alert, tt.reason, now, tt.mention); got != tt.want {
				t.Errorf("replyText = %q\nwant        %q", got, tt.want)
			}
		})
	}
}

func TestUserMention(t *testing.T) {
	tests := []struct{ in, want string }{
		{"U123ABC", "<@U123ABC>"},
		{"W0ENTERPRISE1", "<@W0ENTERPRISE1>"},
		{"U1> <!channel", "U1&gt; &lt;!channel"},
		{"alice", "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := userMention(tt.in); got != tt.want {
				t.Errorf("userMention(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func BenchmarkAlertMessage(b *testing.B) {
	a := firingAlert()
	a.State, a.AckedBy, a.AckedAt = app.StateAcknowledged, "U123", testFiredAt.Add(time.Minute)
	now := testFiredAt.Add(5 * time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		AlertMessage(a, now, testAppsURL)
	}
}

// TestContinuedMessage: the message of a snoozed episode whose breach was
// posted afresh is closed: no buttons, no menu, why, and a link to the
// new message.
func TestContinuedMessage(t *testing.T) {
	snoozed := firingAlert()
	snoozed.Muted, snoozed.SnoozedUntil, snoozed.SnoozedBy = true, testFiredAt.Add(time.Hour), "U7"
	endedEarly := snoozed
	endedEarly.SnoozeEndedBy = "U8"
	tests := []struct {
		name   string
		alert  app.Alert
		nextTS string
		now    time.Time
		want   []string
	}{
		{"snooze ran out", snoozed, "1700003601.000200", testFiredAt.Add(time.Hour + time.Second), []string{
			":arrow_down: *SLA breach: Support* (continues in a new message)",
			"The snooze ended <!date^1700003600^{date_short_pretty} {time}|Nov 14 23:13 UTC> while the queue still breached; " +
				"the breach continues in <https://slack.com/archives/C1/p1700003601000200|a new message>."}},
		{"ended early", endedEarly, "1700000600.000300", testFiredAt.Add(10 * time.Minute), []string{
			"The snooze was ended by <@U8> <!date^1700000600^{date_short_pretty} {time}|Nov 14 22:23 UTC> while the queue still breached; " +
				"the breach continues in <https://slack.com/archives/C1/p1700000600000300|a new message>."}},
		{"new message not posted", endedEarly, "", testFiredAt.Add(10 * time.Minute), []string{
			"the breach continues in a new message below."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, blocks := ContinuedMessage(tt.alert, tt.alert.Channel, tt.nextTS, tt.now, testAppsURL)
			if want := "SLA breach continues in a new message: Support — Longest wait 6m 12s (threshold 5m)"; text != want {
				t.Errorf("text = %q, want %q", text, want)
			}
			decoded := decodeBlocks(t, blocks)
			all := texts(decoded)
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("blocks lack %q; texts:\n%s", w, all)
				}
			}
			if ids := elementsByAction(decoded); len(ids) != 0 {
				t.Errorf("a closed message has controls: %v", ids)
			}
		})
	}
}

func TestPermalink(t *testing.T) {
	if got, want := Permalink("C0ALERTS1", "1700000000.000100"), "https://slack.com/archives/C0ALERTS1/p1700000000000100"; got != want {
		t.Errorf("Permalink = %q, want %q", got, want)
	}
	for _, bad := range [][2]string{{"", "1.2"}, {"C1", ""}, {"C1|x", "1.2"}, {"C1", "1.2>"}} {
		if got := Permalink(bad[0], bad[1]); got != "" {
			t.Errorf("Permalink(%q, %q) = %q, want none", bad[0], bad[1], got)
		}
	}
}
