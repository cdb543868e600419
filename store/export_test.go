package store

import (
	"context"
	"time"
)

// FlushScripts makes Redis forget its cached scripts, as a restart does.
func (r *Redis) FlushScripts(ctx context.Context) error { return r.rdb.ScriptFlush(ctx).Err() }

// AlertTTL is the TTL of an alert's key (-1: none).
func (r *Redis) AlertTTL(ctx context.Context, alertID string) (time.Duration, error) {
	k, err := r.alertKey(alertID)
	if err != nil {
		return 0, err
	}
	return r.rdb.TTL(ctx, k).Result()
}

// SetMarkSetSize sets how many marks one set holds before spilling, so
// that tests spill with a few events.
func (r *Redis) SetMarkSetSize(n int) { r.marks.setSize = n }

// MarkTTL is how long a bucket's set of marks is kept from its creation.
func (r *Redis) MarkTTL() time.Duration { return time.Duration(r.marks.ttl()) * time.Second }

// EpisodesTTL is how long the list of episodes that ended on day's UTC
// day is kept.
func (r *Redis) EpisodesTTL(ctx context.Context, day time.Time) (time.Duration, error) {
	return r.rdb.TTL(ctx, r.episodesKey(unixDay(day))).Result()
}

// SetRawThreshold stores data as queueID's rule under field, as an older
// slabot wrote it.
func (r *Redis) SetRawThreshold(ctx context.Context, queueID, field, data string) error {
	if err := r.rdb.HSet(ctx, r.thresholdsKey(queueID), field, data).Err(); err != nil {
		return err
	}
	return r.rdb.SAdd(ctx, r.thresholdQueuesKey(), queueID).Err()
}
