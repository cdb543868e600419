package app

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Threshold is an SLA rule for one queue (or DefaultQueue), optionally one
// media type, and one metric.
type Threshold struct {
	QueueID string `json:"queue_id"`
	// MediaType narrows the rule to one media type (Voice, Chat…); empty
	// means every media type, which is what rules stored before media
	// types existed mean.
	MediaType string  `json:"media,omitempty"`
	Metric    Metric  `json:"metric"`
	Value     float64 `json:"value"`
	// Target, on service_level and longest_wait, makes the rule follow
	// each queue's own Genesys target for the observation's media type
	// (its percentage, or its duration) instead of Value, which is then
	// unused. A queue whose target is unknown is not alerted on a guess.
	Target bool `json:"target,omitempty"`
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
	if t.MediaType != "" {
		if m, ok := canonicalMedia(t.MediaType); !ok || m != t.MediaType {
			return fmt.Errorf("%w: unknown media type %q (use voice|call, chat, callback, email, message)", ErrBadThreshold, t.MediaType)
		}
	}
	if t.Target {
		switch {
		case t.Metric != ServiceLevel && t.Metric != LongestWait:
			return fmt.Errorf("%w: target applies to service_level and longest_wait only (the queue's own service-level percentage and duration in Genesys Cloud); give %s a value",
				ErrBadThreshold, t.Metric)
		case t.Value != 0:
			return fmt.Errorf("%w: a target rule takes its value from each queue's Genesys target, not %s", ErrBadThreshold, t.Metric.FormatValue(t.Value))
		}
	}
	if t.Clear != nil {
		c := *t.Clear
		switch {
		case c < 0 || math.IsNaN(c) || math.IsInf(c, 0):
			return fmt.Errorf("%w: the clear value must be a non-negative number", ErrBadThreshold)
		case t.Target:
			// Each queue's target is only known when the rule applies:
			// Resolve drops a band on the wrong side of it.
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
	s := t.QueueID
	if t.MediaType != "" {
		s += " " + t.MediaType
	}
	s += " " + string(t.Metric) + " " + t.ValueString()
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

// ValueString renders the rule's value: "target" for a target rule, else
// the value as the metric formats it.
func (t Threshold) ValueString() string {
	if t.Target {
		return "target"
	}
	return t.Metric.FormatValue(t.Value)
}

// Key names the rule among its queue's rules (ThresholdKey).
func (t Threshold) Key() string { return ThresholdKey(t.MediaType, t.Metric) }

// ThresholdKey names a queue's rule for a media type and metric: the
// metric alone for a rule on every media type (media ""), which is how
// every rule was keyed before media types, so stored rules keep their
// key; "media/metric" otherwise.
func ThresholdKey(media string, m Metric) string {
	if media == "" {
		return string(m)
	}
	return media + "/" + string(m)
}

// BuiltinApplies reports whether the built-in default rule watches
// observations of media: voice, chat and those that carry no media type
// (slabot's own metric events). Callback, email and message queues are
// answered in hours, not minutes: a built-in five-minute wait would page
// on every one of them, so their rules are set by a person.
func BuiltinApplies(media string) bool { return media == "" || media == Voice || media == Chat }

// Rule is the rule that applies to observations of media type media and
// metric m of a queue whose own rules are own and whose default queue's
// rules are defaults (both keyed by ThresholdKey); builtin is the
// built-in default (nil: none). The most specific rule wins: queue +
// media, queue, default + media, default, built-in (BuiltinApplies). A
// rule is returned as stored: a target rule still needs Resolve, and one
// whose target is unknown does not let a less specific rule apply, since
// the rule a person set for the queue is the one that speaks for it.
func Rule(own, defaults map[string]Threshold, builtin *Threshold, media string, m Metric) (Threshold, bool) {
	for _, rules := range [2]map[string]Threshold{own, defaults} {
		if media != "" {
			if t, ok := rules[ThresholdKey(media, m)]; ok {
				return t, true
			}
		}
		if t, ok := rules[string(m)]; ok {
			return t, true
		}
	}
	if builtin != nil && builtin.Metric == m && BuiltinApplies(media) {
		return *builtin, true
	}
	return Threshold{}, false
}

// RuleIn is Rule over a list of rules of any queues, as Records.Thresholds
// returns them, for queue queueID: what listings and previews show.
func RuleIn(rules []Threshold, builtin *Threshold, queueID, media string, m Metric) (Threshold, bool) {
	own := make(map[string]Threshold)
	defaults := make(map[string]Threshold)
	for _, t := range rules {
		if t.Metric != m || (t.MediaType != "" && t.MediaType != media) {
			continue
		}
		switch t.QueueID {
		case queueID:
			own[t.Key()] = t
		case DefaultQueue:
			defaults[t.Key()] = t
		}
	}
	return Rule(own, defaults, builtin, media, m)
}

// Resolve is the rule as it applies to an observation of media type media
// of a queue whose Genesys targets are targets (QueueInfo.ServiceLevels):
// a target rule takes the queue's own target as its value (service_level:
// the percentage; longest_wait: the duration, in seconds). ok is false
// when the rule follows a target the queue does not have (no polling, or
// none set, or no media type on the observation): nothing is alerted on a
// guess. A clear level on the wrong side of the target is dropped, so the
// rule resolves at the target itself.
func (t Threshold) Resolve(targets map[string]ServiceLevelTarget, media string) (Threshold, bool) {
	if !t.Target {
		return t, true
	}
	target, ok := QueueInfo{ServiceLevels: targets}.Target(media)
	if !ok {
		return Threshold{}, false
	}
	switch t.Metric {
	case ServiceLevel:
		t.Value = target.Percent
	case LongestWait:
		t.Value = target.Within.Seconds()
	default:
		return Threshold{}, false
	}
	if t.Clear != nil && !t.Metric.Breached(t.Value, *t.Clear) {
		t.Clear = nil
	}
	return t, true
}

// Unsets reports whether "/sla unset <queue> [media] [metric]" removes t:
// without a metric, every rule of media type media (every rule at all when
// media is empty too); with one, the one rule of that media type and
// metric, media "" naming the rule on every media type.
func (t Threshold) Unsets(media string, m Metric) bool {
	if m == "" {
		return media == "" || t.MediaType == media
	}
	return t.MediaType == media && t.Metric == m
}
