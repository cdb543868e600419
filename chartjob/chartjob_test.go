package chartjob_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"math"
	"testing"
	"time"

	"github.com/slabot/slabot/app"
	"github.com/slabot/slabot/chart"
	"github.com/slabot/slabot/chartjob"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// history serves one series a minute over the 7 days up to now, as
// store.MetricHistory does, from a function of the time (NaN: no data).
type history struct {
	media string
	value func(time.Time) float64
	asked time.Time
}

func (h *history) MetricHistory(_ context.Context, _ string, _ app.Metric, now time.Time) ([]app.Series, error) {
	h.asked = now
	start := now.Truncate(time.Minute).Add(-7*24*time.Hour + time.Minute)
	s := app.Series{MediaType: h.media, Start: start, Step: time.Minute, Values: make([]float64, 7*24*60)}
	for i := range s.Values {
		s.Values[i] = h.value(start.Add(time.Duration(i) * time.Minute))
	}
	return []app.Series{s}, nil
}

type episodes []app.Episode

func (e episodes) Episodes(context.Context, time.Time, time.Time) ([]app.Episode, error) {
	return e, nil
}

// waitEpisode is a longest-wait alert on queue Q1 (voice) that began
// breaching 300 s at 09:30, was acked at 09:34 and resolved at 09:50.
func waitEpisode() app.Notification {
	a := app.Alert{ID: app.AlertID("Q1", "voice", app.LongestWait), QueueID: "Q1", QueueName: "Support", MediaType: "voice",
		Metric: app.LongestWait, State: app.StateResolved, Threshold: 300, Episode: 1,
		PendingSince: t0.Add(30 * time.Minute), FiredAt: t0.Add(32 * time.Minute), ResolvedAt: t0.Add(50 * time.Minute),
		FirstAckBy: "U0SUP", FirstAckAt: t0.Add(34 * time.Minute),
		Snoozes: []app.SnoozeMark{{By: "U0LEAD", Until: t0.Add(45 * time.Minute)}}}
	return app.Notification{Kind: app.KindChart, Channel: "C1", Alert: a, Chart: app.EpisodeChart(a, t0.Add(50*time.Minute))}
}

func waitValue(at time.Time) float64 {
	if at.After(t0.Add(30*time.Minute)) && at.Before(t0.Add(50*time.Minute)) {
		return 540
	}
	return 120
}

func TestEpisodeChartSeries(t *testing.T) {
	h := &history{media: "voice", value: waitValue}
	other := app.Episode{QueueID: "Q1", MediaType: "voice", Metric: app.LongestWait, Start: t0.Add(5 * time.Minute), End: t0.Add(8 * time.Minute),
		AckedBy: "U0OTHER", AckedAt: t0.Add(6 * time.Minute)}
	own := app.Episode{QueueID: "Q1", MediaType: "voice", Metric: app.LongestWait, Start: t0.Add(32 * time.Minute), End: t0.Add(50 * time.Minute)}
	chat := app.Episode{QueueID: "Q1", MediaType: "chat", Metric: app.LongestWait, Start: t0.Add(10 * time.Minute)}
	d := &chartjob.Drawer{History: h, Episodes: episodes{other, own, chat}}
	n := waitEpisode()
	s, err := d.Series(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if !h.asked.Equal(t0.Add(50 * time.Minute)) {
		t.Errorf("history read up to %v, want the episode's end", h.asked)
	}
	if !s.From.Equal(t0) || !s.To.Equal(t0.Add(50*time.Minute)) {
		t.Errorf("window %v to %v, want 30 minutes before the breach to its end", s.From, s.To)
	}
	// Waits of minutes are drawn in minutes.
	if s.Unit != "min" || s.Threshold != 5 || s.Queue != "Support" || s.Media != "voice" || s.Metric != "Longest wait" {
		t.Errorf("series %q %q %q in %q, threshold %v: want Support voice Longest wait in min, threshold 5", s.Queue, s.Media, s.Metric, s.Unit, s.Threshold)
	}
	if len(s.Points) != 51 || s.Points[0].Value != 2 || s.Points[40].Value != 9 {
		t.Errorf("%d points (first %v, 40th %v), want 51 a minute apart, 2 then 9 min", len(s.Points), s.Points[0], s.Points[40])
	}
	// Its own breach shaded from when it began (before it fired), the
	// other voice episode from the store; not the chat one, and its own
	// record not twice.
	want := []chart.Span{{From: t0.Add(30 * time.Minute), To: t0.Add(50 * time.Minute)}, {From: t0.Add(5 * time.Minute), To: t0.Add(8 * time.Minute)}}
	if len(s.Breaches) != len(want) || s.Breaches[0] != want[0] || s.Breaches[1] != want[1] {
		t.Errorf("breaches %v, want %v", s.Breaches, want)
	}
	marks := map[string]time.Time{}
	for _, m := range s.Marks {
		marks[m.Label] = m.At
	}
	if len(marks) != 3 || !marks["ack U0SUP"].Equal(t0.Add(34*time.Minute)) || !marks["snooze by U0LEAD ends"].Equal(t0.Add(45*time.Minute)) ||
		!marks["ack U0OTHER"].Equal(t0.Add(6*time.Minute)) {
		t.Errorf("marks %v, want the two acks and the snooze's end", s.Marks)
	}

	png1, title, err := d.Draw(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, png1)
	if title != "Support voice: Longest wait, the breach and the 30 minutes before it" {
		t.Errorf("title %q", title)
	}
	if len(png1) > 100<<10 {
		t.Errorf("chart is %d bytes, want under 100 KB", len(png1))
	}
	png2, _, err := d.Draw(context.Background(), n)
	if err != nil || !bytes.Equal(png1, png2) {
		t.Errorf("drawing the same job twice gave different bytes (%v)", err)
	}
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got != (image.Point{X: chart.Width, Y: chart.Height}) {
		t.Fatalf("image is %v, want %dx%d", got, chart.Width, chart.Height)
	}
	return img
}

// A week of one point a minute is drawn from at most 720 points, each
// keeping its bucket's worst value: a breach of one minute still shows.
func TestLongWindowKeepsTheWorstValue(t *testing.T) {
	spike := t0.Add(-3*24*time.Hour + 17*time.Minute)
	h := &history{media: "", value: func(at time.Time) float64 {
		switch {
		case at.Equal(spike):
			return 90
		case at.Before(t0.Add(-6 * 24 * time.Hour)):
			return math.NaN()
		}
		return 70
	}}
	th := 80.0
	n := app.Notification{Kind: app.KindChart, Channel: "C1", Chart: &app.ChartJob{QueueID: "Q1", Metric: app.AbandonRate,
		From: t0.Add(-7 * 24 * time.Hour), To: t0, Threshold: &th}}
	s, err := (&chartjob.Drawer{History: h}).Series(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Points) > 720 || len(s.Points) < 600 {
		t.Errorf("%d points, want at most 720", len(s.Points))
	}
	top, gaps := 0.0, 0
	for _, p := range s.Points {
		if math.IsNaN(p.Value) {
			gaps++
			continue
		}
		top = math.Max(top, p.Value)
	}
	if top != 90 || s.Unit != "%" {
		t.Errorf("highest point %v %s, want the one-minute spike of 90 %%", top, s.Unit)
	}
	if gaps == 0 {
		t.Error("the day without data drew no gap")
	}
	if _, _, err := (&chartjob.Drawer{History: h}).Draw(context.Background(), n); err != nil {
		t.Errorf("draw: %v", err)
	}
}

// A chart asked for without a media type draws the queue's series of
// the metric when it has no series without one.
func TestAnyMediaWhenNoneIsAsked(t *testing.T) {
	d := &chartjob.Drawer{History: &history{media: "chat", value: waitValue}}
	th := 300.0
	n := app.Notification{Kind: app.KindChart, Chart: &app.ChartJob{QueueID: "Q1", QueueName: "Support", Metric: app.LongestWait,
		From: t0, To: t0.Add(time.Hour), Threshold: &th}}
	s, err := d.Series(context.Background(), n)
	if err != nil || s.Media != "chat" || len(s.Points) != 61 {
		t.Errorf("series of %q with %d points (%v), want the chat series", s.Media, len(s.Points), err)
	}
}

// A series the store has no history of has nothing to draw.
func TestNoHistoryIsNoData(t *testing.T) {
	d := &chartjob.Drawer{History: &history{media: "chat", value: waitValue}}
	_, _, err := d.Draw(context.Background(), waitEpisode())
	if !errors.Is(err, chart.ErrNoData) {
		t.Errorf("err = %v, want chart.ErrNoData", err)
	}
}

// A report's chart is drawn by the report drawer, from the job's report.
func TestReportChart(t *testing.T) {
	var got app.Report
	d := &chartjob.Drawer{Report: func(r app.Report) ([]byte, error) { got = r; return []byte("png"), nil }}
	rep := &app.Report{From: t0, To: t0.Add(7 * 24 * time.Hour)}
	b, title, err := d.Draw(context.Background(), app.Notification{Kind: app.KindChart, Chart: &app.ChartJob{Report: rep, Title: "SLA report, week to Fri"}})
	if err != nil || string(b) != "png" || title != "SLA report, week to Fri" || !got.From.Equal(t0) {
		t.Errorf("report chart %q %q %v (drew %+v)", b, title, err, got)
	}
	if _, _, err := (&chartjob.Drawer{}).Draw(context.Background(), app.Notification{Kind: app.KindChart, Chart: &app.ChartJob{Report: rep}}); !errors.Is(err, chart.ErrNoData) {
		t.Errorf("without a report drawer: %v, want chart.ErrNoData", err)
	}
}
