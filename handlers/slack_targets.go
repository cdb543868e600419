package handlers

import (
	"fmt"
	"strings"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// maxUnknownNamed bounds the queues a target rule's "target unknown" line
// names; its count covers all of them.
const maxUnknownNamed = 10

// targetsSection is /sla list's "Targets in Genesys Cloud": what the queue
// directory holds of the known queues' own targets (app.TargetSummary),
// so that whoever sets a rule on `target` knows what it will follow, and,
// per rule on `target`, the queues it cannot alert on for want of one.
// rules are the listed rules, states the known queues' stored state.
func targetsSection(rules []app.Threshold, states []app.Queue, known map[string]string) listSection {
	queues := make([]app.QueueInfo, 0, len(states))
	for _, q := range states {
		if q.ID != app.DefaultQueue {
			queues = append(queues, app.QueueInfo{ID: q.ID, Name: q.Name, ServiceLevels: q.Targets})
		}
	}
	s := listSection{title: "Targets in Genesys Cloud",
		empty: "No queue known yet: slabot reads each queue's targets from the Genesys directory, with polling."}
	if len(queues) > 0 {
		// The org's summary shows under any queue filter, as an all-queues
		// snooze does.
		for _, l := range app.SummariseTargets(queues).Lines() {
			s.items = append(s.items, listItem{queueID: app.AllQueues, text: "• " + l})
		}
	}
	for _, t := range rules {
		if ids := app.TargetUnknown(t, rules, states); len(ids) > 0 {
			s.items = append(s.items, listItem{queueID: t.QueueID, text: "• " + targetRuleLabel(t, known) + ": " + unknownTargets(ids, known)})
		}
	}
	return s
}

// targetRuleLabel names a rule on `target` briefly: "*default* (voice)
// service_level target".
func targetRuleLabel(t app.Threshold, known map[string]string) string {
	s := slackapi.QueueLabel(t.QueueID, known)
	if t.MediaType != "" {
		s += " (" + t.MediaType + ")"
	}
	return s + " " + string(t.Metric) + " target"
}

// unknownTargets says which queues a rule on `target` does not alert on:
// "target unknown for 3 queues, not alerted on a guess: *A*, *B*, *C*".
func unknownTargets(ids []string, known map[string]string) string {
	names := make([]string, 0, min(len(ids), maxUnknownNamed))
	for _, id := range ids[:min(len(ids), maxUnknownNamed)] {
		names = append(names, slackapi.QueueLabel(id, known))
	}
	s := fmt.Sprintf("target unknown for %d %s, not alerted on a guess: %s", len(ids), plural(len(ids), "queue", "queues"),
		strings.Join(names, ", "))
	if more := len(ids) - len(names); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}
