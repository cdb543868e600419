package app

import "time"

// StaleValue is a queue's last known value that a rule change would act on
// (fire, resolve) but that is too old to trust: it was observed longer ago
// than the stale-data window, or at a time nobody stamped. Nothing is done
// on it; the queue's next observation settles the alert.
type StaleValue struct {
	QueueID   string
	QueueName string
	MediaType string
	Metric    Metric
	Value     float64
	// SeenAt is when the value was observed; zero when unknown.
	SeenAt time.Time
}
