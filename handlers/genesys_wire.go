package handlers

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slabot/slabot/app"
)

// Values as senders write them: numbers that may be strings or absent,
// stamps in RFC 3339 or Unix time, and the identifiers slabot accepts.

// wireNumber is a JSON value that must be a number when present. Unlike a
// float64 field it tells absent from null or a string, which encoding/json
// would skip silently or report without the event's array index.
type wireNumber struct {
	v       float64
	present bool // the key was there, with any value
	number  bool // and that value was a number
}

// UnmarshalJSON records the number, or that the value was not one. It never
// fails, so one bad value cannot hide the rest of the event.
func (n *wireNumber) UnmarshalJSON(b []byte) error {
	*n = wireNumber{present: true}
	if c := b[0]; c == '-' || (c >= '0' && c <= '9') {
		n.v, _ = strconv.ParseFloat(string(b), 64) // out of range gives ±Inf
		n.number = true
	}
	return nil
}

// value returns the number if present (ok false when absent), or an error
// naming field.
func (n wireNumber) value(field string) (v float64, ok bool, err error) {
	switch {
	case !n.present:
		return 0, false, nil
	case !n.number:
		return 0, false, fmt.Errorf("%s: not a number", field)
	case math.IsInf(n.v, 0):
		return 0, false, fmt.Errorf("%s: not a finite number", field)
	case n.v < 0:
		return 0, false, fmt.Errorf("%s: negative", field)
	}
	return n.v, true, nil
}

// wireStamp is a time an event carries: an RFC 3339 string, or a number of
// Unix seconds (milliseconds when over 1e11). Like wireNumber it never
// fails to unmarshal; time says whether it was valid.
type wireStamp struct {
	raw     string
	present bool
}

// UnmarshalJSON keeps the value for time to check.
func (s *wireStamp) UnmarshalJSON(b []byte) error {
	*s = wireStamp{present: string(b) != "null", raw: string(b)}
	return nil
}

// time returns the stamp (zero when absent), or an error naming field.
func (s wireStamp) time(field string) (time.Time, error) {
	if !s.present {
		return time.Time{}, nil
	}
	if str, err := strconv.Unquote(s.raw); err == nil && strings.HasPrefix(s.raw, `"`) {
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %.40q is not an RFC 3339 time", field, str)
		}
		return t, nil
	}
	f, err := strconv.ParseFloat(s.raw, 64)
	if err != nil || f < 0 || f > 1e15 || math.IsNaN(f) {
		return time.Time{}, fmt.Errorf("%s: not an RFC 3339 time or Unix seconds", field)
	}
	if f > 1e11 {
		return time.UnixMilli(int64(f)).UTC(), nil
	}
	return time.Unix(int64(f), int64((f-math.Floor(f))*1e9)).UTC(), nil
}

// intervalStart returns the start of an ISO 8601 interval "start/end" as
// Genesys writes it (zero when absent): for an interval metric the end
// lies ahead, at the end of the current interval, so only the start says
// when the data was current.
func intervalStart(field, interval string) (time.Time, error) {
	if interval == "" {
		return time.Time{}, nil
	}
	start, _, ok := strings.Cut(interval, "/")
	t, err := time.Parse(time.RFC3339Nano, start)
	if !ok || err != nil {
		return time.Time{}, fmt.Errorf("%s: %.64q is not an interval <start>/<end> in RFC 3339", field, interval)
	}
	return t, nil
}

// checkID refuses an event id over maxEventID bytes: it is kept in a Redis
// key for a day.
func checkID(field, id string) error {
	if len(id) > maxEventID {
		return fmt.Errorf("%s: longer than %d bytes", field, maxEventID)
	}
	return nil
}

// checkQueueID refuses an invalid queue ID, or one of the words /sla
// reads as every queue (all) or the fallback rule (default).
func checkQueueID(field, id string) error {
	if strings.EqualFold(id, app.AllQueues) || strings.EqualFold(id, app.DefaultQueue) {
		return fmt.Errorf("%s: %q is reserved (all and default are /sla keywords)", field, strings.ToLower(id))
	}
	if app.ValidateQueueID(id) != nil {
		return fmt.Errorf("%s: %.64q is not a valid queue id", field, id)
	}
	return nil
}
