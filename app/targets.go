package app

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// MediaTargets summarises the service-level targets the queue directory
// holds for one media type.
type MediaTargets struct {
	Media string // Voice, Chat, Callback, Email or Message
	// Queues is how many queues have a target for Media.
	Queues int
	// Common is the target most of them have, and CommonQueues how many.
	Common       ServiceLevelTarget
	CommonQueues int
	// AtCreationDefault counts the queues whose target is still the one
	// Genesys gives every new queue (ServiceLevelTarget.CreationDefault).
	AtCreationDefault int
}

// Unchosen reports whether the media type's creation-default targets are
// worth flagging: on callback, email and message, 80 % in 20 s is almost
// never a target anyone chose (those are answered in hours), so a rule on
// "target" would page on every such queue.
func (m MediaTargets) Unchosen() bool {
	return m.AtCreationDefault > 0 && !BuiltinApplies(m.Media)
}

// TargetSummary is what the directory holds of the queues' own targets,
// so that a person setting rules on "target" knows what they will follow.
type TargetSummary struct {
	// Queues is how many queues were summarised, and NoTarget how many of
	// them have no target on any media type (the directory was not read
	// for them: no polling, or a queue known only from webhooks).
	Queues   int
	NoTarget int
	// Media lists the media types that at least one queue has a target
	// for, in MediaTypes order.
	Media []MediaTargets
}

// SummariseTargets summarises the targets of queues per media type: how
// many queues have one, the most common one, and how many are still at
// the creation default.
func SummariseTargets(queues []QueueInfo) TargetSummary {
	s := TargetSummary{Queues: len(queues)}
	type count struct {
		t ServiceLevelTarget
		n int
	}
	for _, media := range MediaTypes {
		m := MediaTargets{Media: media}
		// Keyed by the target as people read it (a tenth of a percent, a
		// second), so that targets shown alike count alike.
		counts := make(map[string]*count)
		for _, q := range queues {
			t, ok := q.Target(media)
			if !ok {
				continue
			}
			m.Queues++
			if t.CreationDefault() {
				m.AtCreationDefault++
			}
			k := t.String()
			if c, ok := counts[k]; ok {
				c.n++
			} else {
				counts[k] = &count{t: t, n: 1}
			}
		}
		if m.Queues == 0 {
			continue
		}
		all := make([]*count, 0, len(counts))
		for _, c := range counts {
			all = append(all, c)
		}
		// Most queues first; among equals the stricter target, so that the
		// summary reads the same on every run.
		slices.SortFunc(all, func(a, b *count) int {
			return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.t.Within, b.t.Within), cmp.Compare(b.t.Percent, a.t.Percent))
		})
		m.Common, m.CommonQueues = all[0].t, all[0].n
		s.Media = append(s.Media, m)
	}
	for _, q := range queues {
		if !slices.ContainsFunc(MediaTypes, func(media string) bool { _, ok := q.Target(media); return ok }) {
			s.NoTarget++
		}
	}
	return s
}

// Lines renders the summary as plain text, one line per media type and
// one per flag: "voice: 120 queues, 80 % in 20s on 97 of them". Callers
// escape nothing: the text holds no names.
func (s TargetSummary) Lines() []string {
	if len(s.Media) == 0 {
		return []string{fmt.Sprintf("No service-level targets: none of the %d %s has one in the directory "+
			"(slabot reads it with Genesys polling), so rules on `target` alert on no queue.", s.Queues, plural(s.Queues, "queue", "queues"))}
	}
	var lines []string
	for _, m := range s.Media {
		line := fmt.Sprintf("%s: %d %s, ", m.Media, m.Queues, plural(m.Queues, "queue", "queues"))
		switch {
		case m.Queues == 1:
			line += m.Common.String()
		case m.CommonQueues == m.Queues:
			line += "all " + m.Common.String()
		default:
			line += fmt.Sprintf("%s on %d of them", m.Common, m.CommonQueues)
		}
		lines = append(lines, line)
	}
	for _, m := range s.Media {
		if m.Unchosen() {
			n := m.AtCreationDefault
			lines = append(lines, fmt.Sprintf("%s: %d %s still at the creation default %s: set their real target in Genesys Cloud, "+
				"or rules on `target` will page on them.", m.Media, n, plural(n, "queue", "queues"), creationDefault))
		}
	}
	if s.NoTarget > 0 {
		lines = append(lines, fmt.Sprintf("%d %s no target on any media type: rules on `target` never alert on %s.",
			s.NoTarget, plural(s.NoTarget, "queue has", "queues have"), plural(s.NoTarget, "it", "them")))
	}
	return lines
}

// creationDefault is the target Genesys gives every new queue.
var creationDefault = ServiceLevelTarget{Percent: 80, Within: 20 * time.Second}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// TargetUnknown lists, in the order of queues, the IDs of the queues that
// rule t (a rule on "target") governs but can never alert on: on every
// media type for which t is the rule that applies to the queue (rules
// decide, by precedence), the queue has no known target. Such a queue is
// not alerted on a guess, so a listing must say so. rules are every stored
// rule, as Records.Thresholds returns them; queues skips DefaultQueue.
func TargetUnknown(t Threshold, rules []Threshold, queues []Queue) []string {
	if !t.Target {
		return nil
	}
	media := MediaTypes
	if t.MediaType != "" {
		media = []string{t.MediaType}
	}
	var out []string
	for _, q := range queues {
		if q.ID == DefaultQueue || (t.QueueID != DefaultQueue && t.QueueID != q.ID) {
			continue
		}
		governs, known := false, false
		for _, m := range media {
			// No built-in: it is never a target rule, and never beats one.
			r, ok := RuleIn(rules, nil, q.ID, m, t.Metric)
			if !ok || r.QueueID != t.QueueID || r.MediaType != t.MediaType {
				continue
			}
			governs = true
			if _, ok := r.Resolve(q.Targets, m); ok {
				known = true
				break
			}
		}
		if governs && !known {
			out = append(out, q.ID)
		}
	}
	return out
}
