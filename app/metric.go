// Package app holds slabot's domain: queues, metrics, thresholds, alerts,
// the alert engine that turns observations into alert transitions, and the
// dispatcher that delivers the resulting notifications. It imports no other
// slabot package; adapters (Redis, Slack, Genesys, HTTP) implement the small
// interfaces declared here.
package app

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Metric is one of slabot's five queue metrics (DESIGN §4).
type Metric string

// The metrics slabot evaluates. Their wire names are stable: they appear in
// metric events, Redis keys, button values and /sla commands.
const (
	LongestWait  Metric = "longest_wait"
	Waiting      Metric = "waiting"
	ServiceLevel Metric = "service_level"
	Agents       Metric = "agents"
	AbandonRate  Metric = "abandon_rate"
)

// Metrics lists every metric in display order.
var Metrics = []Metric{LongestWait, Waiting, ServiceLevel, Agents, AbandonRate}

var metricAliases = map[string]Metric{
	"longest_wait": LongestWait, "wait": LongestWait,
	"waiting": Waiting, "queue": Waiting,
	"service_level": ServiceLevel, "sl": ServiceLevel,
	"agents": Agents, "on_queue": Agents,
	"abandon_rate": AbandonRate, "abandon": AbandonRate,
}

// Largest accepted values: anything beyond them is a typo, not a threshold.
const (
	maxWaitSeconds = 7 * 24 * 3600
	maxCount       = 1_000_000
)

// ParseMetric resolves a metric name or alias, case-insensitively.
func ParseMetric(s string) (Metric, error) {
	m, ok := metricAliases[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return "", fmt.Errorf("%w: %q (use longest_wait|wait, waiting|queue, service_level|sl, agents|on_queue, abandon_rate|abandon)", ErrUnknownMetric, s)
	}
	return m, nil
}

// BreachesBelow reports whether a value under the threshold is a breach
// (service level, agents on queue); the other metrics breach above it.
func (m Metric) BreachesBelow() bool { return m == ServiceLevel || m == Agents }

// Breached reports whether value breaches threshold for this metric.
func (m Metric) Breached(value, threshold float64) bool {
	if m.BreachesBelow() {
		return value < threshold
	}
	return value > threshold
}

// IsRate reports whether the metric is a ratio over an interval's volume.
func (m Metric) IsRate() bool { return m == ServiceLevel || m == AbandonRate }

// Label is the metric's human name for messages.
func (m Metric) Label() string {
	switch m {
	case LongestWait:
		return "Longest wait"
	case Waiting:
		return "Waiting"
	case ServiceLevel:
		return "Service level"
	case Agents:
		return "Agents on queue"
	case AbandonRate:
		return "Abandon rate"
	}
	return string(m)
}

// ParseValue parses a threshold value as DESIGN §4 writes it: seconds for
// longest_wait ("300", "300s", "5m", "1h30m"), a percentage for rates ("80",
// "80%") and a whole count otherwise. It rejects negative, non-finite and
// absurd values so that a typo never silences or floods a channel.
func (m Metric) ParseValue(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%w: empty value", ErrBadThreshold)
	}
	switch m {
	case LongestWait:
		d, err := ParseDuration(s)
		if err != nil {
			return 0, err
		}
		if d > maxWaitSeconds*time.Second {
			return 0, fmt.Errorf("%w: %s is longer than 7 days", ErrBadThreshold, s)
		}
		return d.Seconds(), nil
	case ServiceLevel, AbandonRate:
		v, err := parseNumber(strings.TrimSuffix(s, "%"))
		if err != nil {
			return 0, err
		}
		if v > 100 {
			return 0, fmt.Errorf("%w: %s is over 100%%", ErrBadThreshold, s)
		}
		return v, nil
	default:
		v, err := parseNumber(s)
		if err != nil {
			return 0, err
		}
		if v != math.Trunc(v) || v > maxCount {
			return 0, fmt.Errorf("%w: %s is not a whole count", ErrBadThreshold, s)
		}
		return v, nil
	}
}

func parseNumber(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: %q is not a number", ErrBadThreshold, s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%w: %s is negative", ErrBadThreshold, s)
	}
	return v, nil
}

// ParseDuration accepts a Go duration ("5m", "1h30m", "300s"), with days
// ("2d"), or a bare number of seconds ("300"), as supervisors type all. Durations must be
// positive and whole seconds or more.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(v) || math.IsInf(v, 0) || v > maxWaitSeconds*10 {
			return 0, fmt.Errorf("%w: %q is not a duration", ErrBadThreshold, s)
		}
		d = time.Duration(v * float64(time.Second))
	} else {
		var perr error
		d, perr = parseDays(strings.ToLower(s))
		if perr != nil {
			return 0, fmt.Errorf("%w: %q is not a duration (try 30s, 5m, 1h or 2d)", ErrBadThreshold, s)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: %s is negative", ErrBadThreshold, s)
	}
	return d, nil
}

// parseDays is time.ParseDuration with whole days in front ("2d",
// "1d12h"), which supervisors type and Go does not take.
func parseDays(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	n, err := strconv.Atoi(days)
	if !ok || err != nil || n < 0 || n > 3650 {
		return time.ParseDuration(s)
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest == "" {
		return d, nil
	}
	r, err := time.ParseDuration(rest)
	if err != nil {
		return 0, err
	}
	return d + r, nil
}

// FormatValue renders a metric value for people: "5m 12s", "62%", "14".
func (m Metric) FormatValue(v float64) string {
	switch m {
	case LongestWait:
		return FormatDuration(time.Duration(v * float64(time.Second)))
	case ServiceLevel, AbandonRate:
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + "%"
	default:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
}

// FormatDuration renders a duration compactly at second precision: "45s",
// "5m 12s", "2h 3m".
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	case s > 0:
		return fmt.Sprintf("%dm %ds", m, s)
	}
	return fmt.Sprintf("%dm", m)
}
