package app

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Storm is what a channel remembers of its recent alert posts, to tell an
// alert storm from a few alerts: when StormThreshold alerts would post in
// it within StormWindow, they are collected in one digest message instead.
type Storm struct {
	Channel string `json:"channel"`
	// Recent holds when the latest alerts would have posted (posted, or
	// joined a digest), oldest first, trimmed to the storm window and to
	// the threshold: enough to tell whether the next one makes a storm.
	Recent []time.Time `json:"recent,omitempty"`
	// Digest is the sequence number of the channel's latest digest.
	Digest int `json:"digest,omitempty"`
	// JoinUntil is when the latest digest stops taking new members: a
	// storm that goes on keeps growing one digest, a new storm later gets
	// a new message at the bottom of the channel.
	JoinUntil time.Time `json:"join_until,omitzero"`
	// Posts are the alerts among Recent that posted on their own, trimmed
	// alike. A storm begins with them: the digest that opens (or the one
	// the storm joins) takes them as its Leads, so that the storm's
	// reminders and its Acknowledge all / Snooze all cover them too.
	Posts []StormPost `json:"posts,omitempty"`
}

// StormPost is an alert episode that posted on its own in a channel, and
// when.
type StormPost struct {
	At      time.Time `json:"at"`
	AlertID string    `json:"alert_id"`
	Episode int       `json:"episode"`
}

// VersionedStorm is a storm record with the version a compare-and-set
// must match (0: none stored yet).
type VersionedStorm struct {
	Storm   Storm
	Version int64
}

// Digest is one storm digest: a single Slack message standing for many
// alerts of one channel, updated in place as they are acknowledged,
// snoozed or resolved, and as more join. The store keeps each member
// apart from the rest, so that a member's change writes only itself and
// the counters here; Members is filled when the digest is rendered.
type Digest struct {
	ID       string    `json:"id"`
	Channel  string    `json:"channel"`
	Seq      int       `json:"seq"`
	OpenedAt time.Time `json:"opened_at"`
	// ClosedAt is when its last open member resolved.
	ClosedAt time.Time `json:"closed_at,omitzero"`
	// Size counts the members that joined, Open those still open.
	Size    int            `json:"size"`
	Open    int            `json:"open"`
	Members []DigestMember `json:"members,omitempty"`
	// NotifiedAt is when the digest's last post or update was enqueued;
	// Dirty says a member changed since, so a coalesced update is owed.
	NotifiedAt time.Time `json:"notified_at,omitzero"`
	Dirty      bool      `json:"dirty,omitempty"`
	// RemindAt is when the digest next reminds of its unacknowledged
	// members, in its thread (members are not reminded of one by one).
	RemindAt  time.Time `json:"remind_at,omitzero"`
	Reminders int       `json:"reminders,omitempty"`
	// Leads are the storm's first alerts, posted on their own before it
	// was a storm, not yet linked to the digest. They are written with the
	// digest (atomically), but their alerts live under other queues' keys,
	// so each is linked by its own commit in the digest's time-driven pass
	// (Alert.Storm), which then becomes a member with Posted set.
	Leads []StormPost `json:"leads,omitempty"`
}

// VersionedDigest is a digest with the version a compare-and-set must
// match (0: not stored yet).
type VersionedDigest struct {
	Digest  Digest
	Version int64
}

// DigestMember is one alert episode as its digest shows it.
type DigestMember struct {
	AlertID   string  `json:"alert_id"`
	Episode   int     `json:"episode"`
	QueueID   string  `json:"queue_id"`
	QueueName string  `json:"queue_name,omitempty"`
	MediaType string  `json:"media_type,omitempty"`
	Metric    Metric  `json:"metric"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	// Target is the alert's Target: its threshold is the queue's own.
	Target  *ServiceLevelTarget `json:"target,omitempty"`
	State   State               `json:"state"`
	Muted   bool                `json:"muted,omitempty"`
	AckedBy string              `json:"acked_by,omitempty"`
	FiredAt time.Time           `json:"fired_at,omitzero"`
	// Moved is set when the episode's snooze ended and the breach was
	// posted afresh: the digest no longer speaks for it.
	Moved bool `json:"moved,omitempty"`
	// Posted is set for the storm's first alerts (Alert.Storm): they have
	// a message of their own above the digest, which the digest counts
	// and reminds for.
	Posted bool `json:"posted,omitempty"`
}

// DisplayName is the member's queue name when known, else its ID.
func (m DigestMember) DisplayName() string {
	if m.QueueName != "" {
		return m.QueueName
	}
	return m.QueueID
}

// Open reports whether the member is a live breach the digest speaks for.
func (m DigestMember) Open() bool { return m.State.Open() && !m.Moved }

// MemberOf is how a digest shows alert a.
func MemberOf(a Alert) DigestMember {
	return DigestMember{AlertID: a.ID, Episode: a.Episode, QueueID: a.QueueID, QueueName: a.QueueName,
		MediaType: a.MediaType, Metric: a.Metric, Value: a.Value, Threshold: a.Threshold, Target: a.Target, State: a.State,
		Muted: a.Muted, AckedBy: a.AckedBy, FiredAt: a.FiredAt, Posted: a.Storm != ""}
}

// StormOf is the digest a's episode belongs to: the one standing for it
// (Digest), or the one of the storm it began (Storm); empty if none.
func StormOf(a Alert) string {
	if a.Digest != "" {
		return a.Digest
	}
	return a.Storm
}

// DigestCounts tallies a digest's members: the open ones by what a
// supervisor must do about them, then the closed ones.
type DigestCounts struct {
	Firing, Acknowledged, Snoozed int
	Resolved                      int
	// Moved counts episodes posted again on their own after a snooze.
	Moved int
}

// Open is how many members are live breaches.
func (c DigestCounts) Open() int { return c.Firing + c.Acknowledged + c.Snoozed }

// Counts tallies the digest's members.
func (d Digest) Counts() DigestCounts {
	var c DigestCounts
	for _, m := range d.Members {
		switch {
		case m.Moved:
			c.Moved++
		case !m.Open():
			c.Resolved++
		case m.Muted:
			c.Snoozed++
		case m.State == StateAcknowledged:
			c.Acknowledged++
		default:
			c.Firing++
		}
	}
	return c
}

// Closed reports whether every member of the digest has resolved.
func (d Digest) Closed() bool { return !d.ClosedAt.IsZero() }

// SortMembers orders members as digests list them: by when they fired.
func SortMembers(ms []DigestMember) {
	slices.SortFunc(ms, func(a, b DigestMember) int {
		if c := a.FiredAt.Compare(b.FiredAt); c != 0 {
			return c
		}
		return strings.Compare(a.AlertID, b.AlertID)
	})
}

// digestPrefix starts every digest ID, which also names it in the
// time-driven index beside alert IDs.
const digestPrefix = "digest:"

// DigestID names a channel's seq-th digest: "digest:<channel>:<seq>".
func DigestID(channel string, seq int) string {
	return digestPrefix + channel + ":" + strconv.Itoa(seq)
}

// IsDigestID reports whether id names a digest rather than an alert
// (alert IDs always hold a "/", digest IDs never do).
func IsDigestID(id string) bool {
	return strings.HasPrefix(id, digestPrefix) && !strings.Contains(id, "/")
}

// ParseDigestID splits a DigestID, as carried by button values. Channel
// IDs are letters and digits only, so that they stay safe in keys.
func ParseDigestID(id string) (channel string, seq int, err error) {
	rest, ok := strings.CutPrefix(id, digestPrefix)
	ch, n, ok2 := strings.Cut(rest, ":")
	seq, err = strconv.Atoi(n)
	if !ok || !ok2 || err != nil || seq < 1 || !ValidChannel(ch) {
		return "", 0, fmt.Errorf("%w: digest id %q", ErrNotFound, clipRunes(id, 80))
	}
	return ch, seq, nil
}

// ValidChannel accepts channel IDs as Slack makes them (C0123ABCD), and
// the like: letters and digits, at most 32.
func ValidChannel(ch string) bool {
	if ch == "" || len(ch) > 32 {
		return false
	}
	for _, r := range ch {
		if (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// MessageRef names the Slack message a notification belongs to, as the
// outbox records its ts: the digest for digest kinds, else the alert
// episode.
func (n Notification) MessageRef() (id string, episode int) {
	if n.Digest != nil {
		return n.Digest.ID, 1
	}
	return n.Alert.ID, n.Alert.Episode
}

// Standalone reports whether n belongs to no message: an announcement,
// or a chart shared in its channel rather than in a message's thread.
func (n Notification) Standalone() bool {
	return n.Kind == KindAnnounce || (n.Kind == KindChart && n.Alert.ID == "" && n.Digest == nil)
}

// OpensMessage reports whether the kind posts the message that later
// updates and thread replies refer to.
func (k NotificationKind) OpensMessage() bool { return k == KindPost || k == KindDigestPost }
