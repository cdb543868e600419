package chart

import (
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The plotters below draw in data coordinates on the plot's data canvas.
// They are small and specific rather than gonum's general ones: gonum's
// Line refuses NaN, and a span or a level across the whole axis would
// otherwise widen the axis range.

type xy struct{ x, y float64 }

// span shades the time range [from, to] over the whole height.
type span struct {
	from, to float64
	color    color.Color
}

func (s span) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x0, x1 := trX(math.Max(s.from, p.X.Min)), trX(math.Min(s.to, p.X.Max))
	if x1 <= x0 {
		return
	}
	c.FillPolygon(s.color, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
}

// grid draws light horizontal lines at the Y axis's major ticks.
type grid struct{}

func (grid) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: colorGrid, Width: vg.Points(1)}
	for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if t.IsMinor() || t.Value < p.Y.Min || t.Value > p.Y.Max {
			continue
		}
		y := trY(t.Value)
		c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
	}
}

// level is a horizontal line across the chart at y, named at its left end.
type level struct {
	y     float64
	label string
	style draw.LineStyle
}

func (l level) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(l.y)
	c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
	if l.label != "" {
		sty := text.Style{Color: l.style.Color, Font: font.From(plot.DefaultFont, noteSize), Handler: p.TextHandler,
			XAlign: draw.XLeft, YAlign: draw.YBottom}
		c.FillText(sty, vg.Point{X: c.Min.X + vg.Points(4), Y: y + vg.Points(2)}, l.label)
	}
}

// polyline draws each run of points as one line; a single point is a dot.
type polyline struct {
	segs  [][]xy
	style draw.LineStyle
}

func (l polyline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for _, seg := range l.segs {
		pts := make([]vg.Point, len(seg))
		for i, pt := range seg {
			pts[i] = vg.Point{X: trX(pt.x), Y: trY(pt.y)}
		}
		if len(pts) == 1 {
			c.DrawGlyph(draw.GlyphStyle{Color: l.style.Color, Radius: l.style.Width * 1.2, Shape: draw.CircleGlyph{}}, pts[0])
			continue
		}
		c.StrokeLines(l.style, c.ClipLinesXY(pts)...)
	}
}

// markLines draws each mark as a dashed vertical line with its label at
// the top, alternating rows so that close marks do not overprint.
type markLines struct{ marks []Mark }

func (m markLines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	line := draw.LineStyle{Color: colorMark, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(3), vg.Points(3)}}
	sty := text.Style{Color: colorMark, Font: font.From(plot.DefaultFont, noteSize), Handler: p.TextHandler,
		XAlign: draw.XLeft, YAlign: draw.YTop}
	for i, mk := range m.marks {
		v := unix(mk.At)
		if v < p.X.Min || v > p.X.Max {
			continue
		}
		x := trX(v)
		c.StrokeLine2(line, x, c.Min.Y, x, c.Max.Y)
		row := vg.Length(i%2) * vg.Points(noteSize+3)
		at := vg.Point{X: x + vg.Points(3), Y: c.Max.Y - vg.Points(2) - row}
		w := sty.Width(mk.Label)
		if at.X+w > c.Max.X {
			// Near the right edge the label goes left of its line.
			at.X = x - vg.Points(3) - w
		}
		c.FillText(sty, at, mk.Label)
	}
}

// timeTicks puts ticks on round clock times in loc, about six across the
// window, labelled with the time of day (and the day when the window spans
// more than one).
type timeTicks struct{ loc *time.Location }

var tickSteps = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

func (t timeTicks) Ticks(lo, hi float64) []plot.Tick {
	from := time.Unix(0, int64(lo*1e9)).In(t.loc)
	to := time.Unix(0, int64(hi*1e9)).In(t.loc)
	width := to.Sub(from)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if width/s <= 7 {
			step = s
			break
		}
	}
	format := "15:04"
	switch {
	case step >= 24*time.Hour:
		format = "Mon 2 Jan"
	case width > 24*time.Hour:
		format = "Mon 15:04"
	}
	var ticks []plot.Tick
	for at := roundUp(from, step); !at.After(to); at = next(at, step) {
		ticks = append(ticks, plot.Tick{Value: unix(at), Label: at.Format(format)})
	}
	return ticks
}

// roundUp is the first multiple of step at or after t, counted from local
// midnight so ticks fall on the clock times people read.
func roundUp(t time.Time, step time.Duration) time.Time {
	y, m, d := t.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	if step >= 24*time.Hour {
		if midnight.Equal(t) {
			return t
		}
		return midnight.AddDate(0, 0, 1)
	}
	n := (t.Sub(midnight) + step - 1) / step
	return midnight.Add(n * step)
}

func next(t time.Time, step time.Duration) time.Time {
	if step >= 24*time.Hour {
		y, m, d := t.Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
	}
	return t.Add(step)
}
