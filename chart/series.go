package chart

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ErrNoData means a chart has nothing to draw: no finite value in its window.
var ErrNoData = errors.New("chart: no data in the window")

// Point is one value of the metric. A NaN value is a gap: no data there.
type Point struct {
	At    time.Time
	Value float64
}

// Span is a stretch of time.
type Span struct{ From, To time.Time }

// Mark is a moment worth pointing at: an acknowledgement or snooze and who
// did it ("ack U0123", "snooze 1h U0456").
type Mark struct {
	At    time.Time
	Label string
}

// Series is one metric of one queue over a window, with its rule and what
// happened to the alert. Values are in display units (the caller turns a
// wait's seconds into minutes); Unit names them on the Y axis.
type Series struct {
	Queue  string
	Media  string // shown in the title when set
	Metric string // human name, e.g. "Longest wait"
	Unit   string // e.g. "min", "%"; empty for counts
	// Location is the time zone of the axis and title; nil means UTC.
	Location *time.Location
	// From and To bound the X axis; zero bounds follow the points.
	From, To time.Time
	Points   []Point
	// Threshold is the breach level, NaN when no rule applies; Clear, when
	// set, the level at which a breach resolves (a hysteresis band).
	Threshold float64
	Clear     *float64
	// Breaches are the spans shaded as in breach; a zero To shades to the
	// window's end (a breach still going on).
	Breaches []Span
	Marks    []Mark
	// Note is a small line under the title (e.g. the history's resolution).
	Note string
}

// Render draws the series as an 800×400 PNG: the values as a line (broken
// where data is missing), the threshold and clear levels, the breach span
// shaded, and the marks as labelled vertical lines.
func Render(s Series) ([]byte, error) {
	p, err := seriesPlot(s)
	if err != nil {
		return nil, err
	}
	return encode(p)
}

// seriesPlot builds the plot Render draws; tests use it to find where a
// value lands in the image.
func seriesPlot(s Series) (*plot.Plot, error) {
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	pts := make([]Point, 0, len(s.Points))
	for _, pt := range s.Points {
		if !math.IsInf(pt.Value, 0) {
			pts = append(pts, pt)
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].At.Before(pts[j].At) })
	from, to := s.From, s.To
	if from.IsZero() && len(pts) > 0 {
		from = pts[0].At
	}
	if to.IsZero() && len(pts) > 0 {
		to = pts[len(pts)-1].At
	}
	if !to.After(from) {
		return nil, fmt.Errorf("%w: empty time window", ErrNoData)
	}
	segs := segments(pts, from, to)
	if len(segs) == 0 {
		return nil, ErrNoData
	}

	p := newPlot(title(s, loc))
	p.X.Min, p.X.Max = unix(from), unix(to)
	p.X.Tick.Marker = timeTicks{loc: loc}
	p.Y.Label.Text = yLabel(s)
	p.Y.Min, p.Y.Max = yRange(segs, s)
	p.Y.Tick.Marker = plot.DefaultTicks{}

	for _, b := range s.Breaches {
		end := b.To
		if end.IsZero() || end.After(to) {
			end = to
		}
		p.Add(span{from: unix(b.From), to: unix(end), color: colorBreach})
	}
	p.Add(grid{})
	if s.Clear != nil {
		p.Add(level{y: *s.Clear, label: "clear " + s.format(*s.Clear), style: draw.LineStyle{Color: colorClear, Width: vg.Points(2),
			Dashes: []vg.Length{vg.Points(6), vg.Points(4)}}})
	}
	if !math.IsNaN(s.Threshold) {
		p.Add(level{y: s.Threshold, label: "threshold " + s.format(s.Threshold), style: draw.LineStyle{Color: colorThreshold, Width: vg.Points(2)}})
	}
	p.Add(polyline{segs: segs, style: draw.LineStyle{Color: colorData, Width: vg.Points(2.5)}})
	marks := append([]Mark(nil), s.Marks...)
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].At.Before(marks[j].At) })
	p.Add(markLines{marks: marks})
	return p, nil
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// segments splits the points inside [from, to] into runs of finite values.
// A NaN value breaks the line, and so does a jump in time over 2.5 times
// the usual spacing: a replica that saw no data for a while draws a gap,
// not a straight line across it.
func segments(pts []Point, from, to time.Time) [][]xy {
	step := typicalStep(pts)
	var (
		segs [][]xy
		cur  []xy
		last time.Time
	)
	flush := func() {
		if len(cur) > 0 {
			segs = append(segs, cur)
		}
		cur = nil
	}
	for _, pt := range pts {
		if pt.At.Before(from) || pt.At.After(to) {
			continue
		}
		if math.IsNaN(pt.Value) {
			flush()
			continue
		}
		if len(cur) > 0 && step > 0 && pt.At.Sub(last) > step*5/2 {
			flush()
		}
		cur = append(cur, xy{x: unix(pt.At), y: pt.Value})
		last = pt.At
	}
	flush()
	return segs
}

// typicalStep is the median spacing of the points, 0 with fewer than two.
func typicalStep(pts []Point) time.Duration {
	if len(pts) < 2 {
		return 0
	}
	d := make([]time.Duration, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		if gap := pts[i].At.Sub(pts[i-1].At); gap > 0 {
			d = append(d, gap)
		}
	}
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

// yRange spans the values, the threshold and the clear level, from zero
// (every metric is a non-negative amount), with headroom for the marks'
// labels. A flat series still gets a range.
func yRange(segs [][]xy, s Series) (lo, hi float64) {
	hi = 0
	if !math.IsNaN(s.Threshold) {
		hi = s.Threshold
	}
	if s.Clear != nil {
		hi = math.Max(hi, *s.Clear)
	}
	lo = 0
	for _, seg := range segs {
		for _, pt := range seg {
			hi = math.Max(hi, pt.y)
			lo = math.Min(lo, pt.y)
		}
	}
	if hi <= lo {
		hi = lo + 1
	}
	return lo, hi + (hi-lo)*0.18
}

func title(s Series, loc *time.Location) string {
	parts := []string{s.Queue}
	if s.Media != "" {
		parts = append(parts, s.Media)
	}
	parts = append(parts, s.Metric)
	t := strings.Join(parts, " · ") + " (" + loc.String() + ")"
	if s.Note != "" {
		t += "\n" + s.Note
	}
	return t
}

// format writes a level for its label: whole numbers bare, others to one
// decimal, with the unit.
func (s Series) format(v float64) string {
	out := strconv.FormatFloat(v, 'f', 1, 64)
	if v == math.Trunc(v) {
		out = strconv.FormatFloat(v, 'f', 0, 64)
	}
	switch s.Unit {
	case "":
	case "%":
		out += "%"
	default:
		out += " " + s.Unit
	}
	return out
}

func yLabel(s Series) string {
	if s.Unit == "" {
		return s.Metric
	}
	return s.Metric + " (" + s.Unit + ")"
}
