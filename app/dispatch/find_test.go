package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/dispatch"
	"github.com/slabot/slabot/app/engine"
)

// finder is a notifier that can also look for the messages it sent.
type finder struct {
	*notifier
	find func(n app.Notification, ts string, call int) (string, error)

	mu    sync.Mutex
	finds []string
}

func (f *finder) Find(_ context.Context, n app.Notification, ts string) (string, error) {
	f.mu.Lock()
	f.finds = append(f.finds, fmt.Sprintf("%s#%d@%s", n.Kind, n.Alert.Episode, ts))
	call := len(f.finds)
	f.mu.Unlock()
	return f.find(n, ts, call)
}

func (f *finder) looked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.finds)
}

// An attempt that failed after its request may have reached Slack (a
// timeout) is looked for before it is sent again; a message found is
// recorded as a successful post would be, and is not posted twice.
func TestDispatchLooksForUnsureDelivery(t *testing.T) {
	const found = "1700000000.999999"
	unsure := &dispatch.DeliveryError{Err: errors.New("post timed out"), Retry: true, Unsure: true}
	failFirst := func(kind app.NotificationKind, err error) func(app.Notification, int) error {
		failed := false
		return func(n app.Notification, _ int) error {
			if n.Kind == kind && !failed {
				failed = true
				return err
			}
			return nil
		}
	}
	tests := []struct {
		name      string
		fail      func(n app.Notification, call int) error
		find      func(n app.Notification, ts string, call int) (string, error)
		wantCalls []string
		wantFinds []string
	}{
		{
			name: "unsure post found is recorded, not posted again",
			fail: failFirst(app.KindPost, unsure),
			find: func(app.Notification, string, int) (string, error) { return found, nil },
			// The update and the reply go to the message found.
			wantCalls: []string{"update#1@" + found, "reply#1@" + found, "chart#1@" + found},
			wantFinds: []string{"post#1@"},
		},
		{
			name:      "unsure reply found is not posted again",
			fail:      failFirst(app.KindReply, unsure),
			find:      func(app.Notification, string, int) (string, error) { return "1700000000.000004", nil },
			wantCalls: []string{"post#1@", "update#1@1700000000.000001", "chart#1@1700000000.000001"},
			wantFinds: []string{"reply#1@1700000000.000001"},
		},
		{
			name:      "unsure post not found is posted again",
			fail:      failFirst(app.KindPost, unsure),
			find:      func(app.Notification, string, int) (string, error) { return "", nil },
			wantCalls: []string{"post#1@", "update#1@1700000000.000002", "reply#1@1700000000.000002", "chart#1@1700000000.000002"},
			wantFinds: []string{"post#1@"},
		},
		{
			name: "lookup that cannot succeed posts again",
			fail: failFirst(app.KindPost, unsure),
			find: func(app.Notification, string, int) (string, error) {
				return "", &dispatch.DeliveryError{Err: errors.New("missing_scope"), Fix: "add the channels:history scope"}
			},
			wantCalls: []string{"post#1@", "update#1@1700000000.000002", "reply#1@1700000000.000002", "chart#1@1700000000.000002"},
			wantFinds: []string{"post#1@"},
		},
		{
			name: "lookup failing for a while is tried again",
			fail: failFirst(app.KindPost, unsure),
			find: func(_ app.Notification, _ string, call int) (string, error) {
				if call == 1 {
					return "", &dispatch.DeliveryError{Err: errors.New("ratelimited"), Retry: true, After: 10 * time.Millisecond}
				}
				return found, nil
			},
			wantCalls: []string{"update#1@" + found, "reply#1@" + found, "chart#1@" + found},
			wantFinds: []string{"post#1@", "post#1@"},
		},
		{
			name:      "sure failure is sent again without a lookup",
			fail:      failFirst(app.KindPost, &dispatch.DeliveryError{Err: errors.New("500"), Retry: true}),
			find:      func(app.Notification, string, int) (string, error) { return found, nil },
			wantCalls: []string{"post#1@", "update#1@1700000000.000002", "reply#1@1700000000.000002", "chart#1@1700000000.000002"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, engine.Options{})
			h.set(queue, app.Waiting, 10, 0)
			h.observe("voice", app.Waiting, 15)
			h.observe("voice", app.Waiting, 1) // resolve: update, reply, chart
			f := &finder{notifier: &notifier{fail: tt.fail}, find: tt.find}
			// The harness's clock is far behind the dispatcher's: let the
			// update and reply wait for their post however long.
			runDispatcher(t, h, f, dispatch.Options{MaxBackoff: 20 * time.Millisecond, WaitForPost: 1000 * time.Hour})
			waitDrained(t, h)
			if got := f.recorded(); !equal(got, tt.wantCalls) {
				t.Errorf("calls %v, want %v", got, tt.wantCalls)
			}
			if got := f.looked(); !equal(got, tt.wantFinds) {
				t.Errorf("looked for %v, want %v", got, tt.wantFinds)
			}
		})
	}
}

// An entry reclaimed from a replica that died may have been posted by it:
// the post is looked for, and the message found recorded, not posted again.
func TestDispatchLooksForReclaimedPost(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	if dels, err := h.store.Receive(h.ctx, "dead-replica", 10, time.Millisecond); err != nil || len(dels) != 1 {
		t.Fatalf("Receive = %v, %v", dels, err)
	}
	const found = "1700000000.777777"
	f := &finder{notifier: &notifier{}, find: func(app.Notification, string, int) (string, error) { return found, nil }}
	runDispatcher(t, h, f, dispatch.Options{Consumer: "alive", ClaimIdle: 60 * time.Millisecond})
	waitDrained(t, h)
	if got := f.recorded(); len(got) != 0 {
		t.Errorf("calls %v, want none: the dead replica's post was found", got)
	}
	if got, want := f.looked(), []string{"post#1@"}; !equal(got, want) {
		t.Errorf("looked for %v, want %v", got, want)
	}
	ts, err := h.store.MessageTS(h.ctx, app.AlertID(queue, "voice", app.Waiting), 1)
	if err != nil || ts != found {
		t.Errorf("MessageTS = %q, %v; want the ts found, %s", ts, err, found)
	}
}
