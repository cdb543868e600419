package faulttest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/slabot/slabot/internal/slabotbin"
)

// slabotBin is the binary under test: $SLABOT_BIN, or built once by
// TestMain before the tests (and their timeout) start.
var slabotBin string

// long selects the long versions of the fault tests (SLABOT_FAULT_LONG=1).
var long = os.Getenv("SLABOT_FAULT_LONG") == "1"

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "faulttest: redis-server not found: install it (apt-get install redis-server)")
		os.Exit(1)
	}
	os.Exit(slabotbin.Main(m, &slabotBin))
}

// pick returns the CI value, or the long one with SLABOT_FAULT_LONG=1.
func pick[T any](ci, long_ T) T {
	if long {
		return long_
	}
	return ci
}
