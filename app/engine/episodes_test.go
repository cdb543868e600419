package engine_test

import (
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
)

// TestEpisodeRecorded follows one breach through an ack, a snooze it
// outlives (a fresh post, acknowledged again) and its resolution: the
// store then holds exactly one episode, with the first ack, the snooze,
// the peak and the end, and an open breach reads as an open episode.
func TestEpisodeRecorded(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	id := app.AlertID(queue, "voice", app.Waiting)
	start := h.clock.Now()
	h.observe("voice", app.Waiting, 12)
	h.clock.Advance(time.Minute)
	h.observe("voice", app.Waiting, 17)
	h.clock.Advance(time.Minute)
	h.observe("voice", app.Waiting, 14)

	h.clock.Advance(2 * time.Minute)
	ackAt := h.clock.Now()
	if _, err := h.engine.Ack(h.ctx, id, 0, app.Actor{UserID: "U1ACK", Via: "button"}); err != nil {
		t.Fatal(err)
	}
	until, err := h.engine.Snooze(h.ctx, queue, 30*time.Minute, app.Actor{UserID: "U2SNOOZE", Via: "command"})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Set(until.Add(time.Second))
	h.tick() // still breaching: posted afresh, unacknowledged
	if _, err := h.engine.Ack(h.ctx, id, 0, app.Actor{UserID: "U3LATER", Via: "button"}); err != nil {
		t.Fatal(err)
	}

	mid := h.clock.Now()
	open, err := h.store.Episodes(h.ctx, start.Add(-time.Hour), mid.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || !open[0].Open() || !open[0].Start.Equal(start) || open[0].Peak != 17 {
		t.Fatalf("while breaching: episodes %+v, want one open since %s with peak 17", open, start)
	}

	h.clock.Advance(5 * time.Minute)
	end := h.clock.Now()
	h.observe("voice", app.Waiting, 3)
	h.observe("voice", app.Waiting, 4) // ok and staying ok: no second record

	eps, err := h.store.Episodes(h.ctx, start.Add(-time.Hour), end.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 {
		t.Fatalf("%d episodes, want 1: %+v", len(eps), eps)
	}
	e := eps[0]
	if e.QueueID != queue || e.MediaType != "voice" || e.Metric != app.Waiting || e.Threshold != 10 || e.Peak != 17 {
		t.Errorf("episode = %+v, want queue %s voice waiting, threshold 10, peak 17", e, queue)
	}
	if !e.Start.Equal(start) || !e.End.Equal(end) {
		t.Errorf("episode from %s to %s, want %s to %s", e.Start, e.End, start, end)
	}
	if e.AckedBy != "U1ACK" || !e.AckedAt.Equal(ackAt) {
		t.Errorf("first ack %s at %s, want U1ACK at %s", e.AckedBy, e.AckedAt, ackAt)
	}
	if len(e.Snoozes) != 1 || e.Snoozes[0].By != "U2SNOOZE" || !e.Snoozes[0].Until.Equal(until) {
		t.Errorf("snoozes = %+v, want U2SNOOZE until %s", e.Snoozes, until)
	}

	// A second breach, resolved by hand, is a second record; its peak
	// is its own.
	h.clock.Advance(time.Hour)
	h.observe("voice", app.Waiting, 11)
	if _, err := h.engine.Resolve(h.ctx, id, 0, app.Actor{UserID: "U4", Via: "button"}); err != nil {
		t.Fatal(err)
	}
	eps, err = h.store.Episodes(h.ctx, start, h.clock.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[1].Peak != 11 || eps[1].ResolvedBy != "U4" || eps[1].AckedBy != "" {
		t.Errorf("episodes = %+v, want a second one with peak 11, resolved by U4, never acknowledged", eps)
	}
	// The report's window: nothing of these before start.
	if eps, _ := h.store.Episodes(h.ctx, start.Add(-48*time.Hour), start.Add(-time.Hour)); len(eps) != 0 {
		t.Errorf("episodes before the first began: %+v", eps)
	}
}

// TestPendingNeverFiredIsNoEpisode: a breach that ends before its for
// duration is up never fired, so it is no episode.
func TestPendingNeverFiredIsNoEpisode(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 5*time.Minute)
	start := h.clock.Now()
	h.observe("voice", app.Waiting, 12)
	h.clock.Advance(time.Minute)
	h.observe("voice", app.Waiting, 2)
	eps, err := h.store.Episodes(h.ctx, start.Add(-time.Hour), h.clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 0 {
		t.Errorf("episodes = %+v, want none", eps)
	}
}
