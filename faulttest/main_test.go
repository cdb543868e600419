package faulttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/slabot/slabot/bench/rig"
)

// slabotBin is the binary under test, built once by TestMain.
var slabotBin string

// long selects the long versions of the fault tests (SLABOT_FAULT_LONG=1).
var long = os.Getenv("SLABOT_FAULT_LONG") == "1"

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "faulttest: redis-server not found: install it (apt-get install redis-server)")
		return 1
	}
	dir, err := os.MkdirTemp("", "ftbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faulttest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if slabotBin = os.Getenv("SLABOT_FAULT_BIN"); slabotBin != "" {
		return m.Run() // a build of a proposed change, say
	}
	slabotBin = filepath.Join(dir, "slabot")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := rig.Build(ctx, ".", "github.com/slabot/slabot/cmd/slabot", slabotBin, raceEnabled); err != nil {
		fmt.Fprintln(os.Stderr, "faulttest:", err)
		return 1
	}
	return m.Run()
}

// pick returns the CI value, or the long one with SLABOT_FAULT_LONG=1.
func pick[T any](ci, long_ T) T {
	if long {
		return long_
	}
	return ci
}
