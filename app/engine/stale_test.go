package engine_test

import (
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// A keyed event sent longer ago than the de-duplication window, by its
// own stamp, is ignored and changes nothing: its key may be forgotten, so
// a replay of it could not be told from the first delivery. Within the
// window it is applied, and replayed it is a duplicate; once stale, the
// replay is ignored too. Events without a stamp, and unkeyed ones (polls),
// are never stale.
func TestStaleEventIgnored(t *testing.T) {
	h := newHarness(t, engine.Options{DedupWindow: time.Hour})
	h.set(queue, app.Waiting, 10, 0)
	breach := func(key string, sentAt time.Time) app.Event {
		return app.Event{Key: key, QueueID: queue, SentAt: sentAt,
			Observations: []app.Observation{{QueueID: queue, MediaType: "voice", Metric: app.Waiting, Value: 50}}}
	}
	ingest := func(ev app.Event) app.Outcome {
		t.Helper()
		out, err := h.engine.Ingest(h.ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	now := h.clock.Now()
	if out := ingest(breach("old", now.Add(-61*time.Minute))); out != app.Ignored {
		t.Errorf("an event sent 61 minutes ago answered %s, want ignored", out)
	}
	if got := h.sent(); len(got) != 0 {
		t.Errorf("a stale event sent %v, want nothing", got)
	}
	if snap, err := h.store.Load(h.ctx, queue, "", nil); err != nil || len(snap.Queue.Latest) != 0 {
		t.Errorf("a stale event left latest values %v (%v)", snap.Queue.Latest, err)
	}
	fresh := breach("fresh", now.Add(-59*time.Minute))
	if out := ingest(fresh); out != app.Processed {
		t.Errorf("an event sent 59 minutes ago answered %s, want processed", out)
	}
	if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
		t.Errorf("sent %v, want the alert", got)
	}
	if out := ingest(fresh); out != app.Duplicate {
		t.Errorf("its replay within the window answered %s, want duplicate", out)
	}
	h.clock.Advance(2 * time.Minute)
	if out := ingest(fresh); out != app.Ignored {
		t.Errorf("its replay once stale answered %s, want ignored", out)
	}
	if got := h.sent(); len(got) != 0 {
		t.Errorf("replays sent %v, want nothing", got)
	}
	if out := ingest(breach("unstamped", time.Time{})); out != app.Processed {
		t.Errorf("an unstamped event answered %s, want processed", out)
	}
	poll := breach("", now.Add(-3*time.Hour))
	if out := ingest(poll); out != app.Processed {
		t.Errorf("an unkeyed (polled) event answered %s, want processed", out)
	}
}
