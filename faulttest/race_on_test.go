//go:build race

package faulttest

// raceEnabled builds the slabot under test with the race detector too.
const raceEnabled = true
