package rig

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RedisOptions configures StartRedis.
type RedisOptions struct {
	// Persistent turns on the append-only file with an fsync per write, as
	// a production Redis is run, so a restart (even after SIGKILL) keeps
	// every acknowledged write. Without it a restart loses everything.
	Persistent bool
}

// Redis is a private redis-server listening only on a Unix socket.
type Redis struct {
	// URL is the server's address for REDIS_URL (unix://…).
	URL  string
	dir  string
	args []string
	proc *Process
}

// StartRedis runs redis-server (from PATH) on a Unix socket in dir, which
// must be short: socket paths are limited to 108 bytes.
func StartRedis(ctx context.Context, dir string, opts RedisOptions) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (apt-get install redis-server): %w", err)
	}
	sock := filepath.Join(dir, "redis.sock")
	args := []string{"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--dir", dir, "--logfile", "", "--daemonize", "no"}
	if opts.Persistent {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	r := &Redis{URL: "unix://" + sock, dir: dir, args: append([]string{bin}, args...)}
	if err := r.start(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Redis) start(ctx context.Context) error {
	p, err := Start("redis-server", r.args[0], r.args[1:], nil, filepath.Join(r.dir, "redis.log"))
	if err != nil {
		return err
	}
	r.proc = p
	c := r.Client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(ctx).Err() != nil {
		select {
		case <-p.Exited():
			return fmt.Errorf("redis-server exited:\n%s", Tail(p.Log, 2000))
		default:
		}
		if time.Now().After(deadline) {
			p.Kill()
			return fmt.Errorf("redis-server did not answer within 10s:\n%s", Tail(p.Log, 2000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Client returns a go-redis client for the server; close it after use.
func (r *Redis) Client() *redis.Client {
	opt, _ := redis.ParseURL(r.URL)
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opt.DisableIdentity = true
	return redis.NewClient(opt)
}

// PID is redis-server's process ID.
func (r *Redis) PID() int { return r.proc.PID() }

// Stat reads redis-server's CPU time and memory.
func (r *Redis) Stat() (Stat, error) { return r.proc.Stat() }

// Kill stops the server with SIGKILL, as a crash would.
func (r *Redis) Kill() { r.proc.Kill() }

// Restart starts a killed server again on the same socket and directory
// (with its append-only file, when persistent).
func (r *Redis) Restart(ctx context.Context) error {
	r.proc.Kill()
	return r.start(ctx)
}

// Close stops the server.
func (r *Redis) Close() { r.proc.Kill() }

// Info returns the numeric fields of INFO section (e.g. "stats", "cpu",
// "memory", "commandstats" flattened as cmdstat_x.calls).
func (r *Redis) Info(ctx context.Context, section string) (map[string]float64, error) {
	c := r.Client()
	defer c.Close()
	s, err := c.Info(ctx, section).Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO %s: %w", section, err)
	}
	out := make(map[string]float64)
	for line := range strings.SplitSeq(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[k] = f
			continue
		}
		// cmdstat_get:calls=1,usec=2,… → cmdstat_get.calls
		for kv := range strings.SplitSeq(v, ",") {
			if sk, sv, ok := strings.Cut(kv, "="); ok {
				if f, err := strconv.ParseFloat(sv, 64); err == nil {
					out[k+"."+sk] = f
				}
			}
		}
	}
	return out, nil
}
