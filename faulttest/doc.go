// Package faulttest holds slabot's fault and hostile-input tests against
// the real binary: a stream of breaches and recoveries for many queues
// runs while Redis restarts, slabot is killed, Slack fails, two replicas
// share the work or every webhook is replayed, and the fake Slack's record
// must show exactly one alert message and one resolution per episode.
//
// The tests run the binary named by SLABOT_BIN (an absolute path; .ci/run
// builds one for the whole suite), or TestMain builds slabot once before
// the tests start (with the race detector when the tests run with it);
// see internal/slabotbin. Each test starts a private redis-server and fake
// Slack, and the package finishes in a few minutes. SLABOT_FAULT_LONG=1
// runs the long versions: more queues, a 30 s Slack outage, longer Redis
// outages.
//
//	go test -race ./faulttest                      # CI
//	SLABOT_FAULT_LONG=1 go test -v -timeout 30m ./faulttest
package faulttest
