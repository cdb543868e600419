package app_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

func TestParseHours(t *testing.T) {
	tests := []struct {
		in   string
		want string // String() of the result, or the error's text
		err  bool
	}{
		{"always", "always", false},
		{"Mon-Fri 08:00-18:00 Europe/London", "Mon-Fri 08:00-18:00 Europe/London", false},
		{"mon-fri 8-18 Sat 9:00-13:00 Europe/London", "Mon-Fri 08:00-18:00 Sat 09:00-13:00 Europe/London", false},
		{"Mon-Fri 08:00-12:00 13:00-17:30 America/New_York", "Mon-Fri 08:00-12:00 13:00-17:30 America/New_York", false},
		{"weekdays 22:00-06:00 UTC", "Mon-Fri 22:00-06:00 UTC", false},
		{"Fri-Mon 00:00-24:00 Asia/Tokyo", "Mon,Fri-Sun 00:00-24:00 Asia/Tokyo", false},
		{"Mon,Wed,Fri 08:00–18:00 Europe/Paris", "Mon,Wed,Fri 08:00-18:00 Europe/Paris", false},
		{"daily 07:00-23:00 Australia/Sydney", "daily 07:00-23:00 Australia/Sydney", false},
		{"Mon-Fri 08:00-18:00 Mars/Olympus", "'Mars/Olympus' is not a time zone", true},
		{"Mon-Fri 08:00-18:00 Local", "give a time zone", true},
		{"08:00-18:00 Sat 10:00-12:00 Europe/London", "say which days", true},
		{"Mon-Fri Europe/London", "give days, hours and a time zone", true},
		{"Mon-Fri soon Europe/London", "'soon' is neither days", true},
		{"Mon-Fri 08:00-08:00 Europe/London", "is neither days", true},
		{"Mon-Fri 08:00-25:00 Europe/London", "is neither days", true},
		{"Mon-Fri 08:00-18:00 Sat Europe/London", "give hours after Sat", true},
		{"", "give days, hours and a time zone", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			h, err := app.ParseHours(strings.Fields(tt.in))
			switch {
			case tt.err && (!errors.Is(err, app.ErrBadThreshold) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("ParseHours = %v, %v; want an error containing %q", h, err, tt.want)
			case !tt.err && err != nil:
				t.Errorf("ParseHours: %v", err)
			case !tt.err && h.String() != tt.want:
				t.Errorf("ParseHours = %q, want %q", h.String(), tt.want)
			}
		})
	}
}

func mustSchedule(t *testing.T, spec string) app.Schedule {
	t.Helper()
	h, err := app.ParseHours(strings.Fields(spec))
	if err != nil {
		t.Fatal(err)
	}
	s, err := app.ScheduleOf(h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestScheduleAcrossDST: Europe/London's office hours are 08:00-18:00
// local; in UTC they move by an hour at each clock change, which only the
// zone database knows. 2026: BST from Sun 29 March, GMT from Sun 25 Oct.
func TestScheduleAcrossDST(t *testing.T) {
	s := mustSchedule(t, "Mon-Fri 08:00-18:00 Europe/London")
	tests := []struct {
		at   string
		open bool
		next string // the next opening or closing
	}{
		// Spring: Friday closes at 18:00 GMT, Monday opens at 08:00 BST.
		{"2026-03-27T17:59:59Z", true, "2026-03-27T18:00:00Z"},
		{"2026-03-27T18:00:00Z", false, "2026-03-30T07:00:00Z"},
		{"2026-03-30T06:59:59Z", false, "2026-03-30T07:00:00Z"},
		{"2026-03-30T07:00:00Z", true, "2026-03-30T17:00:00Z"},
		// Autumn: Friday closes at 18:00 BST, Monday opens at 08:00 GMT.
		{"2026-10-23T16:59:59Z", true, "2026-10-23T17:00:00Z"},
		{"2026-10-23T17:00:00Z", false, "2026-10-26T08:00:00Z"},
		{"2026-10-26T07:59:59Z", false, "2026-10-26T08:00:00Z"},
		{"2026-10-26T08:00:00Z", true, "2026-10-26T18:00:00Z"},
		// Mid-week, mid-winter.
		{"2026-11-25T12:00:00Z", true, "2026-11-25T18:00:00Z"},
		{"2026-11-28T12:00:00Z", false, "2026-11-30T08:00:00Z"}, // Saturday
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			at := utc(tt.at)
			if got := s.Open(at); got != tt.open {
				t.Errorf("Open(%s) = %v, want %v", tt.at, got, tt.open)
			}
			if got, want := s.Next(at), utc(tt.next); !got.Equal(want) {
				t.Errorf("Next(%s) = %s, want %s", tt.at, got.UTC().Format(time.RFC3339), tt.next)
			}
		})
	}
}

// A night shift spanning the spring-forward gap (01:00-02:00 local does not
// exist on 29 March 2026 in London) lasts an hour less that night.
func TestScheduleOvernightThroughTheGap(t *testing.T) {
	s := mustSchedule(t, "Sat 23:00-04:00 Europe/London")
	for at, want := range map[string]bool{
		"2026-03-28T22:59:59Z": false,
		"2026-03-28T23:00:00Z": true,  // 23:00 GMT
		"2026-03-29T00:59:59Z": true,  // 00:59 GMT, just before the gap
		"2026-03-29T01:30:00Z": true,  // 02:30 BST
		"2026-03-29T02:59:59Z": true,  // 03:59 BST
		"2026-03-29T03:00:00Z": false, // 04:00 BST: closed after 4 real hours, not 5
	} {
		if got := s.Open(utc(at)); got != want {
			t.Errorf("Open(%s) = %v, want %v", at, got, want)
		}
	}
	if got := s.Next(utc("2026-03-29T00:00:00Z")); !got.Equal(utc("2026-03-29T03:00:00Z")) {
		t.Errorf("Next = %s, want the close at 04:00 BST", got.UTC())
	}
}

func TestScheduleAdjacentRangesDoNotFlap(t *testing.T) {
	s := mustSchedule(t, "Mon-Fri 08:00-12:00 12:00-18:00 UTC")
	if got := s.Next(utc("2026-11-25T09:00:00Z")); !got.Equal(utc("2026-11-25T18:00:00Z")) {
		t.Errorf("Next = %s, want 18:00: noon joins two ranges without closing", got)
	}
}

func TestScheduleAlways(t *testing.T) {
	s, err := app.ScheduleOf(app.Hours{Always: true})
	if err != nil || !s.Always() || !s.Open(utc("2026-11-28T03:00:00Z")) || !s.Next(utc("2026-11-28T03:00:00Z")).IsZero() {
		t.Errorf("always: %v %v", s, err)
	}
}
