package store

import "context"

// FlushScripts makes Redis forget its cached scripts, as a restart does.
func (r *Redis) FlushScripts(ctx context.Context) error { return r.rdb.ScriptFlush(ctx).Err() }
