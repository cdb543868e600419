package store

import (
	"context"
	"fmt"
)

// QueueCount returns how many queues slabot knows (from events or the
// queue directory): the webhook's cap on new queues counts these.
func (r *Redis) QueueCount(ctx context.Context) (int, error) {
	n, err := r.rdb.HLen(ctx, r.namesKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("count queues: %w", unavailable(err))
	}
	return int(n), nil
}

// QueuesKnown reports, for each of ids, whether slabot knows that queue.
func (r *Redis) QueuesKnown(ctx context.Context, ids []string) ([]bool, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	vals, err := r.rdb.HMGet(ctx, r.namesKey(), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("look up queues: %w", unavailable(err))
	}
	known := make([]bool, len(ids))
	for i, v := range vals {
		known[i] = v != nil
	}
	return known, nil
}
