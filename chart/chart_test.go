package chart

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"
	"time"

	"gonum.org/v1/plot/vg/draw"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func ptr(v float64) *float64 { return &v }

// episode is a wait that climbs over its 5-minute threshold at 09:30,
// peaks at 9 minutes, and clears under 3 minutes at 09:50: one point a
// minute from 09:00 to 10:00.
func episode() Series {
	s := Series{Queue: "Support", Media: "voice", Metric: "Longest wait", Unit: "min",
		From: t0, To: t0.Add(time.Hour), Threshold: 5, Clear: ptr(3),
		Breaches: []Span{{From: t0.Add(30 * time.Minute), To: t0.Add(50 * time.Minute)}},
		Marks:    []Mark{{At: t0.Add(34 * time.Minute), Label: "ack U0SUPERVISOR"}}}
	for m := 0; m <= 60; m++ {
		v := 2.0
		switch {
		case m >= 25 && m < 30:
			v = 2 + float64(m-25)*0.6
		case m >= 30 && m < 50:
			v = 9 - math.Abs(float64(m-40))*0.3
		}
		s.Points = append(s.Points, Point{At: t0.Add(time.Duration(m) * time.Minute), Value: v})
	}
	return s
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got != (image.Point{X: Width, Y: Height}) {
		t.Fatalf("image is %v, want %dx%d", got, Width, Height)
	}
	return img
}

// pixel is where a value at a moment lands in the image, computed from the
// plot's own data area and axis ranges.
func pixel(t *testing.T, s Series, at time.Time, v float64) (x, y int) {
	t.Helper()
	p, err := seriesPlot(s)
	if err != nil {
		t.Fatal(err)
	}
	dc := p.DataCanvas(draw.New(canvas()))
	trX, trY := p.Transforms(&dc)
	return int(trX(unix(at)).Dots(dpi)), Height - 1 - int(trY(v).Dots(dpi))
}

func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := math.Abs(float64(r>>8)-float64(want.R)) + math.Abs(float64(g>>8)-float64(want.G)) + math.Abs(float64(b>>8)-float64(want.B))
	return d < 60
}

// colorAround reports whether a pixel of colour want lies within 2 pixels
// of (x, y), vertically: lines are 3 pixels wide and anti-aliased.
func colorAround(img image.Image, x, y int, want color.RGBA) bool {
	for dy := -2; dy <= 2; dy++ {
		if near(img.At(x, y+dy), want) {
			return true
		}
	}
	return false
}

// columnHas reports whether any pixel of column x between rows y0 and y1
// has colour want.
func columnHas(img image.Image, x, y0, y1 int, want color.RGBA) bool {
	for y := y0; y <= y1; y++ {
		if near(img.At(x, y), want) {
			return true
		}
	}
	return false
}

func TestRenderDrawsLinesWhereTheValuesAre(t *testing.T) {
	s := episode()
	b, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, b)

	// The threshold (5) and clear (3) lines, at 09:10 where the data is
	// at 2 and nothing else is drawn.
	x, y := pixel(t, s, t0.Add(10*time.Minute), 5)
	if !colorAround(img, x, y, colorThreshold) {
		t.Errorf("no threshold line at (%d,%d): %v", x, y, img.At(x, y))
	}
	if _, y3 := pixel(t, s, t0, 3); !colorAround(img, x, y3, colorClear) && !colorAround(img, x+5, y3, colorClear) {
		t.Errorf("no clear line at y=%d (dashed; tried two columns)", y3)
	}
	// The data line at 2 at 09:10 and at its 9-minute peak at 09:40.
	if x, y := pixel(t, s, t0.Add(10*time.Minute), 2); !colorAround(img, x, y, colorData) {
		t.Errorf("no data line at 2 (%d,%d): %v", x, y, img.At(x, y))
	}
	px, py := pixel(t, s, t0.Add(40*time.Minute), 9)
	if !colorAround(img, px, py, colorData) {
		t.Errorf("no data line at the peak (%d,%d): %v", px, py, img.At(px, py))
	}
	// Above the peak in the breach span: shaded, not white.
	if _, top := pixel(t, s, t0, 9.6); !near(img.At(px, top), colorBreach) {
		t.Errorf("breach span not shaded at (%d,%d): %v", px, top, img.At(px, top))
	}
	// Outside the span the same height is white.
	if x, top := pixel(t, s, t0.Add(15*time.Minute), 9.6); !near(img.At(x, top), color.RGBA{255, 255, 255, 255}) {
		t.Errorf("shading outside the breach at (%d,%d): %v", x, top, img.At(x, top))
	}
	// The ack mark: a grey dashed line at 09:34 (look along its height).
	mx, _ := pixel(t, s, t0.Add(34*time.Minute), 0)
	_, ylo := pixel(t, s, t0, 0)
	_, yhi := pixel(t, s, t0, 9.6)
	if !columnHas(img, mx, yhi, ylo, colorMark) {
		t.Errorf("no mark line at x=%d", mx)
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a, err := Render(episode())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(episode())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two renders of the same series differ")
	}
}

func TestRenderLeavesGapsWhereDataIsMissing(t *testing.T) {
	s := episode()
	// Two gaps: a NaN value at 09:05 (its neighbours are only two minutes
	// apart), and no points at all from 09:15 to 09:21.
	var pts []Point
	for _, p := range s.Points {
		m := p.At.Sub(t0) / time.Minute
		switch {
		case m == 5:
			p.Value = math.NaN()
		case m >= 15 && m < 22:
			continue
		}
		pts = append(pts, p)
	}
	s.Points = pts
	b, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, b)
	_, ylo := pixel(t, s, t0, 0)
	_, yhi := pixel(t, s, t0, 9.6)
	for _, m := range []time.Duration{5, 18} {
		if x, _ := pixel(t, s, t0.Add(m*time.Minute), 0); columnHas(img, x, yhi, ylo, colorData) {
			t.Errorf("data drawn at 09:%02d, inside the gap", m)
		}
	}
	if x, y := pixel(t, s, t0.Add(3*time.Minute), 2); !colorAround(img, x, y, colorData) {
		t.Errorf("no data line before the gap at (%d,%d)", x, y)
	}
	if x, y := pixel(t, s, t0.Add(12*time.Minute), 2); !colorAround(img, x, y, colorData) {
		t.Errorf("no data line between the gaps at (%d,%d)", x, y)
	}
	if x, y := pixel(t, s, t0.Add(23*time.Minute), 2); !colorAround(img, x, y, colorData) {
		t.Errorf("no data line after the gap at (%d,%d)", x, y)
	}
}

func TestRenderFlatSeries(t *testing.T) {
	s := Series{Queue: "Chat", Metric: "Waiting", From: t0, To: t0.Add(6 * time.Hour), Threshold: 0,
		Location: time.FixedZone("CET", 3600)}
	for m := 0; m <= 360; m += 5 {
		s.Points = append(s.Points, Point{At: t0.Add(time.Duration(m) * time.Minute), Value: 0})
	}
	b, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, b)
	if x, y := pixel(t, s, t0.Add(3*time.Hour), 0); !colorAround(img, x, y, colorData) {
		t.Errorf("no flat data line at (%d,%d): %v", x, y, img.At(x, y))
	}
}

func TestRenderWithoutDataIsAnError(t *testing.T) {
	s := Series{Queue: "Q", Metric: "Waiting", From: t0, To: t0.Add(time.Hour),
		Points: []Point{{At: t0, Value: math.NaN()}}}
	if _, err := Render(s); !errors.Is(err, ErrNoData) {
		t.Errorf("err = %v, want ErrNoData", err)
	}
}

func TestTimeTicksFallOnClockTimesInTheZone(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	from := time.Date(2026, 7, 1, 8, 7, 0, 0, london) // BST, UTC+1
	ticks := timeTicks{loc: london}.Ticks(unix(from), unix(from.Add(6*time.Hour)))
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, tk.Label)
	}
	want := []string{"09:00", "10:00", "11:00", "12:00", "13:00", "14:00"}
	if len(labels) != len(want) {
		t.Fatalf("labels = %v, want %v", labels, want)
	}
	for i := range want {
		if labels[i] != want[i] {
			t.Fatalf("labels = %v, want %v", labels, want)
		}
	}
}

func TestBars(t *testing.T) {
	b := BarChart{Title: "Minutes in breach, week of 23 Nov", Days: []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"},
		Rows: []BarRow{
			{Label: "Support", Minutes: []float64{30, 0, 12, 0, 45, 0, 0}},
			{Label: "Billing", Minutes: []float64{10, 5, 0, 0, 15, 0, 0}},
		}}
	out, err := Bars(b)
	if err != nil {
		t.Fatal(err)
	}
	img := decode(t, out)
	p, err := barsPlot(b)
	if err != nil {
		t.Fatal(err)
	}
	dc := p.DataCanvas(draw.New(canvas()))
	trX, trY := p.Transforms(&dc)
	at := func(day int, v float64) (int, int) {
		return int(trX(float64(day)).Dots(dpi)), Height - 1 - int(trY(v).Dots(dpi))
	}
	// Friday: Support 0–45 at the bottom, Billing stacked 45–60 above it.
	if x, y := at(4, 20); !near(img.At(x, y), barColors[0]) {
		t.Errorf("Friday at 20 min is %v, want Support's colour", img.At(x, y))
	}
	if x, y := at(4, 52); !near(img.At(x, y), barColors[1]) {
		t.Errorf("Friday at 52 min is %v, want Billing's colour on top", img.At(x, y))
	}
	if x, y := at(4, 62); near(img.At(x, y), barColors[1]) || near(img.At(x, y), barColors[0]) {
		t.Errorf("Friday above its 60 min total is coloured: %v", img.At(x, y))
	}
	if x, y := at(3, 1); near(img.At(x, y), barColors[0]) || near(img.At(x, y), barColors[1]) {
		t.Errorf("Thursday (no breach) has a bar: %v", img.At(x, y))
	}
	again, _ := Bars(b)
	if !bytes.Equal(out, again) {
		t.Error("two renders of the same bars differ")
	}
}

func TestBarsRejectsBadInput(t *testing.T) {
	for name, b := range map[string]BarChart{
		"no days":       {Rows: []BarRow{{Label: "a"}}},
		"short row":     {Days: []string{"Mon", "Tue"}, Rows: []BarRow{{Label: "a", Minutes: []float64{1}}}},
		"negative":      {Days: []string{"Mon"}, Rows: []BarRow{{Label: "a", Minutes: []float64{-1}}}},
		"eleven queues": {Days: []string{"Mon"}, Rows: make([]BarRow, MaxBarRows+1)},
	} {
		if _, err := Bars(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkRender measures drawing one episode chart (an hour, a point a
// minute) and reports its PNG size; BENCHMARKS.md quotes it.
func BenchmarkRender(b *testing.B) {
	s := episode()
	var size int
	for b.Loop() {
		png, err := Render(s)
		if err != nil {
			b.Fatal(err)
		}
		size = len(png)
	}
	b.ReportMetric(float64(size), "png_bytes")
}
