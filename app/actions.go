package app

import (
	"errors"
	"time"
)

// ErrStale means an action no longer applies: the alert was already
// acknowledged or resolved, or the click came from an older episode's
// message. Nothing was changed; the error text says why.
var ErrStale = errors.New("nothing to do")

// Actor is who did something and from where ("button", "command",
// "home"), for the history.
type Actor struct {
	UserID string
	Via    string
}

// Snooze mutes posting for one queue (or AllQueues) until Until.
type Snooze struct {
	QueueID string    `json:"queue_id"`
	Until   time.Time `json:"until"`
	By      string    `json:"by,omitempty"`
}

// AllQueues is the queue ID of a snooze that mutes every queue.
const AllQueues = "all"

// HistoryEntry records one supervisor action for /sla history (DESIGN §5).
type HistoryEntry struct {
	At      time.Time `json:"at"`
	QueueID string    `json:"queue_id"`
	Action  string    `json:"action"` // ack, snooze, unsnooze, resolve, set, unset, route
	By      string    `json:"by"`
	Via     string    `json:"via"`
	// Detail says what changed, old → new.
	Detail string `json:"detail,omitempty"`
}
