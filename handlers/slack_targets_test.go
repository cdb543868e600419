package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// TestListTargets: /sla list summarises the targets the directory holds,
// flags the email target left at the creation default, and, once a rule
// on target is set, names the queues without one (the first ten, and a
// count); the engine alerts on none of those, however long they wait,
// and holds the others to their own target, which /sla status and the App
// Home name beside the media type.
func TestListTargets(t *testing.T) {
	const (
		support = "10000000-0000-4000-8000-000000000001"
		claims  = "10000000-0000-4000-8000-000000000002"
		returns = "10000000-0000-4000-8000-000000000003"
		night   = "10000000-0000-4000-8000-000000000004"
		bare    = "00000000-0000-4000-8000-000000000000" // stormQueues' "Queue 00"
	)
	sl := func(pct float64, within time.Duration) app.ServiceLevelTarget {
		return app.ServiceLevelTarget{Percent: pct, Within: within}
	}
	queues := append(stormQueues(11), // none has a target
		app.QueueInfo{ID: support, Name: "Support", ServiceLevels: map[string]app.ServiceLevelTarget{
			"call": sl(80, 20*time.Second), "email": sl(80, 20*time.Second)}},
		app.QueueInfo{ID: claims, Name: "Claims", ServiceLevels: map[string]app.ServiceLevelTarget{"email": sl(90, time.Hour)}},
		app.QueueInfo{ID: returns, Name: "Returns", ServiceLevels: map[string]app.ServiceLevelTarget{
			"call": sl(90, 15*time.Second), "email": sl(90, time.Hour)}},
		app.QueueInfo{ID: night, Name: "Night desk"},
	)
	e := newClockedE2E(t, engine.Options{BuiltinDefault: &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait,
		Value: 300, SetBy: "built-in"}}, queues)

	section := "\n• voice: 2 queues, 90 % in 15s on 1 of them\n" +
		"• email: 3 queues, 90 % in 1h on 2 of them\n" +
		"• email: 1 queue still at the creation default 80 % in 20s: set their real target in Genesys Cloud, or rules on `target` will page on them.\n" +
		"• 12 queues have no target on any media type: rules on `target` never alert on them."
	if got := runCommand(t, e.h, "U0LEAD001", "list"); !strings.Contains(got, "*Targets in Genesys Cloud* (4)"+section) {
		t.Errorf("/sla list lacks\n%s\nin\n%s", section, got)
	}

	runCommand(t, e.h, "U0LEAD001", "set default voice wait target")
	unknown := "• *default* (voice) longest_wait target: target unknown for 13 queues, not alerted on a guess: " +
		"*Queue 00*, *Queue 01*, *Queue 02*, *Queue 03*, *Queue 04*, *Queue 05*, *Queue 06*, *Queue 07*, *Queue 08*, *Queue 09* and 3 more"
	if got := runCommand(t, e.h, "U0LEAD001", "list"); !strings.Contains(got, "*Targets in Genesys Cloud* (5)"+section+"\n"+unknown) {
		t.Errorf("/sla list after a rule on target lacks\n%s\nin\n%s", unknown, got)
	}

	e.clock.Advance(time.Minute)
	for _, q := range []string{bare, claims, night} { // no voice target: the built-in 5m must not stand in either
		e.observe(t, q, app.Voice, app.LongestWait, 3600)
	}
	e.observe(t, support, app.Voice, app.LongestWait, 30)
	e.settle(t)
	var posts []string
	for _, p := range e.slack.of("chat.postMessage") {
		posts = append(posts, p.Form.Get("text"))
	}
	if want := "SLA breach: Support — Longest wait 30s (voice target 80 % in 20s)"; len(posts) != 1 || !strings.Contains(posts[0], want) {
		t.Fatalf("posted %q; want only %q", posts, want)
	}

	status := runCommand(t, e.h, "U0LEAD001", "status")
	home := e.homeText(t, "U0LEAD001")
	for name, got := range map[string]string{"/sla status": status, "the App Home": home} {
		if want := "*Support (voice)* — Longest wait *30s* (target 80 % in 20s)"; !strings.Contains(got, want) {
			t.Errorf("%s lacks %q:\n%s", name, want, got)
		}
	}
}

// TestHelpTargets: /sla help names the media words, the precedence, the
// built-in rule's reach and the target examples, and all of it fits under
// the clip (a clipped help would lose its last lines).
func TestHelpTargets(t *testing.T) {
	h, _ := memServer(t, newMemStore(), func(d *Deps) { d.Admins = []string{"U0LEAD001"} }) // SLA_ADMINS set: the longest help
	got := runCommand(t, h, "U0LEAD001", "help")
	for _, want := range []string{
		"*Media*: `voice` (`call`), `chat`, `callback`, `email`, `message`. Most specific rule wins: " +
			"queue + media, queue, default + media, default, built-in (`longest_wait`, voice and chat only).",
		"*Target*: `target` as the value of `sl` or `wait` is each queue's own Genesys target for the media type: " +
			"`/sla set default voice sl target min 20`, `/sla set default email wait target`. Queues without one are never alerted; `/sla list` names them.",
		"*Storms*:", // the last line
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/sla help lacks %q:\n%s", want, got)
		}
	}
	if n := len([]rune(got)); n > maxReply || strings.Contains(got, "(cut short)") {
		t.Errorf("/sla help is %d characters (clip at %d):\n%s", n, maxReply, got)
	}
}

// TestListBuiltinBesideMediaDefault: a default rule for one media type
// leaves the built-in wait watching the others, so /sla list still shows
// it, saying which media types it watches; a default on every media type
// replaces it.
func TestListBuiltinBesideMediaDefault(t *testing.T) {
	m := newMemStore()
	m.thresholds = []app.Threshold{{QueueID: app.DefaultQueue, MediaType: app.Email, Metric: app.LongestWait, Value: 8 * 3600}}
	h, _ := memServer(t, m, func(d *Deps) {
		d.BuiltinDefault = &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}
	})
	builtin := "• *default* longest_wait above 5m _(built-in; SLA_DEFAULT_LONGEST_WAIT)_ for voice, chat and metric events only"
	if got := runCommand(t, h, "U0LEAD001", "list"); !strings.Contains(got, builtin) || !strings.Contains(got, "*Thresholds* (2)") {
		t.Errorf("/sla list beside a default email rule lacks %q:\n%s", builtin, got)
	}
	m.thresholds = append(m.thresholds, app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 600})
	if got := runCommand(t, h, "U0LEAD001", "list"); strings.Contains(got, "built-in") || !strings.Contains(got, "*Thresholds* (2)") {
		t.Errorf("/sla list after a default on every media type still shows the built-in rule:\n%s", got)
	}
}

// TestUnsetMediaDefault: removing a default for email leaves email without
// a rule (nothing is built in for it), so the answer does not say the
// built-in wait applies again; removing the voice one does.
func TestUnsetMediaDefault(t *testing.T) {
	e := newSlackE2E(t, nil)
	runCommand(t, e.h, "U0LEAD001", "set default email wait 8h")
	runCommand(t, e.h, "U0LEAD001", "set default voice wait 2m")
	if got := runCommand(t, e.h, "U0LEAD001", "unset default email wait"); !strings.Contains(got, "Removed:") || strings.Contains(got, "built-in") {
		t.Errorf("/sla unset default email wait answered %q; want no word of the built-in rule", got)
	}
	if got := runCommand(t, e.h, "U0LEAD001", "unset default voice wait"); !strings.Contains(got, "The built-in default applies again") {
		t.Errorf("/sla unset default voice wait answered %q; want the built-in rule named", got)
	}
}
