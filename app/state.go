package app

import "time"

// LoadRequest names what LoadMany reads of one queue: as Load's arguments.
type LoadRequest struct {
	QueueID, EventKey string
	AlertIDs          []string
	// EventSentAt is the event's own stamp (Event.SentAt) and At when it
	// is evaluated, for finding its key; zero values mean unknown and now.
	EventSentAt, At time.Time
}

// Snapshot is what the engine needs to evaluate one queue's observations.
type Snapshot struct {
	// Seen is set when the event key was already recorded.
	Seen  bool
	Queue Queue
	// Thresholds are the queue's own rules and Defaults the default
	// queue's, keyed by ThresholdKey (Rule picks the one that applies).
	Thresholds map[string]Threshold
	Defaults   map[string]Threshold
	Alerts     map[string]VersionedAlert
	// AllSnoozedUntil is the end of a snooze of every queue (/sla snooze
	// all), and AllSnoozedBy who set it.
	AllSnoozedUntil time.Time
	AllSnoozedBy    string
	// DefaultHours are the default queue's business hours, for queues
	// without their own.
	DefaultHours *Hours
	// Versions are the queue's and the default queue's commit versions
	// when this was read: a commit expecting them fails if either moved.
	Versions Versions
}

// Versions are commit versions of a queue and of the default queue. Every
// committed change of a queue's state, alerts or thresholds increments its
// version, so an unchanged version means an unchanged queue: the engine can
// evaluate the next event on what it last committed, without reading it
// back (one Redis round trip per event), and still never act on stale state.
type Versions struct {
	Queue, Default int64
}

// Hours are the business hours that apply to the snapshot's queue: its
// own, else the default queue's; nil means always open.
func (s Snapshot) Hours() *Hours {
	if h := s.Queue.Hours; h != nil && h.Set() {
		return h
	}
	return s.DefaultHours
}

// SnoozedUntil is when posting resumes for the snapshot's queue.
func (s Snapshot) SnoozedUntil() time.Time {
	until, _ := s.Snooze()
	return until
}

// Snooze is the snooze that mutes the snapshot's queue longest (its own or
// the all-queues one): when it ends and who set it.
func (s Snapshot) Snooze() (until time.Time, by string) {
	if s.AllSnoozedUntil.After(s.Queue.SnoozedUntil) {
		return s.AllSnoozedUntil, s.AllSnoozedBy
	}
	return s.Queue.SnoozedUntil, s.Queue.SnoozedBy
}

// Queue is what slabot knows of one queue.
type Queue struct {
	ID           string
	Name         string
	Route        string // channel for this queue's alerts; empty means the default
	SnoozedUntil time.Time
	SnoozedBy    string
	// Hours are the queue's own business hours (nil: the default's).
	Hours *Hours
	// Latest holds the last value of each metric, keyed by LatestKey.
	Latest map[string]float64
	// LatestAt holds when each of them was observed, where the event said.
	LatestAt map[string]time.Time
	// Known is set once the queue is in the index of known queues.
	Known bool
	// Targets are the queue's own service-level targets per media type,
	// as the Genesys directory last listed them (QueueInfo.ServiceLevels);
	// nil when unknown. Rules on "target" read them.
	Targets map[string]ServiceLevelTarget
}

// LatestKey names a queue's last value of a metric for a media type.
func LatestKey(mediaType string, m Metric) string { return mediaType + "/" + string(m) }

// VersionedAlert is an alert with the version a compare-and-set must match.
type VersionedAlert struct {
	Alert   Alert
	Version int64
}

// Change is one atomic step: alert writes, the notifications they cause, the
// queue's latest values and the event key that makes the step idempotent.
type Change struct {
	QueueID  string
	EventKey string
	// EventSentAt is the event's own stamp (Event.SentAt), which places
	// its key; zero places it by At, when it was evaluated.
	EventSentAt time.Time
	// Expect, when set, makes the commit conditional on the queue's and the
	// default queue's versions (ErrConflict if either moved).
	Expect *Versions
	// Known skips adding the queue to the index of known queues.
	Known bool
	// QueueName is set when the event taught a new name for the queue.
	QueueName string
	// Latest are the queue's new latest values; Prior the values they
	// replace (where known) and At when they were seen, for the queue's
	// metric history (a minute's first value is kept, for 7 days).
	Latest map[string]float64
	Prior  map[string]float64
	At     time.Time
	// ObservedAt, when set, is when the Latest values were observed (the
	// event's At), kept with them to order later events.
	ObservedAt    time.Time
	Alerts        []AlertWrite
	Notifications []Notification
	// Undue lists alert IDs to drop from the time-driven index (their
	// alert no longer exists).
	Undue []string
	// Snooze, when set, replaces the queue's snooze (a zero Until clears it).
	Snooze *Snooze
	// Route, when set, replaces the queue's channel ("" clears it).
	Route *string
	// Hours, when set, replaces the queue's business hours (unset Hours
	// remove them, so the default's apply).
	Hours *Hours
	// History records who did what, for /sla history.
	History []HistoryEntry
	// Storms and Digests replace channel storm records and digests if
	// their versions still match, like Alerts.
	Storms  []StormWrite
	Digests []DigestWrite
}

// StormWrite replaces a channel's storm record if its stored version still
// equals Version.
type StormWrite struct {
	Storm   Storm
	Version int64
}

// DigestWrite replaces a digest (all but its members) if its stored
// version still equals Version, and writes Members, each replacing the
// stored member of the same alert episode. Due is when the time-driven
// pass must next look at it (zero: never).
type DigestWrite struct {
	Digest  Digest
	Version int64
	Members []DigestMember
	Due     time.Time
}

// AlertWrite replaces one alert if its stored version still equals Version.
// Due is when time-driven evaluation should next look at it (zero: never).
type AlertWrite struct {
	Alert   Alert
	Version int64
	Due     time.Time
	// Prior, when known, is the stored alert's state (StateResolved for
	// none), so that the store skips index writes the state already made.
	Prior *State
}

// Rule is the rule that applies to the snapshot's queue for media type
// media and metric m, with builtin the built-in default (nil: none),
// resolved against the queue's own targets (Threshold.Resolve): ok is
// false when no rule applies, or when the one that does follows a target
// the queue does not have.
func (s Snapshot) Rule(builtin *Threshold, media string, m Metric) (Threshold, bool) {
	t, ok := Rule(s.Thresholds, s.Defaults, builtin, media, m)
	if !ok {
		return Threshold{}, false
	}
	return t.Resolve(s.Queue.Targets, media)
}
