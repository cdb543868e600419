package faulttest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/bench/rig"
)

// episodeKey names one breach episode of one alert.
type episodeKey struct {
	alert   string
	episode int
}

// tally is what the fake Slack's record shows for a plan.
type tally struct {
	episodes    int // expected
	messages    int // alert messages posted
	resolutions int // resolution replies posted in an alert's thread
	missingPost int // episodes with no alert message
	missingRes  int // episodes with no resolution
	duplicated  int // alert messages and resolutions beyond one per episode, and unexpected episodes
	// repeated counts, of duplicated, the alert messages and resolutions
	// posted more than once for an expected episode.
	repeated int
	problems []string
}

func (t tally) lost() int { return t.missingPost + t.missingRes }

// numbers are the counts alone, comparable.
func (t tally) numbers() [7]int {
	return [7]int{t.episodes, t.messages, t.resolutions, t.missingPost, t.missingRes, t.duplicated, t.repeated}
}

func (t tally) String() string {
	s := fmt.Sprintf("episodes %d, messages %d, resolutions %d, lost %d (%d alerts, %d resolutions), duplicated %d",
		t.episodes, t.messages, t.resolutions, t.lost(), t.missingPost, t.missingRes, t.duplicated)
	if len(t.problems) > 0 {
		n := min(len(t.problems), 12)
		s += "\n  " + strings.Join(t.problems[:n], "\n  ")
		if n < len(t.problems) {
			s += fmt.Sprintf("\n  … and %d more", len(t.problems)-n)
		}
	}
	return s
}

// audit checks the record against p: every episode of every queue must
// have exactly one alert message (naming the alert and episode in its
// block_id) and exactly one resolution, a reply in that message's thread.
func audit(calls []rig.Call, p plan) tally {
	expected := make(map[episodeKey]bool)
	for qi := range p.queues {
		for ep := 1; ep <= p.episodes; ep++ {
			expected[episodeKey{app.AlertID(p.queue(qi), "", app.LongestWait), ep}] = true
		}
	}
	t := tally{episodes: len(expected)}
	posts := make(map[episodeKey][]string) // → ts of its messages
	byTS := make(map[string]episodeKey)
	resolutions := make(map[episodeKey]int)
	for _, c := range calls {
		if c.Method != "chat.postMessage" || c.ThreadTS != "" {
			continue
		}
		id, ep, ok := c.AlertEpisode()
		if !ok {
			t.problems = append(t.problems, fmt.Sprintf("message %s in %s names no alert: %.80q", c.TS, c.Channel, c.Text))
			continue
		}
		k := episodeKey{id, ep}
		posts[k] = append(posts[k], c.TS)
		byTS[c.Channel+"/"+c.TS] = k
		t.messages++
	}
	for _, c := range calls {
		if c.Method != "chat.postMessage" || c.ThreadTS == "" {
			continue
		}
		k, ok := byTS[c.Channel+"/"+c.ThreadTS]
		switch {
		case !ok:
			t.problems = append(t.problems, fmt.Sprintf("reply in the thread of unknown message %s: %.80q", c.ThreadTS, c.Text))
		case strings.Contains(c.Text, "Resolved"):
			resolutions[k]++
			t.resolutions++
		}
	}
	for k := range expected {
		switch n := len(posts[k]); {
		case n == 0:
			t.missingPost++
			t.problems = append(t.problems, fmt.Sprintf("%s episode %d: no alert message", k.alert, k.episode))
		case n > 1:
			t.duplicated += n - 1
			t.repeated += n - 1
			t.problems = append(t.problems, fmt.Sprintf("%s episode %d: %d alert messages %v", k.alert, k.episode, n, posts[k]))
		}
		switch n := resolutions[k]; {
		case n == 0:
			t.missingRes++
			t.problems = append(t.problems, fmt.Sprintf("%s episode %d: no resolution", k.alert, k.episode))
		case n > 1:
			t.duplicated += n - 1
			t.repeated += n - 1
			t.problems = append(t.problems, fmt.Sprintf("%s episode %d: %d resolutions", k.alert, k.episode, n))
		}
	}
	for k, ts := range posts {
		if !expected[k] {
			t.duplicated += len(ts)
			t.problems = append(t.problems, fmt.Sprintf("%s episode %d: unexpected episode, %d messages", k.alert, k.episode, len(ts)))
		}
	}
	slices.Sort(t.problems)
	return t
}

// check reports a scenario's counts and fails the test on any lost or
// duplicated alert or resolution.
func check(t *testing.T, scenario string, tl tally, st *streamStats) {
	t.Helper()
	t.Logf("%s: %s; %s", scenario, tl, st)
	if tl.lost() != 0 || tl.duplicated != 0 || len(tl.problems) != 0 {
		t.Errorf("%s: want every episode alerted and resolved exactly once; got %s", scenario, tl)
	}
}

// The audit must be able to fail: it counts a missing, a doubled and an
// orphaned message as such.
func TestAuditCounts(t *testing.T) {
	p := plan{name: "audit", queues: 1, episodes: 2}
	alert := app.AlertID(p.queue(0), "", app.LongestWait)
	post := func(ts string, ep int) rig.Call {
		return rig.Call{Method: "chat.postMessage", Channel: "C1", TS: ts,
			Blocks: fmt.Sprintf(`[{"type":"section","block_id":"%s|%d"}]`, alert, ep)}
	}
	reply := func(thread string) rig.Call {
		return rig.Call{Method: "chat.postMessage", Channel: "C1", TS: "9.9", ThreadTS: thread, Text: ":white_check_mark: Resolved: x"}
	}
	tests := []struct {
		name  string
		calls []rig.Call
		want  tally
	}{
		{"clean", []rig.Call{post("1.1", 1), reply("1.1"), post("1.2", 2), reply("1.2")},
			tally{episodes: 2, messages: 2, resolutions: 2}},
		{"lost resolution", []rig.Call{post("1.1", 1), reply("1.1"), post("1.2", 2)},
			tally{episodes: 2, messages: 2, resolutions: 1, missingRes: 1}},
		{"duplicate post", []rig.Call{post("1.1", 1), post("1.3", 1), reply("1.1"), post("1.2", 2), reply("1.2")},
			tally{episodes: 2, messages: 3, resolutions: 2, duplicated: 1, repeated: 1}},
		{"unexpected episode", []rig.Call{post("1.1", 1), reply("1.1"), post("1.2", 2), reply("1.2"), post("1.4", 3)},
			tally{episodes: 2, messages: 3, resolutions: 2, duplicated: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := audit(tt.calls, p); got.numbers() != tt.want.numbers() {
				t.Errorf("audit = %v; want %v", got.numbers(), tt.want.numbers())
			}
		})
	}
	if got := audit([]rig.Call{post("1.1", 1), reply("7.7")}, p); len(got.problems) == 0 {
		t.Error("an orphaned reply raised no problem")
	}
}
