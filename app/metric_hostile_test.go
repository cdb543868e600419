package app_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slabot/slabot/app"
)

// Absurd thresholds must be refused with ErrBadThreshold: a negative,
// non-finite or enormous value would silence a queue or flood a channel.
func TestParseValueRejectsAbsurdThresholds(t *testing.T) {
	tests := []struct {
		metric app.Metric
		in     string
	}{
		{app.LongestWait, "-1"},
		{app.LongestWait, "-5m"},
		{app.LongestWait, "NaN"},
		{app.LongestWait, "nan"},
		{app.LongestWait, "Inf"},
		{app.LongestWait, "-Inf"},
		{app.LongestWait, "1e12"},
		{app.LongestWait, "1000000000000"},
		{app.LongestWait, "1e300"},
		{app.LongestWait, "-1e300"},
		{app.LongestWait, "2562048h"}, // overflows time.Duration
		{app.LongestWait, "8d"},       // no day unit
		{app.LongestWait, "169h"},     // over 7 days
		{app.LongestWait, "5 m"},
		{app.LongestWait, "five minutes"},
		{app.LongestWait, ""},
		{app.LongestWait, "   "},
		{app.ServiceLevel, "-80"},
		{app.ServiceLevel, "NaN%"},
		{app.ServiceLevel, "100.0001"},
		{app.ServiceLevel, "1e12"},
		{app.ServiceLevel, "80%%"},
		{app.ServiceLevel, "%"},
		{app.AbandonRate, "+Inf"},
		{app.AbandonRate, "101%"},
		{app.Waiting, "-1"},
		{app.Waiting, "1e12"},
		{app.Waiting, "1000001"},
		{app.Waiting, "2.5"},
		{app.Waiting, "NaN"},
		{app.Waiting, "0x1p70"},
		{app.Agents, "-0.5"},
		{app.Agents, "9223372036854775808"},
	}
	for _, tt := range tests {
		t.Run(string(tt.metric)+"/"+tt.in, func(t *testing.T) {
			got, err := tt.metric.ParseValue(tt.in)
			if !errors.Is(err, app.ErrBadThreshold) {
				t.Fatalf("ParseValue(%q) = %v, %v; want app.ErrBadThreshold", tt.in, got, err)
			}
		})
	}
}

// The largest sensible values are still accepted, so the bounds are not
// off by one.
func TestParseValueAcceptsBounds(t *testing.T) {
	tests := []struct {
		metric app.Metric
		in     string
		want   float64
	}{
		{app.LongestWait, "168h", 7 * 24 * 3600},
		{app.LongestWait, "604800", 7 * 24 * 3600},
		{app.LongestWait, "0", 0},
		{app.LongestWait, " 5m ", 300},
		{app.ServiceLevel, "100%", 100},
		{app.ServiceLevel, "0", 0},
		{app.AbandonRate, "12.5", 12.5},
		{app.Waiting, "1000000", 1_000_000},
		{app.Agents, "0", 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.metric)+"/"+tt.in, func(t *testing.T) {
			got, err := tt.metric.ParseValue(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseValue(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// Unknown queues are refused with ErrUnknownQueue whatever the argument
// holds, and Unicode names resolve like ASCII ones.
func TestResolveQueueHostileNames(t *testing.T) {
	known := map[string]string{
		"2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10": "Kundenservice Zürich",
		"7d1e2c3b-4a59-4b6c-8d7e-9f0a1b2c3d4e": "サポート 東京",
		"0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3": "دعم العملاء",
		"relay.queue-7":                        "Support 🚨 <team>",
	}
	t.Run("known unicode", func(t *testing.T) {
		for id, name := range known {
			got, err := app.ResolveQueue(known, strings.ToUpper(name))
			if err != nil || got.ID != id {
				t.Errorf("ResolveQueue(%q) = %+v, %v; want %s", strings.ToUpper(name), got, err, id)
			}
		}
	})
	unknown := []string{
		"<!channel>", "<@U0123ABCD>", "&amp;", "<https://evil.example|click>", "Nobody",
		strings.Repeat("ü", 10_000), "\x00\x01", "\xff\xfe", "Support\u202e", "default; DROP",
	}
	for _, arg := range unknown {
		t.Run("unknown "+arg[:min(len(arg), 16)], func(t *testing.T) {
			got, err := app.ResolveQueue(known, arg)
			if !errors.Is(err, app.ErrUnknownQueue) {
				t.Fatalf("ResolveQueue(%q) = %+v, %v; want app.ErrUnknownQueue", arg, got, err)
			}
			if msg := err.Error(); utf8.RuneCountInString(msg) > 400 {
				t.Errorf("error message is %d runes long; want it clipped", utf8.RuneCountInString(msg))
			}
		})
	}
}

// FuzzParseDuration checks ParseDuration whatever is typed: no panic; a
// refusal wraps ErrBadThreshold; an accepted duration is never negative
// and reads back from what FormatDuration shows.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"300", "300s", "5m", "1h30m", "0", "-1", "NaN", "Inf", "1e12", "0.5",
		"2562048h", "9223372036s", " 5M ", "1h-30m", "0x10", ".5h", "1e-300", "-0", "٣٠٠"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := app.ParseDuration(s)
		if err != nil {
			if !errors.Is(err, app.ErrBadThreshold) {
				t.Fatalf("ParseDuration(%q) error %v does not wrap app.ErrBadThreshold", s, err)
			}
			if d != 0 {
				t.Fatalf("ParseDuration(%q) = %v with error %v; want 0", s, d, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v; want a non-negative duration", s, d)
		}
		// What FormatDuration shows ("5m 12s", spaces dropped) parses back
		// to the duration, to its display precision.
		shown := strings.ReplaceAll(app.FormatDuration(d), " ", "")
		again, err := app.ParseDuration(shown)
		precision := time.Second / 2
		if d >= time.Hour {
			precision = time.Minute // seconds are dropped from an hour on
		}
		if err != nil || (again-d).Abs() > precision {
			t.Fatalf("ParseDuration(%q) = %v, shown as %q, parsed back to %v, %v", s, d, shown, again, err)
		}
	})
}

// FuzzParseValue checks every metric's value parser: no panic; a refusal
// wraps ErrBadThreshold; an accepted value is finite, non-negative and
// within the metric's bounds (7 days, 100 %, a whole count up to a
// million); and what FormatValue shows parses back to the same value, to
// its display precision (a second; from an hour on, a minute; 0.1 %).
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"300", "5m", "80", "80%", "100.0001", "-1", "NaN", "1e12", "1000000", "2.5",
		"0x1p-2", "1_000", " 7 ", "%", "168h", "168h0m1s", "inf%", "1e-400"} {
		for i := range app.Metrics {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, mi uint8, s string) {
		m := app.Metrics[int(mi)%len(app.Metrics)]
		v, err := m.ParseValue(s)
		if err != nil {
			if !errors.Is(err, app.ErrBadThreshold) {
				t.Fatalf("%s.ParseValue(%q) error %v does not wrap app.ErrBadThreshold", m, s, err)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("%s.ParseValue(%q) = %v", m, s, v)
		}
		switch m {
		case app.LongestWait:
			if v > 7*24*3600 {
				t.Fatalf("%s.ParseValue(%q) = %v; over 7 days", m, s, v)
			}
		case app.ServiceLevel, app.AbandonRate:
			if v > 100 {
				t.Fatalf("%s.ParseValue(%q) = %v; over 100%%", m, s, v)
			}
		default:
			if v != math.Trunc(v) || v > 1_000_000 {
				t.Fatalf("%s.ParseValue(%q) = %v; not a whole count up to a million", m, s, v)
			}
		}
		// FormatValue separates units with a space ("5m 12s"); /sla takes
		// the value as one token, so the round trip drops spaces.
		shown := strings.ReplaceAll(m.FormatValue(v), " ", "")
		back, err := m.ParseValue(shown)
		if err != nil {
			t.Fatalf("%s: %q parsed to %v, shown as %q, which does not parse: %v", m, s, v, shown, err)
		}
		precision := 0.0
		switch m {
		case app.LongestWait:
			precision = 0.5
			if v >= 3600 {
				precision = 60 // from an hour on, minutes are shown and seconds dropped: "2h 46m"
			}
		case app.ServiceLevel, app.AbandonRate:
			precision = 0.05
		}
		if math.Abs(back-v) > precision+1e-9 {
			t.Fatalf("%s: %q parsed to %v, shown as %q, parsed back to %v", m, s, v, shown, back)
		}
	})
}
