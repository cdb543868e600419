// Package faulttest holds slabot's fault and hostile-input tests against
// the real binary: a stream of breaches and recoveries for many queues
// runs while Redis restarts, slabot is killed, Slack fails, two replicas
// share the work or every webhook is replayed, and the fake Slack's record
// must show exactly one alert message and one resolution per episode.
//
// The tests build slabot once (with the race detector when the tests run
// with it), start a private redis-server and fake Slack per test, and
// finish in a few minutes. SLABOT_FAULT_LONG=1 runs the long versions:
// more queues, a 30 s Slack outage, longer Redis outages.
// SLABOT_FAULT_BIN=/path/to/slabot tests that binary instead of building
// one (a build of a proposed fix, say).
//
//	go test -race ./faulttest                      # CI
//	SLABOT_FAULT_LONG=1 go test -v -timeout 30m ./faulttest
package faulttest
