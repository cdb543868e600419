package app

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Threshold is an SLA rule for one queue (or DefaultQueue) and metric.
type Threshold struct {
	QueueID string  `json:"queue_id"`
	Metric  Metric  `json:"metric"`
	Value   float64 `json:"value"`
	// Clear, when set, is the hysteresis level: an alert fires past Value
	// and resolves only once the value is back at Clear or better, so a
	// value hovering around Value makes one episode, not one per crossing.
	Clear *float64 `json:"clear,omitempty"`
	// MinVolume, for rate metrics, ignores observations of intervals with
	// fewer offered interactions: one abandoned call of two at 7 a.m. is
	// not a 50 % abandon rate worth paging about.
	MinVolume float64       `json:"min_volume,omitempty"`
	For       time.Duration `json:"for,omitempty"`
	SetBy     string        `json:"set_by,omitempty"`
	SetAt     time.Time     `json:"set_at,omitzero"`
}

// Breached reports whether v breaches the threshold: a new episode starts.
func (t Threshold) Breached(v float64) bool { return t.Metric.Breached(v, t.Value) }

// Holds reports whether an episode already open goes on at v: v is still
// past the clear level (Clear when set, else Value).
func (t Threshold) Holds(v float64) bool { return t.Metric.Breached(v, t.ClearLevel()) }

// ClearLevel is the value an open episode must get back to to resolve.
func (t Threshold) ClearLevel() float64 {
	if t.Clear != nil {
		return *t.Clear
	}
	return t.Value
}

// Gates reports whether the rule ignores o: o's interval had fewer offered
// interactions than MinVolume. An unknown volume (0) never gates, so a
// source that cannot tell volume still alerts.
func (t Threshold) Gates(o Observation) bool {
	return t.MinVolume > 0 && o.Metric == t.Metric && o.Volume > 0 && o.Volume < t.MinVolume
}

// Validate checks a rule as a supervisor typed it. Errors wrap
// ErrBadThreshold and say what to change.
func (t Threshold) Validate() error {
	if v := t.Value; v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: value must be a non-negative number", ErrBadThreshold)
	}
	if t.Clear != nil {
		c := *t.Clear
		switch {
		case c < 0 || math.IsNaN(c) || math.IsInf(c, 0):
			return fmt.Errorf("%w: the clear value must be a non-negative number", ErrBadThreshold)
		case t.Metric.BreachesBelow() && c <= t.Value:
			return fmt.Errorf("%w: %s breaches below its threshold, so it must clear above it: clear %s is not above %s",
				ErrBadThreshold, t.Metric.Label(), t.Metric.FormatValue(c), t.Metric.FormatValue(t.Value))
		case !t.Metric.BreachesBelow() && c >= t.Value:
			return fmt.Errorf("%w: %s breaches above its threshold, so it must clear below it: clear %s is not below %s",
				ErrBadThreshold, t.Metric.Label(), t.Metric.FormatValue(c), t.Metric.FormatValue(t.Value))
		}
	}
	if n := t.MinVolume; n != 0 {
		switch {
		case !t.Metric.IsRate():
			return fmt.Errorf("%w: min applies to service_level and abandon_rate only (the interactions offered in their interval)", ErrBadThreshold)
		case n < 1 || n != math.Trunc(n) || n > maxCount:
			return fmt.Errorf("%w: min must be a whole number of interactions from 1 to %d", ErrBadThreshold, maxCount)
		}
	}
	if t.For < 0 {
		return fmt.Errorf("%w: for must not be negative", ErrBadThreshold)
	}
	return nil
}

// String renders the rule as /sla set would accept it.
func (t Threshold) String() string {
	s := fmt.Sprintf("%s %s %s", t.QueueID, t.Metric, t.Metric.FormatValue(t.Value))
	if t.Clear != nil {
		s += " clear " + t.Metric.FormatValue(*t.Clear)
	}
	if t.MinVolume > 0 {
		s += " min " + strconv.FormatFloat(t.MinVolume, 'f', -1, 64)
	}
	if t.For > 0 {
		s += " for " + FormatDuration(t.For)
	}
	return s
}
