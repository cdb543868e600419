package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/app/engine"
	"github.com/slabot/slabot/store"
	"github.com/slabot/slabot/store/redistest"
)

func newClock() *app.ManualClock {
	return app.NewManualClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
}

const queue = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"

// harness is an engine on a real Redis, with helpers to feed it and read
// what it would send to Slack.
type harness struct {
	t      *testing.T
	ctx    context.Context
	store  *store.Redis
	clock  *app.ManualClock
	engine *engine.Engine
	mu     sync.Mutex // guards seq for concurrent feeders
	seq    int
}

func newHarness(t *testing.T, opts engine.Options) *harness {
	t.Helper()
	st, err := store.New(context.Background(), redistest.URL(t), store.Options{Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := newClock()
	if opts.Channel == "" {
		opts.Channel = "C1"
	}
	return &harness{t: t, ctx: context.Background(), store: st, clock: c, engine: engine.New(st, c, opts)}
}

func (h *harness) set(queueID string, m app.Metric, v float64, d time.Duration) {
	h.t.Helper()
	if err := h.store.SetThreshold(h.ctx, app.Threshold{QueueID: queueID, Metric: m, Value: v, For: d}); err != nil {
		h.t.Fatal(err)
	}
}

// observe ingests one observation as a new event and returns its outcome.
func (h *harness) observe(media string, m app.Metric, v float64) app.Outcome {
	h.t.Helper()
	h.seq++
	out, err := h.engine.Ingest(h.ctx, app.Event{Key: fmt.Sprintf("ev-%d", h.seq), QueueID: queue, QueueName: "Support",
		Observations: []app.Observation{{QueueID: queue, MediaType: media, Metric: m, Value: v}}})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) tick() {
	h.t.Helper()
	if err := h.engine.Tick(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

// sent drains the outbox and returns the notifications as "kind:state#episode".
func (h *harness) sent() []string {
	h.t.Helper()
	dels, err := h.store.Receive(h.ctx, "test", 1000, time.Millisecond)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, d := range dels {
		n := d.Notification
		s := fmt.Sprintf("%s:%s#%d", n.Kind, n.Alert.State, n.Alert.Episode)
		if n.ContinuedIn > 0 { // the close of a message whose breach goes on in another
			s = fmt.Sprintf("close:%s#%d→%d", n.Alert.State, n.Alert.Episode, n.ContinuedIn)
		}
		if n.Reason != "" {
			s += ":" + n.Reason
		}
		out = append(out, s)
		if err := h.store.Done(h.ctx, d.ID); err != nil {
			h.t.Fatal(err)
		}
	}
	return out
}

func equal(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestDirections(t *testing.T) {
	tests := []struct {
		metric    app.Metric
		threshold float64
		value     float64
		fires     bool
	}{
		{app.LongestWait, 300, 301, true},
		{app.LongestWait, 300, 300, false},
		{app.Waiting, 10, 11, true},
		{app.Waiting, 10, 3, false},
		{app.ServiceLevel, 80, 79.5, true},
		{app.ServiceLevel, 80, 80, false},
		{app.Agents, 3, 2, true},
		{app.Agents, 3, 5, false},
		{app.AbandonRate, 5, 12.5, true},
		{app.AbandonRate, 5, 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v vs %v", tt.metric, tt.value, tt.threshold), func(t *testing.T) {
			h := newHarness(t, engine.Options{})
			h.set(queue, tt.metric, tt.threshold, 0)
			h.observe("voice", tt.metric, tt.value)
			got := h.sent()
			var want []string
			if tt.fires {
				want = []string{"post:firing#1"}
			}
			if !equal(got, want) {
				t.Errorf("sent %v, want %v", got, want)
			}
		})
	}
}

func TestThresholdFallback(t *testing.T) {
	builtin := &app.Threshold{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}
	tests := []struct {
		name  string
		setup func(h *harness)
		value float64
		want  []string
	}{
		{"built-in default fires", func(*harness) {}, 301, []string{"post:firing#1"}},
		{"stored default overrides built-in", func(h *harness) { h.set(app.DefaultQueue, app.LongestWait, 600, 0) }, 301, nil},
		{"queue overrides default", func(h *harness) {
			h.set(app.DefaultQueue, app.LongestWait, 600, 0)
			h.set(queue, app.LongestWait, 60, 0)
		}, 61, []string{"post:firing#1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, engine.Options{BuiltinDefault: builtin})
			tt.setup(h)
			h.observe("voice", app.LongestWait, tt.value)
			if got := h.sent(); !equal(got, tt.want) {
				t.Errorf("sent %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("no threshold at all", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		h.observe("voice", app.LongestWait, 1e6)
		if got := h.sent(); len(got) != 0 {
			t.Errorf("sent %v without any threshold", got)
		}
	})
}

func TestForDuration(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 2*time.Minute)

	h.observe("voice", app.Waiting, 15)
	h.clock.Advance(time.Minute)
	h.tick()
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("fired before its for-duration: %v", got)
	}
	// Genesys sends nothing new: the time-driven pass fires it.
	h.clock.Advance(time.Minute)
	h.tick()
	if got, want := h.sent(), []string{"post:firing#1"}; !equal(got, want) {
		t.Fatalf("after for-duration sent %v, want %v", got, want)
	}

	t.Run("recovering while pending posts nothing", func(t *testing.T) {
		h := newHarness(t, engine.Options{})
		h.set(queue, app.Waiting, 10, 2*time.Minute)
		h.observe("voice", app.Waiting, 15)
		h.clock.Advance(time.Minute)
		h.observe("voice", app.Waiting, 2)
		h.clock.Advance(5 * time.Minute)
		h.tick()
		if got := h.sent(); len(got) != 0 {
			t.Errorf("sent %v for a breach that never lasted", got)
		}
	})
}

func TestResolveAndNewEpisode(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 15)
	h.observe("voice", app.Waiting, 18)
	h.clock.Advance(time.Minute)
	h.observe("voice", app.Waiting, 4)
	h.observe("voice", app.Waiting, 3)
	h.observe("voice", app.Waiting, 12)
	want := []string{"post:firing#1", "update:resolved#1", "reply:resolved#1:resolved", "chart:resolved#1", "post:firing#2"}
	if got := h.sent(); !equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
}

// The resolution of an episode enqueues its chart, drawn at delivery: the
// window from 30 minutes before the breach began (its "for" wait
// included) to the resolution, the rule's levels, in the thread of the
// episode's message.
func TestResolutionChartsTheEpisode(t *testing.T) {
	h := newHarness(t, engine.Options{})
	if err := h.store.SetThreshold(h.ctx, app.Threshold{QueueID: queue, Metric: app.Waiting, Value: 10,
		Clear: ptr(6), For: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	start := h.clock.Now()
	h.observe("voice", app.Waiting, 15)
	h.clock.Advance(3 * time.Minute)
	h.tick() // fires
	h.clock.Advance(10 * time.Minute)
	h.observe("voice", app.Waiting, 4)
	dels, err := h.store.Receive(h.ctx, "test", 100, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var charts []app.Notification
	for _, d := range dels {
		if d.Notification.Kind == app.KindChart {
			charts = append(charts, d.Notification)
		}
	}
	if len(charts) != 1 {
		t.Fatalf("enqueued %d charts, want 1", len(charts))
	}
	n := charts[0]
	job := n.Chart
	if job == nil || n.Channel != "C1" || n.Alert.ID != app.AlertID(queue, "voice", app.Waiting) || n.Alert.Episode != 1 {
		t.Fatalf("chart %+v: want the job, in C1, in the thread of episode 1's message", n)
	}
	if !job.Episode || !job.From.Equal(start.Add(-30*time.Minute)) || !job.To.Equal(h.clock.Now()) {
		t.Errorf("window %v to %v (episode %v), want %v to %v", job.From, job.To, job.Episode, start.Add(-30*time.Minute), h.clock.Now())
	}
	if job.QueueID != queue || job.QueueName != "Support" || job.MediaType != "voice" || job.Metric != app.Waiting {
		t.Errorf("series %+v, want Support voice waiting", job)
	}
	if job.Threshold == nil || *job.Threshold != 10 || job.Clear == nil || *job.Clear != 6 {
		t.Errorf("levels %v, %v: want threshold 10, clear 6", job.Threshold, job.Clear)
	}
}

func TestUpdateCoalescing(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	h.observe("voice", app.Waiting, 11)
	for i := range 5 {
		h.clock.Advance(5 * time.Second)
		h.observe("voice", app.Waiting, float64(12+i))
	}
	if got, want := h.sent(), []string{"post:firing#1"}; !equal(got, want) {
		t.Fatalf("within 30 s sent %v, want %v", got, want)
	}
	// 25 s after the post: the coalesced update goes out at 30 s, once.
	h.clock.Advance(4 * time.Second)
	h.tick()
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("updated before 30 s: %v", got)
	}
	h.clock.Advance(time.Second)
	h.tick()
	h.tick()
	if got, want := h.sent(), []string{"update:firing#1"}; !equal(got, want) {
		t.Fatalf("at 30 s sent %v, want %v", got, want)
	}
	h.clock.Advance(time.Minute)
	h.tick()
	if got := h.sent(); len(got) != 0 {
		t.Errorf("no new value, yet sent %v", got)
	}
	h.observe("voice", app.Waiting, 30)
	if got, want := h.sent(), []string{"update:firing#1"}; !equal(got, want) {
		t.Errorf("new value after 30 s sent %v, want %v", got, want)
	}
}

func TestDuplicateEvent(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	ev := app.Event{Key: "same", QueueID: queue, Observations: []app.Observation{{QueueID: queue, Metric: app.Waiting, Value: 50}}}
	for i, want := range []app.Outcome{app.Processed, app.Duplicate, app.Duplicate} {
		got, err := h.engine.Ingest(h.ctx, ev)
		if err != nil || got != want {
			t.Errorf("ingest %d = %v, %v; want %v", i, got, err, want)
		}
	}
	if got := h.sent(); len(got) != 1 {
		t.Errorf("sent %v, want one post", got)
	}
}

// Two replicas fed different events showing the same breach at the same
// moment post exactly one message.
func TestTwoEnginesRace(t *testing.T) {
	for round := range 20 {
		h := newHarness(t, engine.Options{})
		h.set(queue, app.Waiting, 10, 0)
		other := engine.New(h.store, h.clock, engine.Options{Channel: "C1"})
		var wg sync.WaitGroup
		for i, e := range []*engine.Engine{h.engine, other, h.engine, other} {
			wg.Go(func() {
				_, err := e.Ingest(h.ctx, app.Event{Key: fmt.Sprintf("r%d-%d", round, i), QueueID: queue,
					Observations: []app.Observation{{QueueID: queue, MediaType: "voice", Metric: app.Waiting, Value: float64(20 + i)}}})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
			t.Fatalf("round %d: sent %v, want exactly one post", round, got)
		}
	}
}

func TestUnavailableStore(t *testing.T) {
	srv := redistest.Start(t)
	st, err := store.New(context.Background(), srv.URL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := engine.New(st, newClock(), engine.Options{})
	srv.Stop()
	_, err = e.Ingest(context.Background(), app.Event{Key: "k", QueueID: queue,
		Observations: []app.Observation{{QueueID: queue, Metric: app.Waiting, Value: 1}}})
	if !errors.Is(err, app.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

// An observation older than the newest one applied to its queue, media
// type and metric is ignored (a replayed or delayed "recovered" body must
// not resolve a live breach), whichever engine sees it; one of unknown
// time is applied as before.
func TestOutdatedObservationIgnored(t *testing.T) {
	h := newHarness(t, engine.Options{})
	h.set(queue, app.Waiting, 10, 0)
	t0 := time.Date(2026, 11, 27, 9, 59, 0, 0, time.UTC)
	ingest := func(e *engine.Engine, key string, at time.Time, media string, v float64) app.Outcome {
		t.Helper()
		out, err := e.Ingest(h.ctx, app.Event{Key: key, QueueID: queue, At: at,
			Observations: []app.Observation{{QueueID: queue, MediaType: media, Metric: app.Waiting, Value: v}}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := ingest(h.engine, "breach", t0.Add(time.Minute), "voice", 15); out != app.Processed {
		t.Fatalf("breach: %s", out)
	}
	if got := h.sent(); !equal(got, []string{"post:firing#1"}) {
		t.Fatalf("sent %v, want the alert", got)
	}
	// The same engine (cached snapshot) and another replica (read afresh).
	other := engine.New(h.store, h.clock, engine.Options{Channel: "C1"})
	for i, e := range []*engine.Engine{h.engine, other} {
		if out := ingest(e, fmt.Sprintf("old-recovery-%d", i), t0, "voice", 1); out != app.Ignored {
			t.Errorf("engine %d: a recovery observed before the breach answered %s, want ignored", i, out)
		}
	}
	if got := h.sent(); len(got) != 0 {
		t.Errorf("an outdated recovery sent %v, want nothing", got)
	}
	// Another media type has no newer value: applied.
	if out := ingest(other, "chat", t0, "chat", 1); out != app.Processed {
		t.Errorf("an observation of another media type answered %s, want processed", out)
	}
	// An observation of unknown time is applied, and a newer one too.
	if out := ingest(other, "untimed", time.Time{}, "voice", 12); out != app.Processed {
		t.Errorf("an observation of unknown time answered %s, want processed", out)
	}
	if out := ingest(h.engine, "recovery", t0.Add(2*time.Minute), "voice", 1); out != app.Processed {
		t.Errorf("a newer recovery answered %s, want processed", out)
	}
	if got := h.sent(); !equal(got, []string{"update:resolved#1", "reply:resolved#1:resolved", "chart:resolved#1"}) {
		t.Errorf("after the newer recovery sent %v, want the resolution", got)
	}
}
