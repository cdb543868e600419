package main

import (
	"os"
	"testing"

	"github.com/slabot/slabot/internal/slabotbin"
)

// slabotBin is the real binary for the tests that run it (SIGTERM):
// $SLABOT_BIN, or built once by TestMain before the tests (and their
// timeout) start; empty with -short.
var slabotBin string

func TestMain(m *testing.M) { os.Exit(slabotbin.Main(m, &slabotBin)) }
