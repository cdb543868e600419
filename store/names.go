package store

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/slabot/slabot/app"
)

// NameQueue records one queue's name as the Genesys Cloud directory gave
// it, as SaveQueues does for the whole directory: /sla looks a name up
// there when no event has named the queue yet, and from then on the queue
// is known by that name (its alerts and listings show it, and /sla finds
// it without asking again). The directory's next refresh overwrites it.
func (r *Redis) NameQueue(ctx context.Context, queueID, name string) error {
	if err := app.ValidateQueueID(queueID); err != nil {
		return err
	}
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, r.namesKey(), queueID, name)
		p.HSet(ctx, r.queueKey(queueID), "name", name)
		p.HIncrBy(ctx, r.queueKey(queueID), versionField, 1) // the engine's cached name is stale
		return nil
	})
	return unavailable(err)
}
