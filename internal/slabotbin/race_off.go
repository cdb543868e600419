//go:build !race

package slabotbin

const raceEnabled = false
