package app_test

import (
	"errors"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

// TestRulePrecedence walks the five levels, most specific first: queue +
// media, queue, default + media, default, built-in. Each row removes the
// level that won the row before, so every level is seen winning once.
func TestRulePrecedence(t *testing.T) {
	const q = "q-1"
	rule := func(queue, media string, v float64) app.Threshold {
		return app.Threshold{QueueID: queue, MediaType: media, Metric: app.LongestWait, Value: v}
	}
	all := []app.Threshold{
		rule(q, app.Voice, 10),                // queue + media
		rule(q, "", 20),                       // queue
		rule(app.DefaultQueue, app.Voice, 30), // default + media
		rule(app.DefaultQueue, "", 40),        // default
		rule("q-other", app.Voice, 99),        // another queue's: never
		rule(app.DefaultQueue, app.Email, 98), // another media type's: never
	}
	builtin := &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}
	tests := []struct {
		name  string
		rules []app.Threshold
		media string
		want  float64 // 0: no rule
	}{
		{"queue + media", all, app.Voice, 10},
		{"queue", all[1:], app.Voice, 20},
		{"default + media", all[2:], app.Voice, 30},
		{"default", all[3:], app.Voice, 40},
		{"built-in", all[4:], app.Voice, 300},
		{"queue rule beats default + media", []app.Threshold{all[1], all[2]}, app.Voice, 20},
		{"no media type: media rules never apply", all[1:], "", 20},
		{"no media type: built-in applies", all[4:], "", 300},
		{"chat: built-in applies", all[4:], app.Chat, 300},
		{"email: the default's email rule", all[4:], app.Email, 98},
		{"callback: nothing built in", all[4:], app.Callback, 0},
		{"message: nothing built in", all[4:], app.Message, 0},
		{"email: nothing built in", nil, app.Email, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			own := map[string]app.Threshold{}
			defaults := map[string]app.Threshold{}
			for _, r := range tt.rules {
				switch r.QueueID {
				case q:
					own[r.Key()] = r
				case app.DefaultQueue:
					defaults[r.Key()] = r
				}
			}
			got, ok := app.Rule(own, defaults, builtin, tt.media, app.LongestWait)
			if ok != (tt.want != 0) || got.Value != tt.want {
				t.Errorf("Rule = %v, %v; want value %v", got.Value, ok, tt.want)
			}
			got, ok = app.RuleIn(tt.rules, builtin, q, tt.media, app.LongestWait)
			if ok != (tt.want != 0) || got.Value != tt.want {
				t.Errorf("RuleIn = %v, %v; want value %v", got.Value, ok, tt.want)
			}
		})
	}
}

// TestThresholdKeyKeepsOldRules: a rule on every media type keeps the key
// rules had before media types (the metric alone), so stored rules are
// found where they always were.
func TestThresholdKeyKeepsOldRules(t *testing.T) {
	if k := (app.Threshold{Metric: app.Waiting}).Key(); k != "waiting" {
		t.Errorf("key of a rule on every media type = %q, want waiting", k)
	}
	if k := (app.Threshold{MediaType: app.Email, Metric: app.Waiting}).Key(); k != "email/waiting" {
		t.Errorf("key of an email rule = %q", k)
	}
}

func TestResolveTarget(t *testing.T) {
	targets := map[string]app.ServiceLevelTarget{
		"call":  {Percent: 80, Within: 20 * time.Second},
		"email": {Percent: 90, Within: 24 * time.Hour},
	}
	clear := 85.0
	tests := []struct {
		name      string
		rule      app.Threshold
		media     string
		ok        bool
		value     float64
		wantClear *float64
	}{
		{"service level from call", app.Threshold{Metric: app.ServiceLevel, Target: true}, app.Voice, true, 80, nil},
		{"wait from email's duration", app.Threshold{Metric: app.LongestWait, Target: true}, app.Email, true, 86400, nil},
		{"no target for chat", app.Threshold{Metric: app.ServiceLevel, Target: true}, app.Chat, false, 0, nil},
		{"no media type", app.Threshold{Metric: app.ServiceLevel, Target: true}, "", false, 0, nil},
		{"clear above the target kept", app.Threshold{Metric: app.ServiceLevel, Target: true, Clear: &clear}, app.Voice, true, 80, &clear},
		{"clear below the target dropped", app.Threshold{Metric: app.ServiceLevel, Target: true, Clear: &clear}, app.Email, true, 90, nil},
		{"plain rule unchanged", app.Threshold{Metric: app.ServiceLevel, Value: 70}, app.Chat, true, 70, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.rule.Resolve(targets, tt.media)
			if ok != tt.ok || got.Value != tt.value {
				t.Fatalf("Resolve = %v, %v; want %v, %v", got.Value, ok, tt.value, tt.ok)
			}
			if (got.Clear == nil) != (tt.wantClear == nil) {
				t.Errorf("clear = %v, want %v", got.Clear, tt.wantClear)
			}
		})
	}
	if _, ok := (app.Threshold{Metric: app.ServiceLevel, Target: true}).Resolve(nil, app.Voice); ok {
		t.Error("a queue with no known targets resolved a target rule")
	}
}

func TestValidateTargetAndMedia(t *testing.T) {
	for _, tt := range []struct {
		rule app.Threshold
		ok   bool
	}{
		{app.Threshold{Metric: app.ServiceLevel, Target: true, MinVolume: 20}, true},
		{app.Threshold{MediaType: app.Email, Metric: app.LongestWait, Target: true}, true},
		{app.Threshold{Metric: app.Waiting, Target: true}, false},
		{app.Threshold{Metric: app.AbandonRate, Target: true}, false},
		{app.Threshold{Metric: app.ServiceLevel, Target: true, Value: 80}, false},
		{app.Threshold{MediaType: "fax", Metric: app.Waiting, Value: 3}, false},
		{app.Threshold{MediaType: "call", Metric: app.Waiting, Value: 3}, false}, // stored as voice
	} {
		err := tt.rule.Validate()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, app.ErrBadThreshold)) {
			t.Errorf("Validate(%+v) = %v", tt.rule, err)
		}
	}
	s := app.Threshold{QueueID: app.DefaultQueue, MediaType: app.Voice, Metric: app.ServiceLevel, Target: true, MinVolume: 20}.String()
	if s != "default voice service_level target min 20" {
		t.Errorf("String = %q", s)
	}
}

func TestUnsets(t *testing.T) {
	all := app.Threshold{Metric: app.Waiting}
	email := app.Threshold{MediaType: app.Email, Metric: app.Waiting}
	for _, tt := range []struct {
		media string
		m     app.Metric
		all   bool
		email bool
	}{
		{"", "", true, true},
		{"", app.Waiting, true, false},
		{app.Email, "", false, true},
		{app.Email, app.Waiting, false, true},
		{app.Voice, "", false, false},
		{"", app.LongestWait, false, false},
	} {
		if all.Unsets(tt.media, tt.m) != tt.all || email.Unsets(tt.media, tt.m) != tt.email {
			t.Errorf("unset %q %q: all %v email %v", tt.media, tt.m, all.Unsets(tt.media, tt.m), email.Unsets(tt.media, tt.m))
		}
	}
}

// BenchmarkRule measures the lookup every observation makes: a voice
// observation on a queue with its own and default rules, falling through
// to the default queue's rule on every media type.
func BenchmarkRule(b *testing.B) {
	own := map[string]app.Threshold{"email/longest_wait": {}, "waiting": {}}
	defaults := map[string]app.Threshold{"longest_wait": {Value: 300}, "email/longest_wait": {}}
	builtin := &app.Threshold{Metric: app.LongestWait, Value: 300}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := app.Rule(own, defaults, builtin, app.Voice, app.LongestWait); !ok {
			b.Fatal("no rule")
		}
	}
}
