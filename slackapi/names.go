package slackapi

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Queue names come from Genesys and from what supervisors type, and are
// shown inside Slack's mrkdwn, often inside *bold*. Escaping & < > keeps
// them from pinging or linking; these helpers also keep them from
// formatting, and shorten them without losing the part that tells two
// queues apart.

// formatLookalikes swaps the characters mrkdwn reads as formatting for
// characters that look the same but mean nothing to Slack: mrkdwn has no
// escape for them, and a name such as "*Payments *urgent**" would
// otherwise end the bold around it and leave a stray one open.
var formatLookalikes = strings.NewReplacer(
	"*", "∗", // U+2217 ASTERISK OPERATOR
	"_", "ˍ", // U+02CD MODIFIER LETTER LOW MACRON
	"~", "∼", // U+223C TILDE OPERATOR
	"`", "ˋ", // U+02CB MODIFIER LETTER GRAVE ACCENT
)

// Neutralise makes s inert in mrkdwn: formatting characters become
// lookalikes and & < > become entities. Use it on any name placed in a
// message.
func Neutralise(s string) string { return Escape(formatLookalikes.Replace(s)) }

// QueueName is a queue name as messages show it: cut to at most n runes
// in the middle, then neutralised. The cut comes before the escaping, so
// it never falls inside an entity such as &amp;.
func QueueName(s string, n int) string { return Neutralise(cutMiddle(s, n)) }

// cutMiddle shortens s to at most n runes by dropping its middle: queues
// are often named from the general to the particular ("Customer Service
// & Billing - Northern Europe - Tier 2"), so the end is what tells them
// apart and is kept whole, with a third of the room for the start.
func cutMiddle(s string, n int) string {
	if n < 3 || utf8.RuneCountInString(s) <= n {
		return clip(s, n)
	}
	r := []rune(s)
	head := (n - 1) / 3
	tail := n - 1 - head
	return strings.TrimRight(string(r[:head]), " ") + "…" + strings.TrimLeft(string(r[len(r)-tail:]), " ")
}

// sharedPrefix is the start that every name in names shares, cut back to
// the end of a word (a space, or a separator such as "-" or "/"), or ""
// when there are fewer than two distinct names.
func sharedPrefix(names []string) string {
	if len(names) < 2 {
		return ""
	}
	p := []rune(names[0])
	distinct := false
	for _, name := range names[1:] {
		if name != names[0] {
			distinct = true
		}
		r := []rune(name)
		i := 0
		for i < len(p) && i < len(r) && p[i] == r[i] {
			i++
		}
		p = p[:i]
	}
	if !distinct {
		return ""
	}
	for len(p) > 0 && !wordEnd(p[len(p)-1]) {
		p = p[:len(p)-1]
	}
	return string(p)
}

func wordEnd(r rune) bool {
	switch r {
	case ' ', '-', '/', ':', '|', '–', '—', ',', '.':
		return true
	}
	return false
}

// clipLines shortens mrkdwn text to at most n bytes by dropping whole
// lines from the end, so that no cut falls inside an entity or leaves a
// *bold* open; the last line says how many were left out.
func clipLines(s string, n int) string {
	if len(s) <= n {
		return s
	}
	lines := strings.Split(s, "\n")
	for k := len(lines) - 1; k > 0; k-- {
		out := strings.Join(lines[:k], "\n") + "\n" + fmt.Sprintf("…and %d more %s.", len(lines)-k, plural(len(lines)-k, "line", "lines"))
		if len(out) <= n {
			return out
		}
	}
	return cutMrkdwn(lines[0], n)
}

// cutMrkdwn cuts one line of mrkdwn to at most n bytes: at a rune
// boundary, before any entity the cut would split, without an unmatched
// *, and marked with an ellipsis.
func cutMrkdwn(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n -= len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	s = s[:max(n, 0)]
	if amp := strings.LastIndexByte(s, '&'); amp >= 0 && !strings.Contains(s[amp:], ";") {
		s = s[:amp]
	}
	if strings.Count(s, "*")%2 == 1 {
		i := strings.LastIndexByte(s, '*')
		s = s[:i] + s[i+1:]
	}
	return s + "…"
}
