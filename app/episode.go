package app

import "time"

// Episode is one breach episode of an alert, as the weekly report reads
// it: from the moment its alert fired (a supervisor could first see it)
// to its resolution. A snooze's fresh post of a breach that outlived the
// snooze is the same episode: the queue never stopped breaching.
type Episode struct {
	QueueID   string
	MediaType string
	Metric    Metric
	Start     time.Time
	End       time.Time // zero while the episode is open
	// AckedBy and AckedAt are the episode's first acknowledgement.
	AckedBy    string
	AckedAt    time.Time
	ResolvedBy string // who resolved it by hand, if anyone
	Snoozes    []SnoozeMark
	// Peak is the worst value seen while it breached, and Threshold the
	// rule's value it breached.
	Peak      float64
	Threshold float64
}

// Open reports whether the episode has not ended yet.
func (e Episode) Open() bool { return e.End.IsZero() }

// SnoozeMark is one snooze that muted an episode: who set it and until when.
type SnoozeMark struct {
	By    string    `json:"by,omitempty"`
	Until time.Time `json:"until"`
}

// maxSnoozeMarks bounds the snoozes an episode keeps (a supervisor
// extending a snooze every few minutes must not grow the alert record).
const maxSnoozeMarks = 8

// EpisodeOf is the breach episode alert a stands for, as far as it has
// gone; false when its current episode never fired (pending, or ok).
func EpisodeOf(a Alert) (Episode, bool) {
	if a.FiredAt.IsZero() {
		return Episode{}, false
	}
	e := Episode{QueueID: a.QueueID, MediaType: a.MediaType, Metric: a.Metric, Start: a.FiredAt,
		AckedBy: a.FirstAckBy, AckedAt: a.FirstAckAt, ResolvedBy: a.ResolvedBy, Snoozes: a.Snoozes,
		Peak: a.Value, Threshold: a.Threshold}
	if a.Peak != nil {
		e.Peak = *a.Peak
	}
	if e.AckedAt.IsZero() && !a.AckedAt.IsZero() { // acked before slabot kept first acks
		e.AckedBy, e.AckedAt = a.AckedBy, a.AckedAt
	}
	if !a.State.Open() && a.State != StatePending {
		e.End = a.ResolvedAt
	}
	return e, true
}

// StartEpisodeMarks clears what an alert remembers of its previous breach
// episode (a new one begins).
func (a *Alert) StartEpisodeMarks() {
	a.FirstAckBy, a.FirstAckAt, a.Snoozes = "", time.Time{}, nil
}

// NotePeak keeps the alert's current value as its episode's peak when it
// is worse than the peak so far. It does nothing before the alert fires.
func (a *Alert) NotePeak() {
	if a.FiredAt.IsZero() {
		return
	}
	if a.Peak == nil || a.Metric.Breached(a.Value, *a.Peak) {
		v := a.Value
		a.Peak = &v
	}
}

// NoteAck records an acknowledgement as the episode's first unless it
// already has one.
func (a *Alert) NoteAck(by string, at time.Time) {
	if a.FirstAckAt.IsZero() {
		a.FirstAckBy, a.FirstAckAt = by, at
	}
}

// NoteSnooze records a snooze that mutes the episode (the newest
// maxSnoozeMarks are kept).
func (a *Alert) NoteSnooze(by string, until time.Time) {
	if n := len(a.Snoozes); n > 0 && a.Snoozes[n-1].By == by && a.Snoozes[n-1].Until.Equal(until) {
		return
	}
	a.Snoozes = append(a.Snoozes, SnoozeMark{By: by, Until: until})
	if len(a.Snoozes) > maxSnoozeMarks {
		a.Snoozes = a.Snoozes[len(a.Snoozes)-maxSnoozeMarks:]
	}
}
