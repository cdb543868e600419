package app

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func target(pct float64, within time.Duration) ServiceLevelTarget {
	return ServiceLevelTarget{Percent: pct, Within: within}
}

// org is the directory: 120 voice queues, 97 of them at 80 % in
// 20 s; the first 20 also take email, 14 of those left at the creation
// default; one chat queue (its percentage read as 0.7 × 100, as the client
// does), a callback queue at the default beside a media type slabot does
// not know, and a queue known only from webhooks.
func org() []QueueInfo {
	def := target(80, 20*time.Second)
	var out []QueueInfo
	for i := range 120 {
		q := QueueInfo{ID: fmt.Sprintf("v%d", i), Name: fmt.Sprintf("V%d", i), ServiceLevels: map[string]ServiceLevelTarget{"call": def}}
		if i >= 97 {
			q.ServiceLevels["call"] = target(90, 30*time.Second)
		}
		if i < 20 {
			q.ServiceLevels["email"] = def
			if i >= 14 {
				q.ServiceLevels["email"] = target(90, 24*time.Hour)
			}
		}
		out = append(out, q)
	}
	pct := 0.7
	return append(out,
		QueueInfo{ID: "c1", Name: "Chat", ServiceLevels: map[string]ServiceLevelTarget{"chat": target(pct*100, time.Minute)}},
		QueueInfo{ID: "cb", Name: "Callbacks", ServiceLevels: map[string]ServiceLevelTarget{"callback": def, "videoComm": def}},
		QueueInfo{ID: "n1", Name: "Webhook only"},
	)
}

// TestSummariseTargets reads the lines slabot setup and /sla list show.
func TestSummariseTargets(t *testing.T) {
	def := target(80, 20*time.Second)
	tests := []struct {
		name   string
		queues []QueueInfo
		want   []string
	}{
		{"the issue's org", org(), []string{
			"voice: 120 queues, 80 % in 20s on 97 of them",
			"chat: 1 queue, 70 % in 1m",
			"callback: 1 queue, 80 % in 20s",
			"email: 20 queues, 80 % in 20s on 14 of them",
			"callback: 1 queue still at the creation default 80 % in 20s: set their real target in Genesys Cloud, or rules on `target` will page on them.",
			"email: 14 queues still at the creation default 80 % in 20s: set their real target in Genesys Cloud, or rules on `target` will page on them.",
			"1 queue has no target on any media type: rules on `target` never alert on it.",
		}},
		{"voice and chat at the creation default are not flagged", []QueueInfo{
			{ID: "a", ServiceLevels: map[string]ServiceLevelTarget{"call": def, "chat": def}},
			{ID: "b", ServiceLevels: map[string]ServiceLevelTarget{"call": def, "chat": def, "message": target(90, 4*time.Hour)}},
		}, []string{
			"voice: 2 queues, all 80 % in 20s",
			"chat: 2 queues, all 80 % in 20s",
			"message: 1 queue, 90 % in 4h",
		}},
		{"a tie names the stricter target", []QueueInfo{
			{ID: "a", ServiceLevels: map[string]ServiceLevelTarget{"email": target(90, 8*time.Hour)}},
			{ID: "b", ServiceLevels: map[string]ServiceLevelTarget{"email": target(90, 4*time.Hour)}},
			{ID: "c", ServiceLevels: map[string]ServiceLevelTarget{"email": target(80, 4*time.Hour)}},
		}, []string{"email: 3 queues, 90 % in 4h on 1 of them"}},
		{"a target without a duration is none", []QueueInfo{
			{ID: "a", ServiceLevels: map[string]ServiceLevelTarget{"call": target(80, 0)}},
			{ID: "b"},
		}, []string{"No service-level targets: none of the 2 queues has one in the directory (slabot reads it with Genesys polling), so rules on `target` alert on no queue."}},
		{"no queues", nil, []string{"No service-level targets: none of the 0 queues has one in the directory (slabot reads it with Genesys polling), so rules on `target` alert on no queue."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SummariseTargets(tt.queues).Lines(); !slices.Equal(got, tt.want) {
				t.Errorf("Lines() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestTargetUnknown lists the queues a rule on target cannot alert on,
// with precedence deciding which rule speaks for each queue.
func TestTargetUnknown(t *testing.T) {
	withTargets := func(id string, media ...string) Queue {
		q := Queue{ID: id, Targets: map[string]ServiceLevelTarget{}}
		for _, m := range media {
			q.Targets[m] = target(80, 20*time.Second)
		}
		return q
	}
	queues := []Queue{
		{ID: DefaultQueue},
		withTargets("voiceq", "call"),
		withTargets("emailq", "email"),
		{ID: "bare"},
		{ID: "own"}, // has its own voice service-level rule
	}
	defVoice := Threshold{QueueID: DefaultQueue, MediaType: Voice, Metric: ServiceLevel, Target: true}
	defAll := Threshold{QueueID: DefaultQueue, Metric: ServiceLevel, Target: true}
	ownVoice := Threshold{QueueID: "own", MediaType: Voice, Metric: ServiceLevel, Value: 70}
	bareRule := Threshold{QueueID: "bare", Metric: LongestWait, Target: true}
	plain := Threshold{QueueID: DefaultQueue, Metric: ServiceLevel, Value: 80}
	rules := []Threshold{defVoice, defAll, ownVoice, bareRule}
	tests := []struct {
		name string
		rule Threshold
		want []string
	}{
		{"default voice: queues without a voice target, not the one with its own rule", defVoice, []string{"emailq", "bare"}},
		// Every media type but voice is this rule's; voiceq and emailq
		// have a target on one of theirs only when it is not voice.
		{"default on every media type: queues with no target on any it governs", defAll, []string{"voiceq", "bare", "own"}},
		{"a queue's own rule: that queue only", bareRule, []string{"bare"}},
		{"a rule on a value never lists", plain, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TargetUnknown(tt.rule, rules, queues); !slices.Equal(got, tt.want) {
				t.Errorf("TargetUnknown(%s) = %v, want %v", tt.rule, got, tt.want)
			}
		})
	}
}
