package slabotbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// slabot's production binary links neither this package nor testing.
func TestNotInSlabot(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", Package).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasPrefix(dep, "github.com/slabot/slabot/internal/slabotbin") {
			t.Errorf("%s links %s", Package, dep)
		}
	}
}

type runner struct{ ran bool }

func (r *runner) Run() int { r.ran = true; return 0 }

func TestMainUsesSlabotBin(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "slabot")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(Env, exe)
	var bin string
	r := &runner{}
	if code := Main(r, &bin); code != 0 || !r.ran || bin != exe {
		t.Errorf("Main with %s=%s: code %d, ran %v, bin %q; want the tests run with that binary", Env, exe, code, r.ran, bin)
	}
	for _, bad := range []string{filepath.Join(dir, "missing"), plain, dir, "slabot"} {
		t.Setenv(Env, bad)
		bin, r = "", &runner{}
		if code := Main(r, &bin); code == 0 || r.ran || bin != "" {
			t.Errorf("Main with %s=%s: code %d, ran %v, bin %q; want an error before any test", Env, bad, code, r.ran, bin)
		}
	}
}
