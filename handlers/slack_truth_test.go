package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// Tests of issue 13: what a supervisor reads stays true for the whole
// episode (who snoozed until when, where a snoozed breach went on, when
// it started, its value's age and peak, why it closed).

// observeAt feeds one observation stamped at the clock's time, as the
// webhook and the poller stamp theirs.
func (e *clockedE2E) observeAt(t *testing.T, queue, media string, m app.Metric, v float64) {
	t.Helper()
	e.seq++
	ev := app.Event{Key: fmt.Sprintf("ev-at-%d", e.seq), QueueID: queue, At: e.clock.Now(),
		Observations: []app.Observation{{QueueID: queue, MediaType: media, Metric: m, Value: v}}}
	if _, err := e.engine.Ingest(context.Background(), ev); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

// homeText opens the App Home as user and returns what it shows.
func (e *clockedE2E) homeText(t *testing.T, user string) string {
	t.Helper()
	e.seq++
	w := serve(e.h, signedRequest(PathSlackEvents, "application/json", homeOpened(fmt.Sprintf("Ev0TRUTH%03d", e.seq), user)))
	if w.Code != http.StatusOK {
		t.Fatalf("app_home_opened: status %d: %s", w.Code, w.Body)
	}
	e.bg.wait()
	pubs := e.slack.of("views.publish")
	if len(pubs) == 0 {
		t.Fatal("the App Home was not published")
	}
	return pubs[len(pubs)-1].text()
}

// updatesOf returns the chat.update calls of message ts, oldest first.
func (e *clockedE2E) updatesOf(ts string) []webCall {
	var out []webCall
	for _, c := range e.slack.of("chat.update") {
		if c.Form.Get("ts") == ts {
			out = append(out, c)
		}
	}
	return out
}

// slackDateOf is how a message shows t: a date Slack renders in the
// reader's zone, with a UTC fallback.
func slackDateOf(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("Jan 2 15:04 UTC"))
}

// TestSnoozeShowsWhoUntilWhenAndWhereItContinues (issue 13, items 1 and
// 2): a snoozed alert says who snoozed it and until when, in its message,
// in /sla status and in the App Home, never the breach's age as the
// snooze's. Ending the snooze on a live breach, by hand or by its expiry,
// posts the breach afresh and closes the old message: no buttons, who
// ended it, and a link to the new one.
func TestSnoozeShowsWhoUntilWhenAndWhereItContinues(t *testing.T) {
	e := newClockedE2E(t, engine.Options{}, []app.QueueInfo{{ID: supportQueue, Name: "Support"}, {ID: billingQueue, Name: "Billing EU"}})
	start := time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC)
	e.clock.Set(start)
	runCommand(t, e.h, "U0LEAD001", "set default waiting 10")
	e.observeAt(t, supportQueue, "voice", app.Waiting, 15)
	e.observeAt(t, billingQueue, "voice", app.Waiting, 15)
	posts := e.slack.waitFor(t, "chat.postMessage", 2)
	support, billing := posts[0], posts[1]

	if got := runCommand(t, e.h, "U0LEAD001", "snooze Support 1h"); !strings.Contains(got, "Snoozed") {
		t.Fatalf("snooze: %s", got)
	}
	if got := runCommand(t, e.h, "U0LEAD002", `snooze "Billing EU" 30m`); !strings.Contains(got, "Snoozed") {
		t.Fatalf("snooze: %s", got)
	}
	e.settle(t)
	until := start.Add(time.Hour)
	snoozedBy := "Snoozed by <@U0LEAD001> until " + slackDateOf(until) + ": no reminders or new alerts for this queue until then."
	if upd := e.updatesOf(support.RespTS); len(upd) == 0 || !strings.Contains(upd[len(upd)-1].text(), snoozedBy) {
		t.Errorf("Support's message once snoozed:\n%v\nwant it to say %q", texts(upd), snoozedBy)
	}

	e.clock.Advance(17 * time.Minute)
	for where, got := range map[string]string{
		"/sla status": runCommand(t, e.h, "U0LEAD003", "status"),
		"App Home":    e.homeText(t, "U0LEAD003"),
	} {
		want := ":zzz: *Support (voice)* — Waiting *15* (threshold 10) · snoozed by <@U0LEAD001> until " + slackDateOf(until) +
			", breaching since " + slackDateOf(start)
		if !strings.Contains(got, want) {
			t.Errorf("%s:\n%s\nwant it to contain %q", where, got, want)
		}
		if strings.Contains(got, "snoozed for") {
			t.Errorf("%s shows the breach's age as the snooze's:\n%s", where, got)
		}
	}

	// Support: ended by hand.
	if got := runCommand(t, e.h, "U0LEAD004", "unsnooze Support"); !strings.Contains(strings.ToLower(got), "unsnoozed") {
		t.Fatalf("unsnooze: %s", got)
	}
	e.settle(t)
	posts = e.slack.of("chat.postMessage")
	if len(posts) != 3 || posts[2].Form.Get("thread_ts") != "" || !strings.Contains(posts[2].text(), "SLA breach: Support") {
		t.Fatalf("after unsnooze, messages = %v; want a fresh Support alert", texts(posts))
	}
	fresh := posts[2]
	if got := fresh.text(); !strings.Contains(got, "Snooze ended early by <@U0LEAD004>.") || !strings.Contains(got, "Breach started "+slackDateOf(start)) {
		t.Errorf("the fresh alert does not say who ended the snooze, or when the breach began:\n%s", got)
	}
	upd := e.updatesOf(support.RespTS)
	closed := upd[len(upd)-1]
	link := "<https://slack.com/archives/" + slackTestChan + "/p" + strings.ReplaceAll(fresh.RespTS, ".", "") + "|a new message>"
	for _, want := range []string{"(continues in a new message)", "The snooze was ended by <@U0LEAD004> " + slackDateOf(e.clock.Now()),
		"the breach continues in " + link + "."} {
		if !strings.Contains(closed.text(), want) {
			t.Errorf("the old Support message after unsnooze:\n%s\nwant it to contain %q", closed.text(), want)
		}
	}
	if b := buttons(closed.blocks(t)); len(b) != 0 {
		t.Errorf("the old Support message keeps controls: %v", b)
	}

	// Billing EU: the snooze runs out.
	e.clock.Set(start.Add(30 * time.Minute))
	e.tick(t)
	e.settle(t)
	posts = e.slack.of("chat.postMessage")
	if len(posts) != 4 || !strings.Contains(posts[3].text(), "SLA breach: Billing EU") {
		t.Fatalf("after Billing EU's snooze ran out, messages = %v", texts(posts))
	}
	upd = e.updatesOf(billing.RespTS)
	closed = upd[len(upd)-1]
	link = "<https://slack.com/archives/" + slackTestChan + "/p" + strings.ReplaceAll(posts[3].RespTS, ".", "") + "|a new message>"
	if want := "The snooze ended " + slackDateOf(start.Add(30*time.Minute)) + " while the queue still breached; the breach continues in " + link + "."; !strings.Contains(closed.text(), want) {
		t.Errorf("the old Billing EU message:\n%s\nwant it to contain %q", closed.text(), want)
	}
	if b := buttons(closed.blocks(t)); len(b) != 0 {
		t.Errorf("the old Billing EU message keeps controls: %v", b)
	}
}

// TestMessageShowsBreachStartValueTimeAndPeak (issue 13, item 3): an
// alert fired after its rule's "for" wait says when the breach started
// (not "Breaching for 0s"), its value with when it was observed, and the
// episode's peak; the alert re-posted when business hours open shows the
// value's real, older observation time.
func TestMessageShowsBreachStartValueTimeAndPeak(t *testing.T) {
	e := newClockedE2E(t, engine.Options{}, []app.QueueInfo{{ID: supportQueue, Name: "Support"}, {ID: billingQueue, Name: "Billing EU"}})
	start := time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC) // a Friday
	e.clock.Set(start)
	runCommand(t, e.h, "U0LEAD001", "set Support waiting 10 for 5m")
	e.observeAt(t, supportQueue, "voice", app.Waiting, 12)
	e.clock.Advance(2 * time.Minute)
	e.observeAt(t, supportQueue, "voice", app.Waiting, 25)
	e.clock.Advance(2 * time.Minute)
	e.observeAt(t, supportQueue, "voice", app.Waiting, 18)
	e.clock.Set(start.Add(5 * time.Minute))
	e.tick(t)
	post := e.slack.waitFor(t, "chat.postMessage", 1)[0]
	got := post.text()
	for _, want := range []string{
		"*Waiting* is *18*, as of " + slackDateOf(start.Add(4*time.Minute)) + " (threshold 10)",
		"Breach started " + slackDateOf(start) + "; peak 25.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("alert after a for wait:\n%s\nwant it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "Breaching for") {
		t.Errorf("the message still shows a duration frozen at posting:\n%s", got)
	}

	// Business hours: Billing EU breaches on Saturday; the alert posted at
	// Monday's opening says how old that value is.
	runCommand(t, e.h, "U0LEAD001", `set "Billing EU" waiting 10`)
	runCommand(t, e.h, "U0LEAD001", `hours "Billing EU" Mon-Fri 08:00-18:00 UTC`)
	saturday := time.Date(2030, 3, 2, 11, 0, 0, 0, time.UTC)
	e.clock.Set(saturday)
	e.observeAt(t, billingQueue, "voice", app.Waiting, 40)
	e.tick(t)
	opening := time.Date(2030, 3, 4, 8, 0, 0, 0, time.UTC)
	e.clock.Set(opening)
	e.tick(t)
	posts := e.slack.waitFor(t, "chat.postMessage", 2)
	got = posts[1].text()
	for _, want := range []string{"SLA breach: Billing EU",
		"*Waiting* is *40*, as of " + slackDateOf(saturday) + " (threshold 10)",
		"Breach started " + slackDateOf(opening) + "; peak 40."} {
		if !strings.Contains(got, want) {
			t.Errorf("alert at the opening:\n%s\nwant it to contain %q", got, want)
		}
	}
}

// TestUnsetClosesAlertSayingWhoRemovedTheRule (issue 13, item 5): an alert
// whose rule is removed closes at once, saying the threshold was removed
// and by whom, never that the value is "back".
func TestUnsetClosesAlertSayingWhoRemovedTheRule(t *testing.T) {
	e := newClockedE2E(t, engine.Options{}, []app.QueueInfo{{ID: supportQueue, Name: "Support"}})
	e.clock.Set(time.Date(2030, 3, 1, 10, 0, 0, 0, time.UTC))
	runCommand(t, e.h, "U0LEAD001", "set Support agents 2")
	e.observeAt(t, supportQueue, "", app.Agents, 1)
	post := e.slack.waitFor(t, "chat.postMessage", 1)[0]
	e.clock.Advance(4 * time.Minute)
	if got := runCommand(t, e.h, "U0LEAD002", "unset Support agents"); !strings.Contains(got, "emoved") {
		t.Fatalf("unset: %s", got)
	}
	e.settle(t)
	upd := e.updatesOf(post.RespTS)
	if len(upd) == 0 {
		t.Fatal("the alert's message was not updated when its rule was removed")
	}
	got := upd[len(upd)-1].text()
	for _, want := range []string{":no_bell: *Alert closed: Support*", "(threshold 2, now removed)",
		"Closed after 4m: threshold removed by <@U0LEAD002>"} {
		if !strings.Contains(got, want) {
			t.Errorf("the closed message:\n%s\nwant it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "back to") {
		t.Errorf("the closed message says the value is back:\n%s", got)
	}
	if b := buttons(upd[len(upd)-1].blocks(t)); len(b) != 0 {
		t.Errorf("the closed message keeps controls: %v", b)
	}
	replies := e.slack.of("chat.postMessage")
	if len(replies) != 2 || replies[1].Form.Get("thread_ts") != post.RespTS ||
		!strings.Contains(replies[1].text(), "threshold removed by <@U0LEAD002>") {
		t.Errorf("thread reply = %v; want one saying the threshold was removed and by whom", texts(replies))
	}
	if got := runCommand(t, e.h, "U0LEAD001", "status"); !strings.Contains(got, "No open alerts") {
		t.Errorf("status after unset:\n%s", got)
	}
}
