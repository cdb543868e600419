package genesys

import (
	"context"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// obsValue finds one observation's value in an event.
func obsValue(ev app.Event, media string, m app.Metric) (float64, bool) {
	for _, o := range ev.Observations {
		if o.MediaType == media && o.Metric == m {
			return o.Value, true
		}
	}
	return 0, false
}

// obsVolume is the interval volume of ev's observation of m for media.
func obsVolume(ev app.Event, media string, m app.Metric) float64 {
	for _, o := range ev.Observations {
		if o.MediaType == media && o.Metric == m {
			return o.Volume
		}
	}
	return -1
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSampleResponses(t *testing.T) {
	clock := newFakeClock()
	// The sample's oldest waiting conversation entered at 10:09:31.120Z;
	// the server's Date header says 10:15:31.
	clock.Set(time.Date(2026, 11, 27, 10, 15, 31, 0, time.UTC))
	f := newFakeGenesys(t, clock)
	f.edit(func(f *fakeGenesys) {
		f.raw[pathObservations] = readTestdata(t, "observations-query-response.json")
		f.raw[pathAggregates] = readTestdata(t, "aggregates-query-response.json")
		f.raw[pathQueues] = readTestdata(t, "routing-queues-page.json")
	})
	const id = "2f6f2d4e-8c1a-4a53-b9a4-0c5d7e8f9a10"
	// The client clock is an hour off: longest wait must follow the server.
	c := f.client(t, nil)
	c.clock = offsetClock{clock, time.Hour}
	ctx := context.Background()

	t.Run("observations", func(t *testing.T) {
		events, serverTime, err := c.Observations(ctx, []string{id})
		if err != nil {
			t.Fatalf("Observations: %v", err)
		}
		if !serverTime.Equal(clock.Now()) {
			t.Errorf("server time = %v, want the Date header %v", serverTime, clock.Now())
		}
		if len(events) != 1 || events[0].QueueID != id || events[0].Key != "" {
			t.Fatalf("events = %+v, want one unkeyed event for %s", events, id)
		}
		ev := events[0]
		checks := []struct {
			media string
			m     app.Metric
			want  float64
		}{
			{"voice", app.LongestWait, 359.88},
			{"voice", app.Waiting, 2},
			{"", app.Agents, 9},
		}
		for _, ck := range checks {
			got, ok := obsValue(ev, ck.media, ck.m)
			if !ok || !near(got, ck.want) {
				t.Errorf("%s/%s = %v (present %v), want %v", ck.media, ck.m, got, ok, ck.want)
			}
		}
		if got, want := len(ev.Observations), 3; got != want {
			t.Errorf("observations = %d (%+v), want %d", got, ev.Observations, want)
		}
	})
	t.Run("service levels", func(t *testing.T) {
		events, err := c.ServiceLevels(ctx, []string{id}, clock.Now())
		if err != nil {
			t.Fatalf("ServiceLevels: %v", err)
		}
		if len(events) != 1 {
			t.Fatalf("events = %+v, want one", events)
		}
		if got, _ := obsValue(events[0], "voice", app.ServiceLevel); !near(got, 61.90476) {
			t.Errorf("service level = %v, want 61.90476 (float64 ratio × 100)", got)
		}
		if got, _ := obsValue(events[0], "voice", app.AbandonRate); !near(got, 12.5) {
			t.Errorf("abandon rate = %v, want 12.5 (6 of 48)", got)
		}
	})
	t.Run("queues", func(t *testing.T) {
		queues, err := c.Queues(ctx)
		if err != nil {
			t.Fatalf("Queues: %v", err)
		}
		if len(queues) != 2 || queues[0].Name != "Support" || queues[1].Name != "Billing EU" {
			t.Fatalf("queues = %+v", queues)
		}
		want := map[string]app.ServiceLevelTarget{
			"call":  {Percent: 80, Within: 20 * time.Second},
			"chat":  {Percent: 80, Within: 30 * time.Second},
			"email": {Percent: 80, Within: 24 * time.Hour},
		}
		for media, w := range want {
			got := queues[0].ServiceLevels[media]
			if !near(got.Percent, w.Percent) || got.Within != w.Within {
				t.Errorf("Support %s target = %+v, want %+v", media, got, w)
			}
		}
		if got := queues[1].ServiceLevels["call"]; !near(got.Percent, 90) || got.Within != 15*time.Second {
			t.Errorf("Billing EU call target = %+v", got)
		}
	})
}

// offsetClock is a clock that is off by a fixed amount.
type offsetClock struct {
	c   app.Clock
	off time.Duration
}

func (o offsetClock) Now() time.Time { return o.c.Now().Add(o.off) }

func TestObservationsChunking(t *testing.T) {
	f := newFakeGenesys(t, newFakeClock())
	ids := f.addQueues(250)
	events, _, err := f.client(t, nil).Observations(context.Background(), ids)
	if err != nil {
		t.Fatalf("Observations: %v", err)
	}
	calls := f.callsTo(pathObservations)
	if got, want := len(calls), 3; got != want {
		t.Fatalf("requests = %d, want %d", got, want)
	}
	var asked []string
	for i, c := range calls {
		q := c.Body
		if n := len(q.Filter.Predicates); n > 100 {
			t.Errorf("request %d has %d queue predicates, want ≤ 100", i, n)
		}
		if q.Filter.Type != "or" || !slices.Equal(q.Metrics, []string{"oWaiting", "oInteracting", "oOnQueueUsers"}) ||
			!slices.Equal(q.DetailMetrics, []string{"oWaiting"}) {
			t.Errorf("request %d body = %+v", i, q)
		}
		for _, p := range q.Filter.Predicates {
			if p.Dimension != "queueId" {
				t.Errorf("predicate dimension = %q, want queueId", p.Dimension)
			}
		}
		asked = append(asked, q.queueIDs()...)
	}
	if !slices.Equal(asked, ids) {
		t.Errorf("queues asked differ from the 250 given")
	}
	if len(events) != 250 {
		t.Fatalf("events = %d, want 250", len(events))
	}
	for i, ev := range events {
		if ev.QueueID != ids[i] {
			t.Fatalf("event %d is for %s, want %s", i, ev.QueueID, ids[i])
		}
		if got, _ := obsValue(ev, "", app.Agents); got != 3 {
			t.Errorf("event %d agents = %v, want 3", i, got)
		}
	}
}

func TestObservationsWaiting(t *testing.T) {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	ids := f.addQueues(2)
	now := clock.Now()
	f.edit(func(f *fakeGenesys) {
		f.queues[0].Waiting = map[string][]time.Time{
			"voice": {now.Add(-90 * time.Second), now.Add(-400 * time.Second), now.Add(-5 * time.Second)},
			"chat":  {},
		}
	})
	events, _, err := f.client(t, nil).Observations(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		ev    int
		media string
		m     app.Metric
		want  float64
		ok    bool
	}{
		{0, "voice", app.Waiting, 3, true},
		{0, "voice", app.LongestWait, 400, true},
		{0, "chat", app.Waiting, 0, true},
		{0, "chat", app.LongestWait, 0, true},
		{1, "voice", app.Waiting, 0, true}, // Genesys reports every media group, idle ones at zero
		{1, "email", app.LongestWait, 0, true},
		{1, "", app.Agents, 3, true},
	}
	for _, ck := range checks {
		got, ok := obsValue(events[ck.ev], ck.media, ck.m)
		if ok != ck.ok || !near(got, ck.want) {
			t.Errorf("event %d %s/%s = %v (present %v), want %v (present %v)", ck.ev, ck.media, ck.m, got, ok, ck.want, ck.ok)
		}
	}
}

func TestObservationsWithoutDateHeader(t *testing.T) {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	ids := f.addQueues(1)
	f.edit(func(f *fakeGenesys) {
		f.omitDate = true
		f.queues[0].Waiting = map[string][]time.Time{"voice": {clock.Now().Add(-42 * time.Second)}}
	})
	c := f.client(t, nil)
	events, serverTime, err := c.Observations(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if !serverTime.Equal(clock.Now()) {
		t.Errorf("server time = %v, want the client clock %v", serverTime, clock.Now())
	}
	if got, _ := obsValue(events[0], "voice", app.LongestWait); !near(got, 42) {
		t.Errorf("longest wait = %v, want 42", got)
	}
}

func TestServiceLevelsQuery(t *testing.T) {
	clock := newFakeClock()
	f := newFakeGenesys(t, clock)
	ids := f.addQueues(230)
	f.edit(func(f *fakeGenesys) {
		f.queues[0].Agg = map[string]fakeAgg{"voice": {Offered: 10, Abandoned: 1, SLNum: 7, SLDen: 9}}
		f.queues[1].Agg = map[string]fakeAgg{"chat": {Offered: 0, Abandoned: 0, SLNum: 0, SLDen: 0}}
		f.queues[229].Agg = map[string]fakeAgg{"email": {Offered: 4, Abandoned: 0}}
	})
	now := time.Date(2026, 11, 27, 10, 47, 12, 0, time.FixedZone("CET", 3600))
	events, err := f.client(t, nil).ServiceLevels(context.Background(), ids, now)
	if err != nil {
		t.Fatal(err)
	}
	calls := f.callsTo(pathAggregates)
	if len(calls) != 3 {
		t.Fatalf("requests = %d, want 3", len(calls))
	}
	q := calls[0].Body
	if got, want := q.Interval, "2026-11-27T09:30:00.000Z/2026-11-27T10:00:00.000Z"; got != want {
		t.Errorf("interval = %q, want %q (current 30 minutes in UTC)", got, want)
	}
	if !slices.Equal(q.GroupBy, []string{"queueId", "mediaType"}) ||
		!slices.Equal(q.Metrics, []string{"oServiceLevel", "tAbandon", "nOffered"}) || q.Filter.Type != "or" {
		t.Errorf("query = %+v", q)
	}
	for i, c := range calls {
		if len(c.Body.Filter.Predicates) > 100 {
			t.Errorf("request %d has %d predicates", i, len(c.Body.Filter.Predicates))
		}
	}
	// Queue 1 has nothing to report (both denominators zero): no event.
	if len(events) != 2 || events[0].QueueID != ids[0] || events[1].QueueID != ids[229] {
		t.Fatalf("events = %+v, want queues 0 and 229", events)
	}
	if got, _ := obsValue(events[0], "voice", app.ServiceLevel); !near(got, 700.0/9) {
		t.Errorf("service level = %v, want %v", got, 700.0/9)
	}
	if got, _ := obsValue(events[0], "voice", app.AbandonRate); !near(got, 10) {
		t.Errorf("abandon rate = %v, want 10", got)
	}
	if _, ok := obsValue(events[1], "email", app.ServiceLevel); ok {
		t.Errorf("service level reported with a zero denominator")
	}
	if got, ok := obsValue(events[1], "email", app.AbandonRate); !ok || got != 0 {
		t.Errorf("abandon rate = %v (present %v), want 0", got, ok)
	}
	// Volumes feed /sla set … min <n>: the service level's denominator,
	// and the interactions offered for the abandon rate.
	for _, v := range []struct {
		ev     app.Event
		media  string
		metric app.Metric
		want   float64
	}{
		{events[0], "voice", app.ServiceLevel, 9},
		{events[0], "voice", app.AbandonRate, 10},
		{events[1], "email", app.AbandonRate, 4},
	} {
		if got := obsVolume(v.ev, v.media, v.metric); got != v.want {
			t.Errorf("%s %s volume = %v, want %v", v.media, v.metric, got, v.want)
		}
	}
}

func TestQueuesPaging(t *testing.T) {
	f := newFakeGenesys(t, newFakeClock())
	ids := f.addQueues(250)
	queues, err := f.client(t, nil).Queues(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	calls := f.callsTo(pathQueues)
	if len(calls) != 3 {
		t.Fatalf("pages requested = %d, want 3", len(calls))
	}
	for i, c := range calls {
		if want := "pageNumber=" + string(rune('1'+i)) + "&pageSize=100"; c.Query != want {
			t.Errorf("page %d query = %q, want %q", i+1, c.Query, want)
		}
	}
	got := make([]string, len(queues))
	for i, q := range queues {
		got[i] = q.ID
	}
	if !slices.Equal(got, ids) {
		t.Errorf("queue IDs differ from the directory")
	}
	if sl := queues[7].ServiceLevels["call"]; !near(sl.Percent, 80) || sl.Within != 20*time.Second {
		t.Errorf("service level target = %+v", sl)
	}
}
