package chart

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// MaxBarRows is how many rows (queues) a bar chart shows; the colours run
// out after that and the legend stops being readable on a phone.
const MaxBarRows = 10

// BarChart is breach minutes per row (a queue, or a queue and media type)
// per day: one stacked bar a day, one colour a row, rows in the order given
// (the caller puts the worst first and keeps at most MaxBarRows).
type BarChart struct {
	Title string
	// Days label the bars, e.g. "Mon 1".
	Days []string
	Rows []BarRow
}

// BarRow is one row's breach minutes, one value per day of BarChart.Days.
type BarRow struct {
	Label   string
	Minutes []float64
}

// Bars draws the bar chart as an 800×400 PNG.
func Bars(b BarChart) ([]byte, error) {
	p, err := barsPlot(b)
	if err != nil {
		return nil, err
	}
	return encode(p)
}

func barsPlot(b BarChart) (*plot.Plot, error) {
	switch {
	case len(b.Days) == 0:
		return nil, errors.New("chart: a bar chart needs at least one day")
	case len(b.Rows) > MaxBarRows:
		return nil, fmt.Errorf("chart: %d rows, at most %d", len(b.Rows), MaxBarRows)
	}
	for _, r := range b.Rows {
		if len(r.Minutes) != len(b.Days) {
			return nil, fmt.Errorf("chart: row %q has %d values for %d days", r.Label, len(r.Minutes), len(b.Days))
		}
		for _, v := range r.Minutes {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("chart: row %q has a value %v that is not a number of minutes", r.Label, v)
			}
		}
	}
	p := newPlot(b.Title)
	p.Y.Label.Text = "minutes in breach"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.ThumbnailWidth = vg.Points(14)
	p.Legend.Padding = vg.Points(3)
	p.NominalX(b.Days...)
	p.Add(grid{})

	// A bar is as wide as the data area allows: 600 pt less the axis,
	// shared by the days, with a gap between bars.
	width := vg.Points(math.Max(4, math.Min(40, 480/float64(len(b.Days))*0.7)))
	var below *plotter.BarChart
	top := 0.0
	totals := make([]float64, len(b.Days))
	for i, r := range b.Rows {
		bc, err := plotter.NewBarChart(plotter.Values(r.Minutes), width)
		if err != nil {
			return nil, fmt.Errorf("chart: bars of %q: %w", r.Label, err)
		}
		bc.Color = barColors[i]
		bc.LineStyle = draw.LineStyle{}
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		p.Add(bc)
		p.Legend.Add(r.Label, bc)
		for d, v := range r.Minutes {
			totals[d] += v
			top = math.Max(top, totals[d])
		}
	}
	if top == 0 {
		top = 1
	}
	// Headroom for the legend, which sits over the top right corner: a
	// legend row takes about 5.5 % of the data area's height, so the
	// bars keep below the legend's share (the latest day, on the right,
	// is often the tallest).
	legend := math.Min(0.7, 0.04+0.055*float64(len(b.Rows)))
	p.Y.Max = top / (1 - legend)
	return p, nil
}
