package store

import (
	"context"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
)

// scriptCall is one call of the commit script and its answer.
type scriptCall struct {
	keys []string
	args []any
	res  int
	err  error
}

// evalCommits runs calls of the commit script in one pipeline, each
// atomic on its own, and records each one's answer.
func (r *Redis) evalCommits(ctx context.Context, calls []scriptCall) {
	cmds := make([]*redis.Cmd, len(calls))
	for attempt := range 2 {
		pipe := r.rdb.Pipeline()
		for i, c := range calls {
			if attempt == 0 || isNoScript(cmds[i].Err()) {
				cmds[i] = commitScript.EvalSha(ctx, pipe, c.keys, c.args...)
			}
		}
		_, _ = pipe.Exec(ctx) // each command's error is read below
		if attempt > 0 || !slices.ContainsFunc(cmds, func(c *redis.Cmd) bool { return isNoScript(c.Err()) }) {
			break
		}
		// A restarted Redis forgot the script: load it, then run again
		// the calls it refused (and only those: the others ran).
		if err := commitScript.Load(ctx, r.rdb).Err(); err != nil {
			break
		}
	}
	for i, cmd := range cmds {
		res, err := cmd.Int()
		calls[i].res, calls[i].err = int(res), err
	}
}

func isNoScript(err error) bool { return redis.HasErrorPrefix(err, "NOSCRIPT") }

// commitQueue lets concurrent commits share round trips. A commit that
// finds no pipeline in flight sends at once, with whatever else is queued;
// the others queue, and when the pipeline in flight returns, the first of
// them sends everything queued meanwhile. Alone, a commit costs one round
// trip as before; under load each round trip carries several, which saves
// Redis and slabot a read, a write and a wake-up per commit.
type commitQueue struct {
	mu      sync.Mutex
	waiting []*queuedCall
	busy    bool // a pipeline is in flight
}

type queuedCall struct {
	call scriptCall
	// wake is closed when the call is answered (done), or when its caller
	// is to send the next pipeline.
	wake chan struct{}
	done bool
}

// run runs one commit script call, sharing a round trip with concurrent
// calls. The pipeline is sent without the caller's cancellation, since it
// carries other callers' commits; the client's timeouts bound it.
func (q *commitQueue) run(ctx context.Context, r *Redis, call scriptCall) (int, error) {
	me := &queuedCall{call: call, wake: make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, me)
	lead := !q.busy
	q.busy = true
	q.mu.Unlock()
	if !lead {
		<-me.wake
		if me.done {
			return me.call.res, me.call.err
		}
	}
	q.mu.Lock()
	batch := q.waiting
	q.waiting = nil
	q.mu.Unlock()

	calls := make([]scriptCall, len(batch))
	for i, w := range batch {
		calls[i] = w.call
	}
	r.evalCommits(context.WithoutCancel(ctx), calls)
	for i, w := range batch {
		w.call.res, w.call.err, w.done = calls[i].res, calls[i].err, true
		if w != me {
			close(w.wake)
		}
	}

	q.mu.Lock()
	if len(q.waiting) > 0 {
		close(q.waiting[0].wake) // not done: its caller sends next
	} else {
		q.busy = false
	}
	q.mu.Unlock()
	return me.call.res, me.call.err
}
