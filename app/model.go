package app

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Adapters wrap them; the HTTP edge maps them to status
// codes and user-facing text in one place.
var (
	ErrUnknownMetric = errors.New("unknown metric")
	ErrBadThreshold  = errors.New("bad threshold")
	ErrBadEvent      = errors.New("bad event")
	ErrUnknownQueue  = errors.New("unknown queue")
	ErrNotFound      = errors.New("not found")
	// ErrUnavailable means the state store cannot be reached; callers
	// answer 503 so that senders retry.
	ErrUnavailable = errors.New("state store unavailable")
	// ErrConflict means a compare-and-set lost a race; reload and retry.
	ErrConflict = errors.New("concurrent update")
	// ErrDuplicate means an event was already recorded.
	ErrDuplicate = errors.New("duplicate event")
)

// DefaultQueue is the pseudo-queue whose thresholds apply to every queue
// without its own threshold for that metric.
const DefaultQueue = "default"

// Observation is one metric value for one queue (and media type, when the
// source knows it) at one moment.
type Observation struct {
	QueueID   string
	MediaType string
	Metric    Metric
	Value     float64
	// Volume is how many interactions the value is computed over (offered
	// in its interval) for rate metrics; 0 means unknown. Thresholds with a
	// minimum volume ignore observations below it.
	Volume float64
}

// Event is what one webhook event or one poll result contributes: the
// observations of a single queue, plus the key that makes it idempotent.
type Event struct {
	// Key identifies the event for de-duplication (event id, correlation
	// id or content hash). Empty means "do not de-duplicate" (polling).
	Key          string
	QueueID      string
	QueueName    string
	Observations []Observation
	// At is when the observations were made, as the source stamps them;
	// zero when unknown. An observation older than the newest one already
	// applied to its queue, media type and metric is ignored, so that a
	// replayed or delayed event cannot undo a newer one.
	At time.Time
	// SentAt is when the source sent the event, by the event's own stamp
	// (a metric event's timestamp, an EventBridge event's time); zero when
	// it carries none. A keyed event sent longer ago than the
	// de-duplication window is stale: its key may be forgotten, so it is
	// ignored rather than risk applying a replay. It also places the
	// event's key among the remembered ones (the same event always maps to
	// the same place, whenever it is replayed).
	SentAt time.Time
}

// ValidateQueueID rejects IDs that would break keys, button values or
// mrkdwn. Genesys queue IDs are UUIDs; relays may use other short tokens.
func ValidateQueueID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("%w: queue id must be 1 to 128 characters", ErrBadEvent)
	}
	for _, r := range id {
		ok := r == '-' || r == '_' || r == '.' || r == ':' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Errorf("%w: queue id %q has characters other than letters, digits and \"-_.:\"", ErrBadEvent, id)
		}
	}
	if strings.EqualFold(id, DefaultQueue) {
		return fmt.Errorf("%w: %q is reserved", ErrBadEvent, id)
	}
	return nil
}

// State is an alert's place in its lifecycle (DESIGN §5).
type State string

// Alert states. An alert that is ok has no record at all.
const (
	StatePending      State = "pending"
	StateFiring       State = "firing"
	StateAcknowledged State = "acknowledged"
	StateResolved     State = "resolved"
)

// Open reports whether the alert is a live breach (posted or to be posted).
func (s State) Open() bool { return s == StateFiring || s == StateAcknowledged }

// Alert is the state of one (queue, media type, metric) and its current
// breach episode. One episode is one Slack message.
type Alert struct {
	ID        string  `json:"id"`
	QueueID   string  `json:"queue_id"`
	QueueName string  `json:"queue_name,omitempty"`
	MediaType string  `json:"media_type,omitempty"`
	Metric    Metric  `json:"metric"`
	State     State   `json:"state"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Clear is the rule's clear level when it has a hysteresis band.
	Clear *float64 `json:"clear,omitempty"`
	// Target is the queue's own Genesys target the threshold came from,
	// when the rule is on "target", so messages say so.
	Target *ServiceLevelTarget `json:"target,omitempty"`
	// Episode counts breach episodes of this alert; notifications name
	// the episode they belong to so that a late one never touches the
	// message of a newer episode.
	Episode      int       `json:"episode"`
	PendingSince time.Time `json:"pending_since,omitzero"`
	FiredAt      time.Time `json:"fired_at,omitzero"`
	ResolvedAt   time.Time `json:"resolved_at,omitzero"`
	Channel      string    `json:"channel,omitempty"`
	// NotifiedAt is when the last post or update was enqueued; Dirty says
	// the value changed since, so a coalesced update is owed.
	NotifiedAt time.Time `json:"notified_at,omitzero"`
	// RemindAt is when the next reminder is due while unacknowledged.
	RemindAt  time.Time `json:"remind_at,omitzero"`
	Reminders int       `json:"reminders,omitempty"`
	Dirty     bool      `json:"dirty,omitempty"`
	// Muted is set while the queue is snoozed: the breach is tracked but
	// nothing is posted.
	Muted bool `json:"muted,omitempty"`
	// Digest, when set, is the storm digest standing for this episode:
	// it has no message of its own, and its changes update the digest.
	Digest string `json:"digest,omitempty"`
	// Storm, when set, is the digest of the storm this episode began: it
	// posted on its own before the burst was a storm, keeps its message,
	// and its changes show in the digest too, which reminds for it (the
	// alert does not remind itself).
	Storm string `json:"storm,omitempty"`
	// SnoozedUntil is when the queue's snooze ends, and SnoozedBy the
	// Slack user who set it (empty in records older than the field), for
	// the message.
	SnoozedUntil time.Time `json:"snoozed_until,omitzero"`
	SnoozedBy    string    `json:"snoozed_by,omitempty"`
	// SnoozeEndedBy is who ended the snooze early (/sla unsnooze or the
	// Unsnooze button), shown where the breach is posted afresh; empty
	// when it ran out.
	SnoozeEndedBy string `json:"snooze_ended_by,omitempty"`
	// ValueAt is when Value was observed (the event's stamp, else when it
	// arrived), so a message never shows an old value as current.
	ValueAt time.Time `json:"value_at,omitzero"`
	// Peak is the episode's worst value so far: the highest of a metric
	// that breaches above its threshold, the lowest of one that breaches
	// below. Nil in records older than the field.
	Peak *float64 `json:"peak,omitempty"`
	// RuleRemoved is set when the episode ended because no rule applies
	// to the alert any more; RuleRemovedBy is who removed it, when known.
	RuleRemoved   bool      `json:"rule_removed,omitempty"`
	RuleRemovedBy string    `json:"rule_removed_by,omitempty"`
	AckedBy       string    `json:"acked_by,omitempty"`
	AckedAt       time.Time `json:"acked_at,omitzero"`
	// ResolvedBy is the Slack user who resolved the alert by hand, if any.
	ResolvedBy string `json:"resolved_by,omitempty"`
	// OffHours is set when the episode resolved because the queue's
	// business hours ended; RearmAt is when they open again and the
	// queue's latest value is looked at afresh.
	OffHours bool      `json:"off_hours,omitempty"`
	RearmAt  time.Time `json:"rearm_at,omitzero"`
	// Context for the message: the queue's latest waiting count and agents
	// on queue, when known.
	QueueWaiting *float64 `json:"queue_waiting,omitempty"`
	QueueAgents  *float64 `json:"queue_agents,omitempty"`
	// What the current breach episode has been so far, for the episode
	// record the store keeps when it ends (EpisodeOf, with Peak): its
	// first acknowledgement (a snooze's fresh post clears AckedBy, not
	// these) and the snoozes that muted it.
	FirstAckBy string       `json:"first_ack_by,omitempty"`
	FirstAckAt time.Time    `json:"first_ack_at,omitzero"`
	Snoozes    []SnoozeMark `json:"snoozes,omitempty"`
}

// BreachStart is when the episode's breach began: when it was first seen
// past the threshold (before a rule's "for" wait), else when it fired.
func (a Alert) BreachStart() time.Time {
	if !a.PendingSince.IsZero() {
		return a.PendingSince
	}
	return a.FiredAt
}

// AlertID is an alert's identity: queue, media type (may be empty) and metric.
func AlertID(queueID, mediaType string, m Metric) string {
	return queueID + "/" + mediaType + "/" + string(m)
}

// ParseAlertID splits an AlertID, as carried by button values.
func ParseAlertID(id string) (queueID, mediaType string, m Metric, err error) {
	parts := strings.SplitN(id, "/", 3)
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("%w: alert id %q", ErrNotFound, id)
	}
	if err := ValidateQueueID(parts[0]); err != nil {
		return "", "", "", err
	}
	m, err = ParseMetric(parts[2])
	if err != nil || string(m) != parts[2] {
		return "", "", "", fmt.Errorf("%w: alert id %q", ErrNotFound, id)
	}
	return parts[0], parts[1], m, nil
}

// DisplayName is the queue's name when known, else its ID.
func (a Alert) DisplayName() string {
	if a.QueueName != "" {
		return a.QueueName
	}
	return a.QueueID
}

// NotificationKind says what a notification does to Slack.
type NotificationKind string

// Notification kinds.
const (
	// KindPost opens an episode's message.
	KindPost NotificationKind = "post"
	// KindUpdate rewrites the episode's message in place.
	KindUpdate NotificationKind = "update"
	// KindReply posts in the episode's thread (resolution, reminders).
	KindReply NotificationKind = "reply"
	// KindAnnounce posts Text on its own, not tied to an alert (the
	// stale-data warning and its all-clear).
	KindAnnounce NotificationKind = "announce"
	// KindDigestPost opens a storm digest's message (Notification.Digest).
	KindDigestPost NotificationKind = "digest_post"
	// KindDigestUpdate rewrites a digest's message in place.
	KindDigestUpdate NotificationKind = "digest_update"
	// KindDigestReply posts in a digest's thread (its end, reminders).
	KindDigestReply NotificationKind = "digest_reply"
	// KindChart shares a chart as a PNG, drawn at delivery from the
	// stored history as Notification.Chart says: in the thread of the
	// alert episode's message when Alert.ID is set, else in the channel
	// (a /sla chart answer, a report's chart).
	KindChart NotificationKind = "chart"
)

// Notification is one Slack effect of a state change. It is written to the
// durable outbox in the same atomic step as the change, and carries a
// snapshot of the alert so delivery never depends on later state.
type Notification struct {
	Kind    NotificationKind `json:"kind"`
	Channel string           `json:"channel"`
	Alert   Alert            `json:"alert"`
	// Reason says why a reply is posted ("resolved", "reminder").
	Reason string `json:"reason,omitempty"`
	// Text is an announcement's mrkdwn text, already escaped.
	Text string `json:"text,omitempty"`
	// Digest is a snapshot of the digest, for the digest kinds.
	Digest *Digest `json:"digest,omitempty"`
	// ContinuedIn, on an update, closes the message of Alert's episode
	// because the breach goes on in the message of episode ContinuedIn
	// (a snooze ended and the breach was posted afresh). The dispatcher
	// delivers it once that message is posted and puts its ts in
	// ContinuedTS, so the closed message can link to it.
	ContinuedIn int    `json:"continued_in,omitempty"`
	ContinuedTS string `json:"-"`
	// Chart says what a KindChart notification draws.
	Chart *ChartJob `json:"chart,omitempty"`
	// At is when the notification was enqueued; used to measure delay.
	At time.Time `json:"at"`
}

// QueueInfo is a queue as the Genesys Cloud directory describes it.
type QueueInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// ServiceLevels maps a media type (call, chat, email, message…) to the
	// queue's configured service-level target for it.
	ServiceLevels map[string]ServiceLevelTarget `json:"service_levels,omitempty"`
}

// ServiceLevelTarget is "Percent of interactions answered within Within".
type ServiceLevelTarget struct {
	Percent float64       `json:"percent"`
	Within  time.Duration `json:"within"`
}

// Outcome is what happened to one event.
type Outcome string

// Outcomes, as reported in the webhook's "status".
const (
	Processed Outcome = "processed"
	Ignored   Outcome = "ignored"
	Duplicate Outcome = "duplicate"
)
