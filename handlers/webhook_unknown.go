package handlers

import (
	"log/slog"
	"sync"
	"time"
)

// Bounds of the unknown-metric log: each name is logged at most once per
// unknownLogEvery, and at most unknownNamesKept names are remembered, so
// a sender making up names cannot grow memory or flood the log for long.
const (
	unknownLogEvery  = time.Hour
	unknownNamesKept = 256
)

// unknownMetrics tells the operator about metric events whose metric is
// none of slabot's ("wait_time" for "longest_wait"): they answer 200
// ignored, which a relay takes for success, so without this a typo in a
// relay would silence its alerts for good. Every one is counted; each
// name is logged once an hour.
type unknownMetrics struct {
	log *slog.Logger
	obs Observer

	mu     sync.Mutex
	logged map[string]time.Time
}

func newUnknownMetrics(log *slog.Logger, obs Observer) *unknownMetrics {
	return &unknownMetrics{log: log, obs: obs, logged: make(map[string]time.Time)}
}

// note counts one event ignored for naming metric, and logs it unless the
// name was logged within the hour.
func (u *unknownMetrics) note(metric string, now time.Time) {
	u.obs.UnknownMetric()
	name := clipArg(metric)
	u.mu.Lock()
	last, seen := u.logged[name]
	due := !seen || now.Sub(last) >= unknownLogEvery
	if due {
		if len(u.logged) >= unknownNamesKept {
			clear(u.logged)
		}
		u.logged[name] = now
	}
	u.mu.Unlock()
	if due {
		u.log.Warn("metric event ignored: its metric is none of slabot's (longest_wait, waiting, service_level, agents, abandon_rate or their aliases); fix the sender. Logged once an hour per name; slabot_webhook_unknown_metrics_total counts them all",
			"metric", name)
	}
}
