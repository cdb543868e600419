package app

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	// The zone database, embedded: business hours name IANA zones, and a
	// slim container image may have no /usr/share/zoneinfo.
	_ "time/tzdata"
)

// Hours are a queue's business hours (or the default queue's, for every
// queue without its own). Outside them no alert fires for the queue, its
// open alerts resolve quietly, and alerts re-arm at opening time.
type Hours struct {
	// Always is set by "/sla hours <queue> always": open all the time,
	// whatever the default queue's hours.
	Always bool `json:"always,omitempty"`
	// Zone is an IANA time zone (Europe/London); its rules, daylight
	// saving included, place Ranges in time.
	Zone   string       `json:"zone,omitempty"`
	Ranges []HoursRange `json:"ranges,omitempty"`
	SetBy  string       `json:"set_by,omitempty"`
	SetAt  time.Time    `json:"set_at,omitzero"`
}

// HoursRange is one daily opening: on each of Days, from From to To
// (minutes after local midnight). A range with To not after From runs
// past midnight into the next day (22:00-06:00).
type HoursRange struct {
	Days Weekdays `json:"days"`
	From int      `json:"from"`
	To   int      `json:"to"`
}

// Weekdays is a set of days: bit d is time.Weekday d.
type Weekdays uint8

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<d) != 0 }

// Set reports whether h names any hours at all (always, or a zone with
// ranges); the zero Hours means "none of its own".
func (h Hours) Set() bool { return h.Always || len(h.Ranges) > 0 }

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// String renders the hours as /sla hours takes them:
// "Mon-Fri 08:00-18:00 Sat 09:00-13:00 Europe/London", or "always".
func (h Hours) String() string {
	if !h.Set() {
		return "none"
	}
	if h.Always {
		return "always"
	}
	var parts []string
	for i, r := range h.Ranges {
		if i == 0 || r.Days != h.Ranges[i-1].Days {
			parts = append(parts, r.Days.String())
		}
		parts = append(parts, clockTime(r.From)+"-"+clockTime(r.To))
	}
	return strings.Join(parts, " ") + " " + h.Zone
}

// String renders a day set compactly: "Mon-Fri", "Sat,Sun", "daily".
func (w Weekdays) String() string {
	if w == 0x7f {
		return "daily"
	}
	var parts []string
	// Runs in Monday-first order, as people write them.
	order := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	for i := 0; i < len(order); {
		if !w.Has(order[i]) {
			i++
			continue
		}
		j := i
		for j+1 < len(order) && w.Has(order[j+1]) {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, dayNames[order[i]])
		case j == i+1:
			parts = append(parts, dayNames[order[i]], dayNames[order[j]])
		default:
			parts = append(parts, dayNames[order[i]]+"-"+dayNames[order[j]])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func clockTime(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// ParseHours reads business hours as /sla hours takes them after the
// queue: "always", or day sets each followed by one or more time ranges,
// then an IANA zone: "Mon-Fri 08:00-18:00 Sat 09:00-13:00 Europe/London".
// Errors wrap ErrBadThreshold and say what to fix.
func ParseHours(words []string) (Hours, error) {
	if len(words) == 1 && strings.EqualFold(words[0], "always") {
		return Hours{Always: true}, nil
	}
	if len(words) < 3 {
		return Hours{}, fmt.Errorf("%w: give days, hours and a time zone, e.g. Mon-Fri 08:00-18:00 Europe/London, or always", ErrBadThreshold)
	}
	zone := words[len(words)-1]
	if _, err := loadZone(zone); err != nil {
		return Hours{}, err
	}
	h := Hours{Zone: zone}
	var days Weekdays
	for _, w := range words[:len(words)-1] {
		if d, ok := ParseWeekdays(w); ok {
			days = d
			continue
		}
		from, to, ok := ParseTimeRange(w)
		switch {
		case !ok:
			return Hours{}, fmt.Errorf("%w: '%s' is neither days (Mon-Fri, Sat,Sun, daily) nor hours (08:00-18:00)", ErrBadThreshold, clipRunes(w, 40))
		case days == 0:
			return Hours{}, fmt.Errorf("%w: say which days %s applies to, e.g. Mon-Fri %s", ErrBadThreshold, w, w)
		}
		h.Ranges = append(h.Ranges, HoursRange{Days: days, From: from, To: to})
	}
	if len(h.Ranges) == 0 {
		return Hours{}, fmt.Errorf("%w: give hours after the days, e.g. Mon-Fri 08:00-18:00", ErrBadThreshold)
	}
	if _, ok := ParseWeekdays(words[len(words)-2]); ok {
		return Hours{}, fmt.Errorf("%w: give hours after %s, e.g. %s 09:00-13:00", ErrBadThreshold, words[len(words)-2], words[len(words)-2])
	}
	return h, nil
}

var dayIndex = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday, "mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tues": time.Tuesday, "tuesday": time.Tuesday, "wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thur": time.Thursday, "thurs": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday, "sat": time.Saturday, "saturday": time.Saturday,
}

// ParseWeekdays reads a day set: "Mon", "Mon-Fri", "Fri-Mon" (wrapping),
// "Mon,Wed,Fri", "Mon-Wed,Fri", "daily", "weekdays", "weekends".
func ParseWeekdays(s string) (Weekdays, bool) {
	switch strings.ToLower(s) {
	case "daily", "everyday", "all":
		return 0x7f, true
	case "weekdays":
		return weekdayRange(time.Monday, time.Friday), true
	case "weekends", "weekend":
		return 1<<time.Saturday | 1<<time.Sunday, true
	}
	var w Weekdays
	for part := range strings.SplitSeq(strings.ToLower(s), ",") {
		a, b, isRange := strings.Cut(part, "-")
		da, ok := dayIndex[a]
		if !ok {
			return 0, false
		}
		if !isRange {
			w |= 1 << da
			continue
		}
		db, ok := dayIndex[b]
		if !ok {
			return 0, false
		}
		w |= weekdayRange(da, db)
	}
	return w, w != 0
}

func weekdayRange(from, to time.Weekday) Weekdays {
	var w Weekdays
	for d := from; ; d = (d + 1) % 7 {
		w |= 1 << d
		if d == to {
			return w
		}
	}
}

// ParseTimeRange reads "08:00-18:00" (also "8-18", "8:30-17:45", with a
// dash or an en dash) as minutes after midnight; "24:00" ends a day.
func ParseTimeRange(s string) (from, to int, ok bool) {
	a, b, found := strings.Cut(strings.ReplaceAll(s, "–", "-"), "-")
	if !found {
		return 0, 0, false
	}
	from, okA := parseClock(a)
	to, okB := parseClock(b)
	if !okA || !okB || from == to || from == 24*60 {
		return 0, 0, false
	}
	return from, to, true
}

func parseClock(s string) (int, bool) {
	h, m, hasMin := strings.Cut(s, ":")
	hh, err := strconv.Atoi(h)
	if err != nil || len(h) > 2 || hh < 0 || hh > 24 {
		return 0, false
	}
	mm := 0
	if hasMin {
		if mm, err = strconv.Atoi(m); err != nil || len(m) != 2 || mm < 0 || mm > 59 {
			return 0, false
		}
	}
	if hh == 24 && mm != 0 {
		return 0, false
	}
	return hh*60 + mm, true
}

// loadZone loads an IANA zone by name. Local and empty names are refused:
// the server's own zone says nothing about a contact centre's hours.
func loadZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("%w: give a time zone such as Europe/London or America/New_York", ErrBadThreshold)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%w: '%s' is not a time zone; use an IANA name such as Europe/London, America/Chicago or UTC", ErrBadThreshold, clipRunes(name, 40))
	}
	return loc, nil
}

// Schedule is Hours placed in their zone, to tell whether a moment is
// inside them. The zero Schedule is always open.
type Schedule struct {
	hours Hours
	loc   *time.Location
}

// Zones caches loaded time zones: loading one reads the zone database.
// The zero value is ready to use.
type Zones struct {
	mu sync.Mutex
	m  map[string]*time.Location
}

// Schedule is the Schedule of h (nil or unset: always open). A zone that
// no longer loads (a renamed zone) leaves the queue always open rather
// than silencing it.
func (z *Zones) Schedule(h *Hours) Schedule {
	if h == nil || !h.Set() || h.Always {
		return Schedule{}
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	loc, ok := z.m[h.Zone]
	if !ok {
		l, err := loadZone(h.Zone)
		if err != nil {
			return Schedule{}
		}
		if z.m == nil {
			z.m = make(map[string]*time.Location)
		}
		z.m[h.Zone], loc = l, l
	}
	return Schedule{hours: *h, loc: loc}
}

// ScheduleOf is h placed in its zone, for callers without an engine.
func ScheduleOf(h Hours) (Schedule, error) {
	if !h.Set() || h.Always {
		return Schedule{}, nil
	}
	loc, err := loadZone(h.Zone)
	if err != nil {
		return Schedule{}, err
	}
	return Schedule{hours: h, loc: loc}, nil
}

// Always reports whether the schedule never closes.
func (s Schedule) Always() bool { return s.loc == nil }

// Open reports whether t is inside the hours.
func (s Schedule) Open(t time.Time) bool {
	if s.loc == nil {
		return true
	}
	for _, iv := range s.intervals(t, 1, 1) {
		if !t.Before(iv[0]) && t.Before(iv[1]) {
			return true
		}
	}
	return false
}

// Next is the first moment after t when the schedule opens or closes;
// zero if it never does (always open, or no ranges).
func (s Schedule) Next(t time.Time) time.Time {
	if s.loc == nil {
		return time.Time{}
	}
	open := s.Open(t)
	var edges []time.Time
	for _, iv := range s.intervals(t, 1, 8) {
		edges = append(edges, iv[0], iv[1])
	}
	slices.SortFunc(edges, time.Time.Compare)
	for _, e := range edges {
		if e.After(t) && s.Open(e) != open {
			return e
		}
	}
	return time.Time{}
}

// intervals lists the openings of the days from before to after days
// around t's local date, as [start, end) instants. Each is placed with the
// zone's rules for its own date, so daylight saving moves it correctly;
// a wall time that a clock change skips is taken as Go normalises it.
func (s Schedule) intervals(t time.Time, before, after int) [][2]time.Time {
	local := t.In(s.loc)
	y, m, d := local.Date()
	var out [][2]time.Time
	for off := -before; off <= after; off++ {
		day := time.Date(y, m, d+off, 12, 0, 0, 0, s.loc) // noon: never in a gap
		for _, r := range s.hours.Ranges {
			if !r.Days.Has(day.Weekday()) {
				continue
			}
			dy, dm, dd := day.Date()
			start := time.Date(dy, dm, dd, r.From/60, r.From%60, 0, 0, s.loc)
			endDay := dd
			if r.To <= r.From {
				endDay++
			}
			end := time.Date(dy, dm, endDay, r.To/60, r.To%60, 0, 0, s.loc)
			if end.After(start) {
				out = append(out, [2]time.Time{start, end})
			}
		}
	}
	return out
}

// OpenAt reports whether the hours are open at t and when that changes
// next (zero: never). Hours whose zone no longer loads count as always
// open, as the engine treats them.
func (h Hours) OpenAt(t time.Time) (bool, time.Time) {
	s, err := ScheduleOf(h)
	if err != nil {
		return true, time.Time{}
	}
	return s.Open(t), s.Next(t)
}
