package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
)

// outboxGroup is the consumer group all dispatchers share.
const outboxGroup = "dispatch"

func (r *Redis) ensureGroup(ctx context.Context) error {
	err := r.rdb.XGroupCreateMkStream(ctx, r.outboxKey(), outboxGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return unavailable(fmt.Errorf("create outbox group: %w", err))
	}
	return nil
}

// Receive reads new outbox entries for consumer, blocking up to block.
func (r *Redis) Receive(ctx context.Context, consumer string, max int, block time.Duration) ([]dispatch.Delivery, error) {
	res, err := r.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: outboxGroup, Consumer: consumer, Streams: []string{r.outboxKey(), ">"},
		Count: int64(max), Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil && strings.Contains(err.Error(), "NOGROUP") {
		// Redis lost the group (restarted without persistence): recreate.
		return nil, r.ensureGroup(ctx)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var out []dispatch.Delivery
	for _, s := range res {
		out = r.appendDeliveries(ctx, out, s.Messages)
	}
	return out, nil
}

// Reclaim takes over entries other consumers left idle for at least minIdle.
// They come back Reclaimed: whoever held them may have sent them.
func (r *Redis) Reclaim(ctx context.Context, consumer string, minIdle time.Duration, max int) ([]dispatch.Delivery, error) {
	var out []dispatch.Delivery
	start := "0-0"
	for len(out) < max {
		msgs, next, err := r.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: r.outboxKey(), Group: outboxGroup, Consumer: consumer,
			MinIdle: minIdle, Start: start, Count: int64(max - len(out)),
		}).Result()
		if err != nil {
			if strings.Contains(err.Error(), "NOGROUP") {
				return out, r.ensureGroup(ctx)
			}
			return out, unavailable(err)
		}
		from := len(out)
		out = r.appendDeliveries(ctx, out, msgs)
		for i := from; i < len(out); i++ {
			out[i].Reclaimed = true
		}
		if next == "0-0" || next == "" || len(msgs) == 0 {
			break
		}
		start = next
	}
	return out, nil
}

// appendDeliveries decodes stream messages; an undecodable entry can never
// be delivered, so it is logged and removed rather than retried forever.
func (r *Redis) appendDeliveries(ctx context.Context, out []dispatch.Delivery, msgs []redis.XMessage) []dispatch.Delivery {
	for _, m := range msgs {
		raw, _ := m.Values["n"].(string)
		var n app.Notification
		if err := json.Unmarshal([]byte(raw), &n); err != nil || n.Kind == "" {
			r.log.Error("dropping undecodable outbox entry", "entry_id", m.ID, "err", err)
			_ = r.Done(ctx, m.ID)
			continue
		}
		out = append(out, dispatch.Delivery{ID: m.ID, Notification: n})
	}
	return out
}

// Keep resets the idle time of entries consumer still holds.
func (r *Redis) Keep(ctx context.Context, consumer string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := r.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: r.outboxKey(), Group: outboxGroup, Consumer: consumer, MinIdle: 0, Messages: ids,
	}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return unavailable(err)
	}
	return nil
}

// Fetch reads entries consumer holds again, by ID: XCLAIM to the same
// consumer, which also resets their idle time. Entries acknowledged
// meanwhile are not returned.
func (r *Redis) Fetch(ctx context.Context, consumer string, ids []string) ([]dispatch.Delivery, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	msgs, err := r.rdb.XClaim(ctx, &redis.XClaimArgs{
		Stream: r.outboxKey(), Group: outboxGroup, Consumer: consumer, MinIdle: 0, Messages: ids,
	}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	return r.appendDeliveries(ctx, nil, msgs), nil
}

// Release marks ids long idle, so the next Reclaim by any consumer takes
// them at once (XCLAIM … IDLE).
func (r *Redis) Release(ctx context.Context, consumer string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := []any{"XCLAIM", r.outboxKey(), outboxGroup, consumer, 0}
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, "IDLE", time.Hour.Milliseconds(), "JUSTID")
	if err := r.rdb.Do(ctx, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return unavailable(err)
	}
	return nil
}

// Done acknowledges and deletes an entry, in one transaction.
func (r *Redis) Done(ctx context.Context, id string) error {
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, r.outboxKey(), outboxGroup, id)
		p.XDel(ctx, r.outboxKey(), id)
		return nil
	})
	return unavailable(err)
}

// MessageTS returns the ts recorded for an alert episode's message.
func (r *Redis) MessageTS(ctx context.Context, alertID string, episode int) (string, error) {
	k, err := r.alertKey(alertID)
	if err != nil {
		return dispatch.NoMessage, nil // an entry for a key we cannot form can never be sent
	}
	ts, err := r.rdb.HGet(ctx, k, tsField(episode)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return ts, unavailable(err)
}

var setTSScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`)

// SetMessageTS records an episode's message ts, unless the alert is gone.
func (r *Redis) SetMessageTS(ctx context.Context, alertID string, episode int, ts string) error {
	k, err := r.alertKey(alertID)
	if err != nil {
		return err
	}
	return unavailable(setTSScript.Run(ctx, r.rdb, []string{k}, tsField(episode), ts).Err())
}

// OutboxDepth reports how many entries wait in the outbox and the age of
// the oldest, for /metrics.
func (r *Redis) OutboxDepth(ctx context.Context) (int64, time.Duration, error) {
	pipe := r.rdb.Pipeline()
	n := pipe.XLen(ctx, r.outboxKey())
	first := pipe.XRangeN(ctx, r.outboxKey(), "-", "+", 1)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, 0, unavailable(err)
	}
	var age time.Duration
	if msgs := first.Val(); len(msgs) > 0 {
		ms := parseMillis(msgs[0].ID)
		age = max(time.Since(time.UnixMilli(ms)), 0)
	}
	return n.Val(), age, nil
}

func parseMillis(id string) int64 {
	ms, _, _ := strings.Cut(id, "-")
	var v int64
	for _, c := range ms {
		if c < '0' || c > '9' {
			return 0
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

// Enqueue adds a notification that belongs to no alert transition (an
// announcement) to the outbox.
func (r *Redis) Enqueue(ctx context.Context, n app.Notification) error {
	payload, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	return unavailable(r.rdb.XAdd(ctx, &redis.XAddArgs{Stream: r.outboxKey(), Values: []any{"n", payload}}).Err())
}

// enqueueOnceScript marks KEYS[1] for ARGV[1] seconds and adds ARGV[2:]
// to the outbox (KEYS[2]) in order, or does neither if the mark is
// already there.
var enqueueOnceScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
for i = 2, #ARGV do redis.call('XADD', KEYS[2], '*', 'n', ARGV[i]) end
return 1`)

// EnqueueOnce adds ns to the outbox, in order, unless key was marked
// within ttl, and marks it, in one atomic step: whatever replicas race and
// restarts repeat, ns go out once, all or none (the weekly report's text
// and its chart, once per period). It reports whether ns were enqueued.
func (r *Redis) EnqueueOnce(ctx context.Context, key string, ttl time.Duration, ns ...app.Notification) (bool, error) {
	args := []any{int(ttl / time.Second)}
	for _, n := range ns {
		payload, err := json.Marshal(n)
		if err != nil {
			return false, fmt.Errorf("encode notification: %w", err)
		}
		args = append(args, payload)
	}
	res, err := enqueueOnceScript.Run(ctx, r.rdb, []string{r.onceKey(key), r.outboxKey()}, args...).Int()
	if err != nil {
		return false, unavailable(err)
	}
	return res == 1, nil
}

// Marked reports whether EnqueueOnce (or MarkOnce) marked key and the mark
// has not expired.
func (r *Redis) Marked(ctx context.Context, key string) (bool, error) {
	n, err := r.rdb.Exists(ctx, r.onceKey(key)).Result()
	return n == 1, unavailable(err)
}
