// Package store keeps slabot's state in Redis: thresholds, alerts, the
// durable outbox of Slack notifications, leases and the queue directory.
// Every alert transition is one Lua script, so replicas sharing a Redis act
// as one. Keys of one queue share the hash tag {queueID}.
package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/app/engine"
)

// Redis is the Redis-backed store.
type Redis struct {
	rdb    *redis.Client
	prefix string
	log    *slog.Logger
	stop   func()
	hist   historyCache // series this process committed lately (history.go)
	// historyOff pauses history writes (MemoryGuard, memguard.go).
	historyOff atomic.Bool
	commits    commitQueue // concurrent commits sharing round trips (pipeline.go)
	marks      marks       // where event keys are remembered (seen.go)
}

var (
	_ engine.Store    = (*Redis)(nil)
	_ dispatch.Outbox = (*Redis)(nil)
)

// Options configures New. The zero value is usable.
type Options struct {
	// Prefix starts every key (default "slabot:"); tests use unique ones.
	Prefix string
	// TLSInsecure accepts self-signed certificates (Heroku Redis).
	TLSInsecure bool
	// OnError, when set, is called for every failed Redis command (metrics).
	OnError func()
	Logger  *slog.Logger
	// PoolSize bounds the connections this process opens to Redis
	// (REDIS_POOL_SIZE; default DefaultPoolSize, at least MinPoolSize).
	PoolSize int
	// DedupWindow is how long event keys are remembered
	// (SLABOT_DEDUP_WINDOW; default DefaultDedupWindow).
	DedupWindow time.Duration
}

// DefaultPoolSize is how many connections a replica opens at most by
// default: two replicas fit a 20-connection plan with room for a console.
// MinPoolSize leaves one connection besides the outbox consumer's
// blocking read and one for pipelines.
const (
	DefaultPoolSize = 10
	MinPoolSize     = 3
)

// limitPool caps the client's connections at n in all: go-redis keeps
// pipelines in a pool of their own (PipelinePoolSize, 10 by default) on
// top of the main pool (10 per CPU by default, and more on demand unless
// MaxActiveConns is set). A third of n goes to pipelines; a pipeline
// finding its pool busy spills into the main pool, which never exceeds its
// share. The outbox consumer's blocking read (XREADGROUP BLOCK) holds one
// main connection while it waits, like any other command.
func limitPool(o *redis.Options, n int) {
	if n <= 0 {
		n = DefaultPoolSize
	}
	n = max(n, MinPoolSize)
	pipes := max(1, n/3)
	o.PoolSize, o.MaxActiveConns, o.PipelinePoolSize = n-pipes, n-pipes, pipes
	o.MaxIdleConns = n - pipes
}

// New connects to the Redis at url (redis:// or rediss://) and prepares
// the outbox consumer group.
func New(ctx context.Context, url string, opts Options) (*Redis, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse REDIS_URL: %w", redactURL(err, url))
	}
	if o.TLSConfig != nil && opts.TLSInsecure {
		o.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opted in for Heroku Redis's self-signed certificate
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	o.MaxRetries = 1
	o.MaintNotificationsConfig = noMaintNotifications()
	o.DisableIdentity = true // CLIENT SETINFO is Redis 7.2+; older servers answer it with an error
	smallBuffers(o)
	limitPool(o, opts.PoolSize)
	return open(ctx, redis.NewClient(o), opts)
}

// NewEmbedded starts an in-memory Redis (miniredis) for running without any
// configuration. State is lost when the process exits. TTLs follow the real
// clock, so leases, snoozes and de-duplication expire as on a real Redis.
func NewEmbedded(ctx context.Context, opts Options) (*Redis, error) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	if err := m.Start(); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	o := &redis.Options{Addr: m.Addr(), MaintNotificationsConfig: noMaintNotifications(), DisableIdentity: true}
	smallBuffers(o)
	r, err := open(ctx, redis.NewClient(o), opts)
	if err != nil {
		m.Close()
		return nil, err
	}
	r.stop = m.Close
	return r, nil
}

// smallBuffers sizes the client's connection buffers for slabot's
// commands, a few KB each (pipelines of a batch: a few hundred KB, written
// in several pieces). go-redis's defaults (32 KiB, and 128 KiB for each
// pipeline connection) were a third of slabot's live heap under load.
// Longer replies are read past the buffer, so nothing is cut short.
func smallBuffers(o *redis.Options) {
	o.ReadBufferSize, o.WriteBufferSize = 8<<10, 8<<10
	o.PipelineReadBufferSize, o.PipelineWriteBufferSize = 32<<10, 32<<10
}

func open(ctx context.Context, rdb *redis.Client, opts Options) (*Redis, error) {
	if opts.Prefix == "" {
		opts.Prefix = "slabot:"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Redis{rdb: rdb, prefix: opts.Prefix, log: opts.Logger, marks: newMarks(opts.DedupWindow)}
	if opts.OnError != nil {
		rdb.AddHook(errorHook(opts.OnError))
	}
	if err := r.ensureGroup(ctx); err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return r, nil
}

// Close releases the connection (and stops an embedded server).
func (r *Redis) Close() error {
	err := r.rdb.Close()
	if r.stop != nil {
		r.stop()
	}
	return err
}

// Ping reports whether Redis answers; /readyz uses it.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// noMaintNotifications turns off go-redis's CLIENT MAINT_NOTIFICATIONS
// handshake: it is for managed clusters' failover notices, and open-source
// Redis answers it with an error on every new connection.
func noMaintNotifications() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// unavailable marks an error as the store being unreachable, so the HTTP
// edge answers 503 and senders retry.
func unavailable(err error) error {
	if err == nil || errors.Is(err, app.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("redis: %w: %w", app.ErrUnavailable, err)
}

// redactURL keeps credentials in REDIS_URL out of error messages.
func redactURL(err error, url string) error {
	msg := err.Error()
	if url != "" {
		msg = strings.ReplaceAll(msg, url, "<REDIS_URL>")
	}
	return errors.New(msg)
}

// Key layout. Per-queue keys carry the hash tag {queueID}.
func (r *Redis) queueKey(q string) string      { return r.prefix + "{" + q + "}:queue" }
func (r *Redis) thresholdsKey(q string) string { return r.prefix + "{" + q + "}:thresholds" }
func (r *Redis) outboxKey() string             { return r.prefix + "outbox" }
func (r *Redis) dueKey() string                { return r.prefix + "due" }
func (r *Redis) openKey() string               { return r.prefix + "open" }
func (r *Redis) namesKey() string              { return r.prefix + "queues" }
func (r *Redis) thresholdQueuesKey() string    { return r.prefix + "threshold-queues" }
func (r *Redis) directoryKey() string          { return r.prefix + "directory" }
func (r *Redis) leaseKey(name string) string   { return r.prefix + "lease:" + name }
func (r *Redis) onceKey(key string) string     { return r.prefix + "once:" + key }

// historyKey is one queue's history, or with "" everyone's.
func (r *Redis) historyKey(q string) string {
	if q == "" {
		return r.prefix + "history"
	}
	return r.prefix + "{" + q + "}:history"
}

func (r *Redis) alertKey(alertID string) (string, error) {
	q, _, _ := strings.Cut(alertID, "/")
	if err := app.ValidateQueueID(q); err != nil {
		return "", fmt.Errorf("%w: alert %q", app.ErrNotFound, alertID)
	}
	return r.prefix + "{" + q + "}:alert:" + alertID, nil
}

// errorHook calls its func for every command that fails for a reason other
// than a missing key.
type errorHook func()

func (h errorHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h errorHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if countable(err) {
			h()
		}
		return err
	}
}

func (h errorHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if countable(err) {
			h()
		}
		return err
	}
}

// countable tells real failures from the replies Redis uses as answers:
// a missing key, a script not cached yet (go-redis then sends it), an
// outbox group that already exists.
func countable(err error) bool {
	return err != nil && !errors.Is(err, redis.Nil) &&
		!redis.HasErrorPrefix(err, "NOSCRIPT") && !redis.HasErrorPrefix(err, "BUSYGROUP")
}
