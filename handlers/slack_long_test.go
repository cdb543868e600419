package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// Tests of issue 13 item 8: long lists never hide things.

// longQueueID is the ID of the i-th queue of the long lists.
func longQueueID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// longQueueName is its name: one has formatting characters in it.
func longQueueName(i int) string {
	if i == 7 {
		return "*Payments *urgent**"
	}
	return fmt.Sprintf("Queue %02d", i)
}

// shownName is how a message shows longQueueName(i).
func shownName(i int) string { return slackapi.Neutralise(longQueueName(i)) }

// longStore is a memStore with 62 open alerts (on queues 0-61: 40
// firing, 10 acknowledged, 8 snoozed, 4 pending), 53 thresholds (default
// and queues 0-51), 2 snoozes, 1 route and 3 business hours.
func longStore(t *testing.T, now time.Time) *memStore {
	t.Helper()
	m := newMemStore()
	m.known = map[string]string{}
	for i := range 62 {
		id := longQueueID(i)
		m.known[id] = longQueueName(i)
		a := app.Alert{ID: app.AlertID(id, "voice", app.Waiting), QueueID: id, QueueName: longQueueName(i), MediaType: "voice",
			Metric: app.Waiting, Value: 20, Threshold: 10, State: app.StateFiring, FiredAt: now.Add(-time.Duration(62-i) * time.Minute)}
		switch {
		case i >= 40 && i < 50:
			a.State, a.AckedBy, a.AckedAt = app.StateAcknowledged, "U0LEAD001", now.Add(-time.Minute)
		case i >= 50 && i < 58:
			a.Muted, a.SnoozedBy, a.SnoozedUntil = true, "U0LEAD002", now.Add(time.Hour)
		case i >= 58:
			a.State, a.FiredAt, a.PendingSince = app.StatePending, time.Time{}, now.Add(-time.Minute)
		}
		m.alerts = append(m.alerts, a)
	}
	m.thresholds = append(m.thresholds, app.Threshold{QueueID: app.DefaultQueue, Metric: app.Waiting, Value: 10, SetBy: "U0LEAD001"})
	for i := range 52 {
		m.thresholds = append(m.thresholds, app.Threshold{QueueID: longQueueID(i), Metric: app.LongestWait, Value: 300, SetBy: "U0LEAD001"})
	}
	hours := func(words string) *app.Hours {
		h, err := app.ParseHours(strings.Fields(words))
		if err != nil {
			t.Fatal(err)
		}
		return &h
	}
	m.queues = []app.Queue{
		{ID: longQueueID(3), SnoozedUntil: now.Add(30 * time.Minute), SnoozedBy: "U0LEAD002", Hours: hours("Mon-Fri 08:00-18:00 Europe/London")},
		{ID: longQueueID(7), SnoozedUntil: now.Add(time.Hour), SnoozedBy: "U0LEAD002", Route: "C0PAYMENTS1"},
		{ID: longQueueID(9), Hours: hours("always")},
		{ID: app.DefaultQueue, Hours: hours("Mon-Sat 07:00-19:00 UTC")},
	}
	return m
}

// readPages runs /sla <text> and its further pages until the last, and
// returns every page; each must fit Slack's clip whole.
func readPages(t *testing.T, h http.Handler, text string) []string {
	t.Helper()
	var pages []string
	pointer := regexp.MustCompile(`Page (\d+) of (\d+)`)
	for n := 1; n <= 20; n++ {
		cmd := text
		if n > 1 {
			cmd += fmt.Sprintf(" page %d", n)
		}
		got := runCommand(t, h, "U0LEAD009", cmd)
		if strings.Contains(got, "(cut short)") || utf8.RuneCountInString(got) > maxReply {
			t.Fatalf("/sla %s is cut short (%d runes):\n%s", cmd, utf8.RuneCountInString(got), got)
		}
		pages = append(pages, got)
		mm := pointer.FindStringSubmatch(got)
		if mm == nil {
			if n > 1 {
				t.Fatalf("/sla %s names no page:\n%s", cmd, got)
			}
			return pages
		}
		if mm[1] != fmt.Sprint(n) {
			t.Fatalf("/sla %s says page %s:\n%s", cmd, mm[1], got)
		}
		if mm[1] == mm[2] {
			if !strings.Contains(got, "the last") {
				t.Errorf("the last page of /sla %s does not say so:\n%s", text, got)
			}
			return pages
		}
		if want := fmt.Sprintf("`/sla %s page %d` for more.", text, n+1); !strings.Contains(got, want) {
			t.Errorf("page %d of /sla %s lacks %q:\n%s", n, text, want, got)
		}
	}
	t.Fatalf("/sla %s has more than 20 pages", text)
	return nil
}

// countItems counts, over pages, the item lines ("• …") that name
// longQueueName(i) in bold, for each i.
func countItems(pages []string) map[int]int {
	n := make(map[int]int)
	for _, p := range pages {
		for _, line := range strings.Split(p, "\n") {
			if !strings.HasPrefix(line, "• ") && !strings.HasPrefix(line, "• :") {
				continue
			}
			for i := range 62 {
				if strings.Contains(line, "*"+shownName(i)+"*") || strings.Contains(line, "*"+shownName(i)+" (voice)*") {
					n[i]++
				}
			}
		}
	}
	return n
}

// TestLongListsHideNothing: with 62 open alerts and 53 thresholds,
// /sla status and /sla list page instead of cutting short: reading every
// page yields every queue exactly once, every page shows every section
// with its count, filters show what they name, a page past the end says
// how many there are, names with formatting characters show literally,
// and the App Home's pointer to /sla status is true.
func TestLongListsHideNothing(t *testing.T) {
	now := time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC) // a Monday
	m := longStore(t, now)
	home := &homeRecorder{}
	h, bg := memServer(t, m, func(d *Deps) {
		d.Clock = app.NewManualClock(now)
		d.Home = home
		d.Slack.TeamID = slackTestTeam
	})

	// /sla status: every open alert once, over several pages.
	pages := readPages(t, h, "status")
	if len(pages) < 2 {
		t.Fatalf("62 open alerts fit on %d page:\n%s", len(pages), pages[0])
	}
	for n, p := range pages {
		if !strings.Contains(p, "*Open alerts* (62)") {
			t.Errorf("status page %d lacks the section's count:\n%s", n+1, p)
		}
	}
	if !strings.Contains(pages[0], "62 open alerts: 40 firing, 10 acknowledged, 8 snoozed, 4 pending.") {
		t.Errorf("status page 1 lacks the counts by state:\n%s", pages[0])
	}
	seen := countItems(pages)
	for i := range 62 {
		if seen[i] != 1 {
			t.Errorf("status pages show %s %d times, want once", longQueueName(i), seen[i])
		}
	}
	last := len(pages)
	want := fmt.Sprintf("There is no page %d: `/sla status` has %d pages; `/sla status page %d` is the last.", last+1, last, last)
	if got := runCommand(t, h, "U0LEAD009", fmt.Sprintf("status page %d", last+1)); got != want {
		t.Errorf("a page past the end:\n%s\nwant %q", got, want)
	}
	if got := runCommand(t, h, "U0LEAD009", "status page 0"); !strings.Contains(got, "pages count from 1") {
		t.Errorf("status page 0:\n%s", got)
	}

	// Filters.
	for _, f := range []struct {
		text, title, state string
		queues             []int
	}{
		{"status firing", "*Open alerts, firing* (40)", "· firing", nil},
		{"status acked", "*Open alerts, acknowledged* (10)", "· acknowledged", nil},
		{"status snoozed", "*Open alerts, snoozed* (8)", "· snoozed by <@U0LEAD002>", nil},
		{"status pending", "*Open alerts, pending* (4)", "· pending", nil},
		{"status queue 41", "*Open alerts of Queue 41* (1)", "· acknowledged", []int{41}},
		{`status "*Payments *urgent**"`, "*Open alerts of " + shownName(7) + "* (1)", "· firing", []int{7}},
	} {
		pages := readPages(t, h, f.text)
		got := countItems(pages)
		total := 0
		for _, c := range got {
			total += c
		}
		for _, p := range pages {
			if !strings.Contains(p, f.title) {
				t.Errorf("/sla %s lacks %q:\n%s", f.text, f.title, p)
			}
			for _, line := range strings.Split(p, "\n") {
				if strings.HasPrefix(line, "• ") && !strings.Contains(line, f.state) {
					t.Errorf("/sla %s shows %q", f.text, line)
				}
			}
		}
		for _, i := range f.queues {
			if got[i] != 1 || total != 1 {
				t.Errorf("/sla %s shows %v, want only %s once", f.text, got, longQueueName(i))
			}
		}
	}

	// /sla list: every threshold once; every page keeps every section.
	pages = readPages(t, h, "list")
	if len(pages) < 2 {
		t.Fatalf("53 thresholds fit on one page; make them longer:\n%s", pages[0])
	}
	for n, p := range pages {
		for _, sec := range []string{"*Thresholds* (53)", "*Snoozes* (2)", "*Routes* (1)", "*Business hours* (3)"} {
			if !strings.Contains(p, sec) {
				t.Errorf("list page %d lacks %q:\n%s", n+1, sec, p)
			}
		}
	}
	for _, want := range []string{
		"• *" + shownName(3) + "* until <!date^", "• *" + shownName(7) + "* → <#C0PAYMENTS1>",
		"• *default*: `Mon-Sat 07:00-19:00 UTC`", "• *" + shownName(9) + "*: ",
		"Queues without a route alert in the default channel",
	} {
		if !strings.Contains(pages[0], want) {
			t.Errorf("list page 1 lacks %q:\n%s", want, pages[0])
		}
	}
	all := strings.Join(pages, "\n")
	if n := strings.Count(all, "• *default* waiting above 10"); n != 1 {
		t.Errorf("the default threshold shows %d times over the pages", n)
	}
	for i := range 52 {
		if n := strings.Count(all, "• *"+shownName(i)+"* longest_wait above 5m"); n != 1 {
			t.Errorf("%s's threshold shows %d times over the list pages", longQueueName(i), n)
		}
	}
	if got := runCommand(t, h, "U0LEAD009", "list page 9"); !strings.Contains(got, "There is no page 9: `/sla list` has") {
		t.Errorf("list page 9:\n%s", got)
	}

	// /sla list <queue>: that queue's rules, snooze, route and hours.
	got := runCommand(t, h, "U0LEAD009", `list "*Payments *urgent**"`)
	for _, want := range []string{"*Thresholds* (1)\n• *" + shownName(7) + "* longest_wait above 5m", "*Snoozes* (1)", "*Routes* (1)",
		"*Business hours* (0)\nNone.", "the `default` ones apply"} {
		if !strings.Contains(got, want) {
			t.Errorf("/sla list *Payments…* lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Queue 0") {
		t.Errorf("/sla list *Payments…* shows other queues:\n%s", got)
	}
	if got := runCommand(t, h, "U0LEAD009", "list default"); !strings.Contains(got, "*Thresholds* (1)\n• *default* waiting above 10") ||
		!strings.Contains(got, "*Business hours* (1)\n• *default*") {
		t.Errorf("/sla list default:\n%s", got)
	}

	// The name with formatting characters never shows raw.
	for _, text := range []string{"status", "list", "status firing"} {
		if got := strings.Join(readPages(t, h, text), "\n"); strings.Contains(got, "*Payments *urgent**") {
			t.Errorf("/sla %s shows *Payments *urgent** raw", text)
		}
	}

	// The App Home's pointer says what /sla status gives.
	w := serve(h, signedRequest(PathSlackEvents, "application/json", homeOpened("Ev0LONG0001", "U0LEAD009")))
	if w.Code != http.StatusOK {
		t.Fatalf("app_home_opened: %d", w.Code)
	}
	bg.wait()
	homes := home.published("U0LEAD009")
	if len(homes) != 1 {
		t.Fatalf("App Home published %d times", len(homes))
	}
	view := slackapi.HomeView(homes[0])
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(view); err != nil {
		t.Fatal(err)
	}
	body := buf.String()
	if n := len(view.Blocks.BlockSet); n > 100 {
		t.Errorf("the App Home has %d blocks, Slack takes 100", n)
	}
	for _, want := range []string{"*Open alerts* (62)", "…and 42 more: `/sla status` lists all 62, a page at a time.", "*Thresholds* (53)", "*Snoozes* (2)"} {
		if !strings.Contains(body, want) {
			t.Errorf("the App Home lacks %q", want)
		}
	}
	if strings.Contains(body, "*Payments *urgent**") {
		t.Error("the App Home shows *Payments *urgent** raw")
	}

	// Help shows the new forms and still fits.
	help := runCommand(t, h, "U0LEAD009", "help")
	for _, want := range []string{"/sla status [&lt;queue&gt;|firing|acked|snoozed|pending] [page &lt;n&gt;]", "/sla list [&lt;queue&gt;] [page &lt;n&gt;]"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if strings.Contains(help, "(cut short)") || !strings.Contains(help, "*Storms*") {
		t.Errorf("help is cut short:\n%s", help)
	}
}
