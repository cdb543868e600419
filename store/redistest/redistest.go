// Package redistest gives tests a real Redis: the one named by REDIS_URL,
// or a private redis-server started on a Unix socket for the test.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server started for one test.
type Server struct {
	URL  string
	dir  string
	cmd  *exec.Cmd
	args []string
}

// URL returns a Redis URL for the test: REDIS_URL when set, else a fresh
// redis-server that is stopped when the test ends. It fails the test, with
// the fix, when neither is available.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return Start(t).URL
}

// Start runs a private redis-server (never REDIS_URL), for tests that must
// stop and restart it.
func Start(t testing.TB) *Server { return StartWith(t) }

// StartWith runs a private redis-server as Start does, with extra
// command-line options (e.g. "--maxmemory", "8mb").
func StartWith(t testing.TB, options ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found: install it (apt-get install redis-server) or set REDIS_URL")
	}
	dir, err := os.MkdirTemp("", "rt") // short: Unix socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "redis.sock")
	s := &Server{URL: "unix://" + sock, dir: dir, args: []string{
		"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"),
	}}
	s.args = append(append([]string{bin}, s.args...), options...)
	s.start(t)
	t.Cleanup(func() {
		s.Stop()
		_ = os.RemoveAll(dir)
	})
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	opt, _ := redis.ParseURL(s.URL)
	c := redis.NewClient(opt)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := c.Ping(context.Background()).Err(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			t.Fatalf("redis-server did not answer within 10s:\n%s", log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server (its data is lost, as on a crash without persistence).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts a stopped server again on the same socket.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Prefix returns a key prefix unique to this test, so tests sharing one
// Redis (REDIS_URL) never see each other's keys.
func Prefix(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test-" + hex.EncodeToString(b) + ":"
}
