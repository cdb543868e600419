package app

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ReportSchedule is when the weekly report is posted (SLA_REPORT, e.g.
// "Mon 09:00 Europe/London"): a weekday and a time of day in a time zone.
// Each posting covers the week up to it.
type ReportSchedule struct {
	Day    time.Weekday
	Minute int // minutes after midnight
	Zone   *time.Location
}

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseReportSchedule reads "<weekday> <HH:MM> [<IANA zone>]" (UTC when
// the zone is left out), e.g. "Mon 09:00 Europe/London".
func ParseReportSchedule(s string) (ReportSchedule, error) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return ReportSchedule{}, errors.New("give a weekday, a time and a time zone, e.g. Mon 09:00 Europe/London")
	}
	day, ok := weekdayNames[strings.ToLower(f[0][:min(3, len(f[0]))])]
	if !ok || (len(f[0]) > 3 && !strings.EqualFold(f[0], day.String())) {
		return ReportSchedule{}, fmt.Errorf("'%s' is not a weekday (Mon, Tue… or Monday, Tuesday…)", clipRunes(f[0], 20))
	}
	minute, ok := parseClock(f[1])
	if !ok || minute >= 24*60 || !strings.Contains(f[1], ":") {
		return ReportSchedule{}, fmt.Errorf("'%s' is not a time of day such as 09:00", clipRunes(f[1], 20))
	}
	rs := ReportSchedule{Day: day, Minute: minute, Zone: time.UTC}
	if len(f) == 3 {
		zone, err := time.LoadLocation(f[2])
		if err != nil || strings.EqualFold(f[2], "local") {
			return ReportSchedule{}, fmt.Errorf("'%s' is not a time zone; use an IANA name such as Europe/London or UTC", clipRunes(f[2], 40))
		}
		rs.Zone = zone
	}
	return rs, nil
}

// String is the schedule as SLA_REPORT spells it.
func (s ReportSchedule) String() string {
	return fmt.Sprintf("%s %s %s", s.Day.String()[:3], clockTime(s.Minute), s.Zone)
}

// Last is the latest moment of the schedule at or before now; the report
// posted then covers the week before it.
func (s ReportSchedule) Last(now time.Time) time.Time {
	n := now.In(s.Zone)
	for back := 0; back <= 7; back++ {
		d := n.AddDate(0, 0, -back)
		at := time.Date(d.Year(), d.Month(), d.Day(), s.Minute/60, s.Minute%60, 0, 0, s.Zone)
		if at.Weekday() == s.Day && !at.After(now) {
			return at
		}
	}
	return time.Time{} // unreachable: some day of the last eight matches
}

// Period is the week a report posted at at covers: the same weekday and
// time a week before, to at.
func (s ReportSchedule) Period(at time.Time) (from, to time.Time) {
	a := at.In(s.Zone)
	return time.Date(a.Year(), a.Month(), a.Day()-7, s.Minute/60, s.Minute%60, 0, 0, s.Zone), at
}
