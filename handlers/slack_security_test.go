package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// A queue name from a webhook that holds a mention stays inert wherever it
// reaches an answer, errors included; only the entities slabot writes
// itself (the acknowledger, a route's channels) are live (issue 14,
// finding 5).
func TestMentionsInAnswersStayInert(t *testing.T) {
	const boss = "aaaaaaaa-1111-4222-8333-444444444444"
	m := newMemStore()
	m.known[boss] = "<@U0BOSS>"
	m.history = []app.HistoryEntry{
		{At: time.Unix(1700000000, 0), QueueID: boss, Action: "route", By: "U0LEAD001", Detail: "default channel → <#C0SUPPORT1>"},
		{At: time.Unix(1700000000, 0), QueueID: boss, Action: "set", By: "U0LEAD001", Detail: "waiting above 3 <@U0BOSS> <#C0EVIL001>"},
	}
	h, _ := memServer(t, m, nil)
	for _, text := range []string{
		"snooze &lt;@U0BOS&gt; 1h", // a typo: "did you mean '<@U0BOSS>'?"
		"snooze &lt;@U0BOSS 1h",
		"set &lt;@U0BOS&gt; waiting 3",
		"history",
	} {
		got := runCommand(t, h, "U0LEAD001", text)
		if strings.Contains(got, "<@U0BOSS>") || strings.Contains(got, "<#C0EVIL001>") {
			t.Errorf("/sla %s: a live mention from a queue name:\n%s", text, got)
		}
		if text == "snooze &lt;@U0BOS&gt; 1h" && !strings.Contains(got, "did you mean '&lt;@U0BOSS&gt;'?") {
			t.Errorf("/sla %s: want the suggestion, escaped:\n%s", text, got)
		}
		if text == "history" && !strings.Contains(got, "default channel → <#C0SUPPORT1>") {
			t.Errorf("/sla history: the route's channel link is not live:\n%s", got)
		}
	}
	if got := safeMrkdwn("already acknowledged by <@U0LEAD001> in <@U0BOSS>", "<@U0LEAD001>"); got != "already acknowledged by <@U0LEAD001> in &lt;@U0BOSS&gt;" {
		t.Errorf("safeMrkdwn restores %q", got)
	}
	if got := safeMrkdwn("<!channel>", "<!channel>"); got != "&lt;!channel&gt;" {
		t.Errorf("safeMrkdwn restored a broadcast it was handed: %q", got)
	}
}

// With SLA_ADMINS set, only admins snooze or unsnooze all queues, whether
// by command, from the App Home, or by an alert's Unsnooze button that
// would end the all-queues snooze; anyone still snoozes one queue
// (issue 14, finding 9).
func TestSnoozeAllNeedsAdmin(t *testing.T) {
	const admin, user = "U0ADMIN01", "U0LEAD001"
	e := newSlackE2E(t, func(d *Deps) { d.Admins = []string{admin} })
	allSnoozed := func() bool {
		qs, err := e.store.QueueStates(context.Background(), []string{app.DefaultQueue}) // where the store keeps the all-queues snooze
		if err != nil {
			t.Fatal(err)
		}
		return len(qs) > 0 && qs[0].SnoozedUntil.After(time.Now())
	}
	refused := "Only SLA admins may change thresholds, routes and business hours, or snooze all queues"
	if got := runCommand(t, e.h, user, "snooze all 1h"); !strings.Contains(got, refused) {
		t.Errorf("snooze all by a non-admin: %s", got)
	}
	if allSnoozed() {
		t.Fatal("a non-admin snoozed all queues")
	}
	if got := runCommand(t, e.h, user, "snooze Support 15m"); !strings.Contains(got, "Snoozed *Support*") {
		t.Errorf("snooze of one queue by a non-admin: %s", got)
	}
	if got := runCommand(t, e.h, admin, "snooze all 1h"); !strings.Contains(got, "Snoozed *all queues*") || !allSnoozed() {
		t.Fatalf("snooze all by an admin: %s", got)
	}
	if got := runCommand(t, e.h, user, "unsnooze ALL"); !strings.Contains(got, refused) || !allSnoozed() {
		t.Errorf("unsnooze all by a non-admin: %s", got)
	}

	e.observe(t, billingQueue, "voice", app.LongestWait, 400) // muted, but an alert exists
	a, ok := e.openAlert(t, app.AlertID(billingQueue, "voice", app.LongestWait))
	if !ok {
		t.Fatal("no alert")
	}
	for _, action := range []map[string]any{
		actionJSON(slackapi.ActionUnsnoozeQueue, "b", app.AllQueues, ""),
		actionJSON(slackapi.ActionUnsnooze, "b", slackapi.AlertValue(a), ""),
	} {
		click{user: user, home: true, action: action}.send(t, e.h)
		e.bg.wait()
		pubs := e.slack.of("views.publish")
		if len(pubs) == 0 || !strings.Contains(pubs[len(pubs)-1].text(), "nly SLA admins may end the snooze of all queues") {
			t.Errorf("%s by a non-admin: home notice %v", action["action_id"], pubs)
		}
		if !allSnoozed() {
			t.Fatalf("%s by a non-admin ended the snooze of all queues", action["action_id"])
		}
	}
	if got := runCommand(t, e.h, admin, "unsnooze all"); !strings.Contains(got, "Unsnoozed *all queues*") || allSnoozed() {
		t.Errorf("unsnooze all by an admin: %s", got)
	}
}
