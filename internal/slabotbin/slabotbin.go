// Package slabotbin hands the tests that run the real slabot binary
// (cmd/slabot's SIGTERM test, the fault tests) one build of it, made
// before any test's -timeout alarm starts.
//
// CI (.ci/run) builds ./cmd/slabot once and names the file in SLABOT_BIN;
// every package then runs that file. Without SLABOT_BIN, as in a plain
// `go test -race ./...`, each such package's TestMain calls Main, which
// builds the binary before m.Run: testing.M.Run starts the -timeout alarm
// only once the tests start, so a slow build cannot time a test out. The
// build uses the race setting of the test binary itself, so `go test
// -race` has already compiled (and cached) every package it needs and the
// build is little more than a link; a build without -race beside a race
// test run would compile the Genesys SDK a second time, for minutes.
//
// Only tests (and the load harness) import this package; slabot itself
// never does, which TestNotInSlabot checks.
package slabotbin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Env names the variable that holds the path of a slabot binary built
// beforehand.
const Env = "SLABOT_BIN"

// Package is slabot's import path.
const Package = "github.com/slabot/slabot/cmd/slabot"

// Race is true when this code was built with the race detector, that is
// when the tests run with -race.
const Race = raceEnabled

// Build compiles pkg (an import path such as Package) into out, with the
// race detector if race is set, running the go command found on PATH in
// the current directory, which must be inside the module.
func Build(ctx context.Context, pkg, out string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return nil
}

// Runner is what Main needs of a *testing.M.
type Runner interface{ Run() int }

// Main is for a TestMain: it sets *bin to the binary named by SLABOT_BIN,
// or builds one into a temporary directory (with -race when the tests run
// with it), runs m and returns its exit code. With -short it builds
// nothing and leaves *bin empty: the tests that run the binary skip then.
// A SLABOT_BIN that is not the absolute path of an executable file is an
// error, not a reason to build.
func Main(m Runner, bin *string) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if p := os.Getenv(Env); p != "" {
		if err := executable(p); err != nil {
			fmt.Fprintf(os.Stderr, "%s=%s: %v\n", Env, p, err)
			return 2
		}
		*bin = p
		return m.Run()
	}
	if testing.Short() {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "slabotbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "slabotbin:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "slabot")
	if err := Build(context.Background(), Package, out, Race); err != nil {
		fmt.Fprintf(os.Stderr, "slabotbin: %v\n(set %s to a prebuilt binary to skip this build)\n", err, Env)
		return 2
	}
	*bin = out
	return m.Run()
}

// executable reports why path is not a file that can be run.
func executable(path string) error {
	if !filepath.IsAbs(path) {
		return errors.New("not an absolute path (tests run in their package's directory)")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}
