package app

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// QueueRef is a queue named by a supervisor, resolved against the queues
// slabot knows.
type QueueRef struct {
	ID string
	// Name is the queue's known name; empty when unknown.
	Name string
	// Known is false for a well-formed queue ID that no event or directory
	// entry has named yet: thresholds may be set for it ahead of time.
	Known bool
}

// UnknownQueueError says why a queue argument names no queue, and offers
// the closest known name. It wraps ErrUnknownQueue.
type UnknownQueueError struct {
	// Arg is the queue argument as given.
	Arg string
	// Suggestion is the known name closest to Arg, if any is close.
	Suggestion string
	// Ambiguous lists the IDs of the queues sharing the name Arg.
	Ambiguous []string
}

// Error says what was not found and what might have been meant.
func (e *UnknownQueueError) Error() string {
	arg := clipRunes(e.Arg, 80)
	switch {
	case strings.TrimSpace(e.Arg) == "":
		return "no queue given"
	case len(e.Ambiguous) > 0:
		return fmt.Sprintf("%d queues are named '%s'; use a queue ID instead: %s",
			len(e.Ambiguous), arg, strings.Join(e.Ambiguous, ", "))
	case e.Suggestion != "":
		return fmt.Sprintf("no queue named '%s'; did you mean '%s'?", arg, clipRunes(e.Suggestion, 80))
	}
	return fmt.Sprintf("no queue named '%s' (slabot learns queue names from Genesys events and its queue directory; a queue ID works too)", arg)
}

// Unwrap makes errors.Is(err, ErrUnknownQueue) hold.
func (e *UnknownQueueError) Unwrap() error { return ErrUnknownQueue }

// ResolveQueue finds the queue a supervisor means by arg, given the known
// queues (ID → name, as Records.KnownQueues returns them). arg may be a
// known ID (in any letter case) or a known name compared case-insensitively
// with runs of spaces collapsed. An unknown arg shaped like a Genesys queue
// ID (a UUID) resolves with Known false, so a threshold can be set before
// the queue's first event. Anything else fails with *UnknownQueueError,
// suggesting the closest known name. Pseudo-queues such as DefaultQueue and
// AllQueues are the caller's business: they are keywords of the command
// grammar, not names.
func ResolveQueue(known map[string]string, arg string) (QueueRef, error) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return QueueRef{}, &UnknownQueueError{}
	}
	if name, ok := known[arg]; ok {
		return QueueRef{ID: arg, Name: name, Known: true}, nil
	}
	ids := sortedKeys(known)
	for _, id := range ids {
		if strings.EqualFold(id, arg) {
			return QueueRef{ID: id, Name: known[id], Known: true}, nil
		}
	}
	want := normalName(arg)
	var matches, exact []string
	for _, id := range ids {
		name := known[id]
		if name == "" || !strings.EqualFold(normalName(name), want) {
			continue
		}
		matches = append(matches, id)
		if normalName(name) == want {
			exact = append(exact, id)
		}
	}
	switch {
	case len(matches) == 1:
		return QueueRef{ID: matches[0], Name: known[matches[0]], Known: true}, nil
	case len(exact) == 1:
		return QueueRef{ID: exact[0], Name: known[exact[0]], Known: true}, nil
	case len(matches) > 1:
		return QueueRef{}, &UnknownQueueError{Arg: arg, Ambiguous: matches}
	}
	if LooksLikeQueueID(arg) {
		return QueueRef{ID: strings.ToLower(arg)}, nil
	}
	return QueueRef{}, &UnknownQueueError{Arg: arg, Suggestion: closestName(known, ids, arg)}
}

// LooksLikeQueueID reports whether s has the shape of a Genesys Cloud queue
// ID: a UUID such as 2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10. Only such IDs
// are accepted before any event names them; a mistyped name never is.
func LooksLikeQueueID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				return false
			}
		}
	}
	return true
}

// normalName collapses runs of whitespace, so "Billing  EU" finds
// "Billing EU".
func normalName(s string) string { return strings.Join(strings.Fields(s), " ") }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Bounds on suggestion work: names are compared on their first runes only,
// so a pasted paragraph cannot make one command slow.
const maxCompareRunes = 64

// closestName is the known name nearest to arg by edit distance, if it is
// near enough to be a typo; failing that, the only name containing arg.
func closestName(known map[string]string, ids []string, arg string) string {
	a := []rune(strings.ToLower(normalName(arg)))
	if len(a) > maxCompareRunes {
		a = a[:maxCompareRunes]
	}
	limit := min(max(1, len(a)/3), 3)
	best, bestDist := "", limit+1
	var containing []string
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		name := known[id]
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		n := []rune(strings.ToLower(normalName(name)))
		if len(n) > maxCompareRunes {
			n = n[:maxCompareRunes]
		}
		if d := editDistance(a, n, limit); d < bestDist || (d == bestDist && best != "" && name < best) {
			best, bestDist = name, d
		}
		if len(a) >= 3 && strings.Contains(string(n), string(a)) {
			containing = append(containing, name)
		}
	}
	if best != "" {
		return best
	}
	if len(containing) == 1 {
		return containing[0]
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, or limit+1 as
// soon as it must exceed limit.
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
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// clipRunes shortens s to at most n runes for error messages.
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
