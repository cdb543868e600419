package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

func TestParseReportSchedule(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	good := map[string]app.ReportSchedule{
		"Mon 09:00 Europe/London":   {Day: time.Monday, Minute: 9 * 60, Zone: london},
		"monday 9:30 Europe/London": {Day: time.Monday, Minute: 9*60 + 30, Zone: london},
		"Fri 17:45":                 {Day: time.Friday, Minute: 17*60 + 45, Zone: time.UTC},
	}
	for in, want := range good {
		got, err := app.ParseReportSchedule(in)
		if err != nil || got.Day != want.Day || got.Minute != want.Minute || got.Zone.String() != want.Zone.String() {
			t.Errorf("ParseReportSchedule(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                       "give a weekday, a time and a time zone",
		"Mon":                    "give a weekday, a time and a time zone",
		"Mo 09:00":               "'Mo' is not a weekday",
		"Monkey 09:00":           "'Monkey' is not a weekday",
		"Mon 9":                  "'9' is not a time of day",
		"Mon 24:00":              "'24:00' is not a time of day",
		"Mon 09:00 Europe/Londn": "'Europe/Londn' is not a time zone",
		"Mon 09:00 Local":        "'Local' is not a time zone",
		"Mon 09:00 UTC extra":    "give a weekday, a time and a time zone",
	}
	for in, want := range bad {
		if _, err := app.ParseReportSchedule(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseReportSchedule(%q): err = %v, want %q", in, err, want)
		}
	}
}

func TestReportScheduleLastAndPeriod(t *testing.T) {
	s, err := app.ParseReportSchedule("Mon 09:00 Europe/London")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	// Monday 30 March 2026 is the first Monday of British Summer Time.
	tests := []struct{ now, last, from string }{
		{"2026-03-30T08:00:00Z", "2026-03-30T08:00:00Z", "2026-03-23T09:00:00Z"}, // 09:00 BST, a week after 09:00 GMT
		{"2026-03-30T07:59:59Z", "2026-03-23T09:00:00Z", "2026-03-16T09:00:00Z"},
		{"2026-04-02T12:00:00Z", "2026-03-30T08:00:00Z", "2026-03-23T09:00:00Z"},
		{"2026-12-07T09:00:00Z", "2026-12-07T09:00:00Z", "2026-11-30T09:00:00Z"},
	}
	for _, tt := range tests {
		now, _ := time.Parse(time.RFC3339, tt.now)
		last := s.Last(now)
		from, to := s.Period(last)
		if got := last.UTC().Format(time.RFC3339); got != tt.last {
			t.Errorf("Last(%s) = %s, want %s", tt.now, got, tt.last)
		}
		if got := from.UTC().Format(time.RFC3339); got != tt.from || !to.Equal(last) {
			t.Errorf("Period(%s) = %s – %s, want from %s", last, got, to, tt.from)
		}
	}
}
