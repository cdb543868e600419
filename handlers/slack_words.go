package handlers

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// What supervisors type that the grammar alone would misread, and the
// answers that say what to type instead.

// maxSnooze is the longest snooze the engine accepts.
const maxSnooze = 7 * 24 * time.Hour

// durationUnits are words people put after a number when they mean a
// duration ("5 minutes"), each with the suffix slabot takes.
var durationUnits = map[string]string{
	"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
	"m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
	"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	"d": "d", "day": "d", "days": "d",
}

// spelledDuration finds a number followed by a unit word ("5 minutes")
// in args and says how to write it. "min" after a number is a unit only
// where the number must be a duration, since it also starts set's min
// clause.
func spelledDuration(verb string, args []token) error {
	for i := 0; i+1 < len(args); i++ {
		num, unit := args[i], args[i+1]
		suffix, ok := durationUnits[strings.ToLower(unit.text)]
		if !ok || num.quoted || unit.quoted || !isNumber(num.text) {
			continue
		}
		if unit.keyword("min") && !durationBefore(verb, args, i) {
			continue // set's min clause: "sl 80 min 20"
		}
		return usagef(verb, "'%s %s' is not a duration: write it as one word, %s%s (durations are 30s, 5m, 1h30m or 2d)",
			clipArg(num.text), clipArg(unit.text), clipArg(num.text), suffix)
	}
	return nil
}

// durationBefore reports whether the number at args[i] must be a
// duration: any number of snooze, or one after "for" or after the
// longest_wait metric.
func durationBefore(verb string, args []token, i int) bool {
	if verb == verbSnooze {
		return true
	}
	if i == 0 {
		return false
	}
	prev := args[i-1]
	m, err := app.ParseMetric(prev.text)
	return prev.keyword("for") || (err == nil && !prev.quoted && m == app.LongestWait)
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// checkSnoozeLength refuses a snooze the engine would refuse, saying why.
func checkSnoozeLength(d time.Duration, typed string) error {
	if d > maxSnooze {
		return usagef(verbSnooze, "a snooze lasts at most 7 days, and %s is longer; snooze for 7d or less, and again when it ends", clipArg(typed))
	}
	if d < time.Minute {
		return usagef(verbSnooze, "a snooze lasts at least 1 minute; %s is shorter", clipArg(typed))
	}
	return nil
}

// unknownVerb answers a subcommand slabot does not have: the closest one
// when the word looks like a typo of it, else the list of subcommands,
// never the whole help.
func unknownVerb(word string) string {
	arg := slackapi.Neutralise(clipArg(word))
	if v := closestVerb(word); v != "" {
		return fmt.Sprintf("Unknown subcommand '%s': did you mean `%s`?\nUsage: `%s`", arg, v, slackapi.Escape(usageOf(v)))
	}
	var verbs []string
	for _, u := range usages {
		verbs = append(verbs, "`"+u.verb+"`")
	}
	return fmt.Sprintf("Unknown subcommand '%s'. The subcommands are %s; `/sla help` explains each.", arg, strings.Join(verbs, ", "))
}

// closestVerb is the subcommand (or alias) within two edits of word, if
// exactly one canonical subcommand is that close.
func closestVerb(word string) string {
	w := []rune(strings.ToLower(word))
	if len(w) < 2 || len(w) > 20 {
		return ""
	}
	best, bestDist := "", 3
	aliases := make([]string, 0, len(verbAliases))
	for a := range verbAliases {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)
	for _, a := range aliases {
		limit := 2
		if len(a) <= 4 {
			limit = 1 // "set" and "ack" are one edit from many words
		}
		d := editDistance(w, []rune(a), limit)
		if d <= limit && d < bestDist {
			best, bestDist = verbAliases[a], d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit+1 once it
// must exceed limit.
func editDistance(a, b []rune, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// adminMark is what help adds to a usage line that only SLA admins may
// run, when SLA_ADMINS is set.
func adminMark(verb string) string {
	switch verb {
	case verbSet, verbUnset, verbRoute, verbHours:
		return " _(admins)_"
	case verbSnooze, verbUnsnooze:
		return " _(`all`: admins)_"
	}
	return ""
}

// unknownQueueAnswer says a queue name is unknown, naming it inertly, and
// how to name the queue anyway.
func unknownQueueAnswer(e *app.UnknownQueueError) string {
	arg := slackapi.QueueName(e.Arg, 80)
	switch {
	case strings.TrimSpace(e.Arg) == "":
		return "No queue given."
	case len(e.Ambiguous) > 0:
		return fmt.Sprintf("%d queues are named '%s'; use a queue ID instead: %s.",
			len(e.Ambiguous), arg, slackapi.Neutralise(strings.Join(e.Ambiguous, ", ")))
	case e.Suggestion != "":
		return fmt.Sprintf("No queue named '%s'; did you mean '%s'?", arg, slackapi.QueueName(e.Suggestion, 80))
	}
	return fmt.Sprintf("No queue named '%s' yet: slabot learns names from Genesys events and its queue directory. %s", arg, findTheID)
}

// findTheID says where a queue's ID is found in Genesys Cloud.
const findTheID = "Name the queue by its ID instead: in Genesys Cloud, Admin → Contact Center → Queues, open the queue; " +
	"the ID is the last part of the page's address (e.g. 2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10)."

// notFoundAnswer says a queue name is unknown in a command that can name
// a queue ahead of its first event: whether the Genesys Cloud directory
// was asked, where to find the queue's ID, and the command to type with
// it.
func notFoundAnswer(e *queueNotFound) string {
	arg := slackapi.QueueName(e.Arg, 80)
	var s string
	switch {
	case e.asked && e.Suggestion != "":
		s = fmt.Sprintf("No queue named '%s', in Genesys Cloud's queue directory either; did you mean '%s'? Otherwise check the name, or %s",
			arg, slackapi.QueueName(e.Suggestion, 80), lowerFirst(findTheID))
	case e.asked:
		s = fmt.Sprintf("No queue named '%s', in Genesys Cloud's queue directory either: check the name, or %s", arg, lowerFirst(findTheID))
	case e.lookupFailed:
		s = fmt.Sprintf("No queue named '%s' yet, and slabot could not ask Genesys Cloud's queue directory just now; try again in a minute, or %s",
			arg, lowerFirst(findTheID))
	case e.Suggestion != "":
		s = fmt.Sprintf("No queue named '%s'; did you mean '%s'? A queue no Genesys event has named yet goes by its ID: "+
			"without Genesys API credentials (GENESYS_CLIENT_ID/SECRET) slabot cannot look names up. %s",
			arg, slackapi.QueueName(e.Suggestion, 80), findTheID)
	default:
		s = fmt.Sprintf("No queue named '%s' yet: slabot learns names from Genesys events, and without Genesys API credentials "+
			"(GENESYS_CLIENT_ID/SECRET) it cannot look them up in Genesys Cloud's queue directory. %s", arg, findTheID)
	}
	// In a code span only a backtick would end it early.
	return s + "\nThen: `" + slackapi.Escape(strings.ReplaceAll(e.example, "`", "ˋ")) + "`"
}

// lowerFirst lowers the first letter of a sentence that goes on another.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// mediaHelp is /sla help's line on media types and which rule wins.
func mediaHelp() string {
	return "*Media*: `voice` (`call`), `chat`, `callback`, `email`, `message`. Most specific rule wins: " +
		"queue + media, queue, default + media, default, built-in (`longest_wait`, voice and chat only)."
}

// targetHelp is /sla help's line on rules that follow each queue's own
// targets in Genesys Cloud.
func targetHelp() string {
	return "*Target*: `target` as the value of `sl` or `wait` is each queue's own Genesys target for the media type: " +
		"`/sla set default voice sl target min 20`, `/sla set default email wait target`. Queues without one are never alerted; `/sla list` names them."
}
