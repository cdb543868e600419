package handlers

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/slackapi"
)

// chartQueue records the chart notifications enqueued.
type chartQueue struct {
	mu  sync.Mutex
	got []app.Notification
}

func (q *chartQueue) Enqueue(_ context.Context, n app.Notification) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.got = append(q.got, n)
	return nil
}

func (q *chartQueue) all() []app.Notification {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]app.Notification(nil), q.got...)
}

func TestSlashChart(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	m := newMemStore()
	m.thresholds = []app.Threshold{{QueueID: billingQueue, Metric: app.ServiceLevel, Value: 80, Clear: ptrF(85)},
		{QueueID: app.DefaultQueue, Metric: app.LongestWait, Value: 300}}
	q := &chartQueue{}
	h, _ := memServer(t, m, func(d *Deps) { d.Charts, d.Clock = q, app.NewManualClock(now) })

	tests := []struct {
		text   string
		queue  string
		media  string
		metric app.Metric
		window time.Duration
		th     float64 // 0: no rule
		clear  float64
		answer string
	}{
		{text: "chart Support", queue: supportQueue, metric: app.LongestWait, window: 6 * time.Hour, th: 300,
			answer: "The chart of *Support*'s longest wait over the last 6 hours is on its way to this channel."},
		{text: `chart "Billing EU" chat sl 24h`, queue: billingQueue, media: "chat", metric: app.ServiceLevel, window: 24 * time.Hour, th: 80, clear: 85,
			answer: "The chart of *Billing EU*'s chat service level over the last 24 hours is on its way"},
		{text: "chart Billing EU call waiting 7d", queue: billingQueue, media: "voice", metric: app.Waiting, window: 7 * 24 * time.Hour,
			answer: "over the last 7 days"},
	}
	for i, tt := range tests {
		got := runCommand(t, h, "U0LEAD001", tt.text)
		if !strings.Contains(got, tt.answer) {
			t.Errorf("/sla %s answered %q, want %q", tt.text, got, tt.answer)
		}
		all := q.all()
		if len(all) != i+1 {
			t.Fatalf("/sla %s: %d charts enqueued, want %d", tt.text, len(all), i+1)
		}
		n := all[i]
		job := n.Chart
		if n.Kind != app.KindChart || n.Channel != "C0SUPPORT1" || !n.Standalone() || job == nil {
			t.Fatalf("/sla %s enqueued %+v, want a chart for the channel it was typed in", tt.text, n)
		}
		if job.QueueID != tt.queue || job.MediaType != tt.media || job.Metric != tt.metric || !job.To.Equal(now) ||
			job.To.Sub(job.From) != tt.window || job.RequestedBy != "U0LEAD001" {
			t.Errorf("/sla %s: job %+v, want %s %q %s over %v", tt.text, job, tt.queue, tt.media, tt.metric, tt.window)
		}
		switch {
		case tt.th == 0 && job.Threshold != nil:
			t.Errorf("/sla %s: threshold %v, want none", tt.text, *job.Threshold)
		case tt.th != 0 && (job.Threshold == nil || *job.Threshold != tt.th):
			t.Errorf("/sla %s: threshold %v, want %v", tt.text, job.Threshold, tt.th)
		case tt.clear != 0 && (job.Clear == nil || *job.Clear != tt.clear):
			t.Errorf("/sla %s: clear %v, want %v", tt.text, job.Clear, tt.clear)
		}
	}

	// Bad input: a clear answer, nothing enqueued.
	for text, want := range map[string]string{
		"chart":              "give a queue",
		"chart Support 5h":   "a chart covers 6h, 24h or 7d",
		"chart Nowhere":      "Nowhere",
		"chart default wait": "default is the fallback rule",
	} {
		got := runCommand(t, h, "U0LEAD001", text)
		if !strings.Contains(strings.ToLower(got), strings.ToLower(want)) || !strings.Contains(got, "/sla chart") && text != "chart Nowhere" {
			t.Errorf("/sla %s answered %q, want %q and the usage", text, got, want)
		}
	}
	if n := len(q.all()); n != len(tests) {
		t.Errorf("bad input enqueued %d charts", n-len(tests))
	}
}

func ptrF(v float64) *float64 { return &v }

// The Chart button enqueues the chart of the breach so far for the
// alert's thread, and says so ephemerally.
func TestChartButton(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	m := newMemStore()
	a := app.Alert{ID: app.AlertID(supportQueue, "voice", app.LongestWait), QueueID: supportQueue, QueueName: "Support",
		MediaType: "voice", Metric: app.LongestWait, State: app.StateFiring, Threshold: 300, Episode: 3, Channel: "C0ALERTS1",
		FiredAt: now.Add(-20 * time.Minute)}
	m.alerts = []app.Alert{a}
	q := &chartQueue{}
	var mu sync.Mutex
	var ephemeral []string
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		ephemeral = append(ephemeral, string(b))
		mu.Unlock()
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})}
	h, bg := memServer(t, m, func(d *Deps) { d.Charts, d.Clock, d.SlackHTTPClient = q, app.NewManualClock(now), client })

	click{user: "U0LEAD001", action: actionJSON(slackapi.ActionChart, slackapi.BlockActions, slackapi.AlertValue(a), ""), responseURL: hooksURL}.send(t, h)
	// An old message's button: told, nothing enqueued.
	old := a
	old.Episode = 2
	click{user: "U0LEAD001", action: actionJSON(slackapi.ActionChart, slackapi.BlockActions, slackapi.AlertValue(old), ""), responseURL: hooksURL}.send(t, h)
	bg.wait()

	all := q.all()
	if len(all) != 1 {
		t.Fatalf("%d charts enqueued, want 1 (not for the old message)", len(all))
	}
	n := all[0]
	if n.Channel != "C0ALERTS1" || n.Alert.ID != a.ID || n.Alert.Episode != 3 || n.Standalone() || n.Chart == nil ||
		!n.Chart.Episode || !n.Chart.From.Equal(a.FiredAt.Add(-30*time.Minute)) || !n.Chart.To.Equal(now) || n.Chart.RequestedBy != "U0LEAD001" {
		t.Errorf("enqueued %+v (job %+v), want episode 3's chart so far in its thread", n, n.Chart)
	}
	mu.Lock()
	defer mu.Unlock()
	// The two answers are sent in the background, in either order.
	joined := strings.Join(ephemeral, "\n")
	if len(ephemeral) != 2 || strings.Count(joined, "on its way to the alert") != 1 || strings.Count(joined, "earlier breach") != 1 {
		t.Errorf("ephemeral answers %q, want the chart on its way, and the old message told", ephemeral)
	}
}
