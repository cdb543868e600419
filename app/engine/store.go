package engine

import (
	"context"
	"time"

	"github.com/slabot/slabot/app"
)

// Store is the durable state the engine reads and changes. Every change goes
// through Commit, which applies it atomically or not at all: it fails with
// ErrConflict when a version the change was built on moved since it was read
// (the queue's, the default queue's, an alert's, a storm record's or a
// digest's: another replica, a button or the time-driven pass got there
// first) and with ErrDuplicate when the event key was already recorded.
type Store interface {
	Records
	Load(ctx context.Context, queueID, eventKey string, alertIDs []string) (app.Snapshot, error)
	Commit(ctx context.Context, c app.Change) error
	// LoadMany and CommitMany do what Load and Commit do for several
	// queues in one round trip (IngestMany). CommitMany returns one error
	// per change.
	LoadMany(ctx context.Context, reqs []app.LoadRequest) ([]app.Snapshot, error)
	CommitMany(ctx context.Context, cs []app.Change) []error
	// Due returns the IDs of alerts (and digests) whose time-driven
	// evaluation is due.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
	// MetricHistory returns a queue's history of metric m over the 7 days
	// up to now, one series per media type.
	MetricHistory(ctx context.Context, queueID string, m app.Metric, now time.Time) ([]app.Series, error)
	// Storms loads the storm records of channels, the digests named, and
	// each loaded channel's latest digest, without their members.
	Storms(ctx context.Context, channels, digestIDs []string) (map[string]app.VersionedStorm, map[string]app.VersionedDigest, error)
	// DigestMembers loads a digest's members, in no particular order.
	DigestMembers(ctx context.Context, digestID string) ([]app.DigestMember, error)
}

// Records is the part of the store behind supervisors' commands: rules,
// routes, listings and the audit history.
type Records interface {
	SetThreshold(ctx context.Context, t app.Threshold) error
	// DeleteThreshold removes the queue's rules that Threshold.Unsets
	// selects for media and m, and returns them.
	DeleteThreshold(ctx context.Context, queueID, media string, m app.Metric) ([]app.Threshold, error)
	Thresholds(ctx context.Context) ([]app.Threshold, error)
	// OpenAlerts lists pending, firing and acknowledged alerts.
	OpenAlerts(ctx context.Context) ([]app.Alert, error)
	// KnownQueues maps queue IDs seen in events or the directory to names.
	KnownQueues(ctx context.Context) (map[string]string, error)
	// QueueStates returns what is stored of each queue (snooze, route, name).
	QueueStates(ctx context.Context, ids []string) ([]app.Queue, error)
	AppendHistory(ctx context.Context, h app.HistoryEntry) error
	// History returns the newest entries first, for one queue or ("") all.
	History(ctx context.Context, queueID string, limit int) ([]app.HistoryEntry, error)
}
