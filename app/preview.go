package app

import "time"

// How far back slabot keeps queue metrics for previews, and how finely:
// one point a minute for the last HistoryFineFor at least, older points
// one per HistoryCoarseStep (the worst value of each).
const (
	HistorySpan       = 7 * 24 * time.Hour
	HistoryFineFor    = 24 * time.Hour
	HistoryCoarseStep = 5 * time.Minute
)

// Series is the recorded history of one metric of one queue and media
// type: Values[i] is the value at Start + i·Step, NaN where there is no
// data.
type Series struct {
	MediaType string
	Start     time.Time
	Step      time.Duration
	Values    []float64
}

// Preview is what a threshold would have done over the stored history.
type Preview struct {
	// Queues is how many queues were looked at (more than one for the
	// default rule); Series how many of their series had any data.
	Queues, Series int
	// Episodes counts the alerts it would have fired; Longest is the
	// longest of them, Breaching their total time.
	Episodes  int
	Longest   time.Duration
	Breaching time.Duration
	// Covered is how far back the data goes (at most HistorySpan).
	Covered time.Duration
	// Now reports an episode still going on at the end of the history.
	Now bool
	// NoTarget counts the series a target rule could not replay: their
	// queue has no known target for their media type.
	NoTarget int
}
