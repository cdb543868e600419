package faulttest

import (
	"testing"
	"time"
)

// A queue that breaches and recovers faster than Slack's pacing lets its
// messages through (one new message per second per channel, and each
// episode needs two: the alert and its resolution) builds a backlog in the
// outbox. Every episode must still get its alert and its resolution, in
// the right thread, however far behind delivery runs. Storm digests are
// off: five episodes in a channel within 30 s would otherwise be listed in
// one digest message, by design.
func TestFlappingAlertKeepsEveryResolution(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOptions{env: []string{"STORM_THRESHOLD=off"}})
	p := plan{name: "flap", queues: 4, episodes: pick(5, 12), breaches: 1, gap: 30 * time.Millisecond}
	c.route(p)
	st := c.stream(p)
	check(t, "flapping alert", c.settle(p, settleTime), st)
}
