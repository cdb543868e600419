// Package chart renders slabot's pictures as PNG: one metric of one queue
// over a breach episode (Render) and breach minutes per queue per day for
// the weekly report (Bars). It uses gonum.org/v1/plot, pure Go, so a
// replica needs no system libraries, and it imports no other slabot
// package: callers convert alerts, episodes and history into its types.
//
// Charts are drawn for a phone screen: 800×400 pixels with large fonts.
// Rendering is deterministic: the same input gives the same bytes.
package chart

import (
	"bytes"
	"fmt"
	"image/color"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Pixel size of every chart, and the resolution that maps gonum's points
// onto it (96 dots per inch: 800 px = 600 pt).
const (
	Width  = 800
	Height = 400
	dpi    = 96
)

// Colours. The data line, threshold and clear levels differ in hue and
// lightness so they stay apart for colour-blind readers and in tests that
// sample pixels.
var (
	colorData      = color.RGBA{R: 0x1f, G: 0x4e, B: 0xb4, A: 0xff} // blue
	colorThreshold = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff} // red
	colorClear     = color.RGBA{R: 0x2c, G: 0x9c, B: 0x3c, A: 0xff} // green
	colorBreach    = color.RGBA{R: 0xfd, G: 0xdc, B: 0xd8, A: 0xff} // pale red
	colorMark      = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff} // grey
	colorGrid      = color.RGBA{R: 0xe4, G: 0xe4, B: 0xe4, A: 0xff}
)

// barColors are the bar chart's queue colours, in row order (ten rows).
var barColors = [MaxBarRows]color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, {R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, {R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff}, {R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
}

// Font sizes in points at 96 dpi (1 pt = 1.33 px): large enough to read on
// a phone, where Slack shows the image about 350 px wide.
const (
	titleSize = 17
	labelSize = 14
	tickSize  = 13
	noteSize  = 12
)

// newPlot returns a plot with slabot's fonts and a light grid-free frame.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = titleSize
	p.Title.TextStyle.Font.Weight = xfont.WeightBold
	p.Title.Padding = vg.Points(6)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font.Size = labelSize
		ax.Tick.Label.Font.Size = tickSize
		ax.Padding = vg.Points(2)
	}
	p.Legend.TextStyle.Font.Size = noteSize
	return p
}

// encode draws p on an 800×400 canvas and returns it as PNG.
func encode(p *plot.Plot) ([]byte, error) {
	c := canvas()
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("chart: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

func canvas() *vgimg.Canvas {
	w := vg.Length(Width) * vg.Inch / dpi
	h := vg.Length(Height) * vg.Inch / dpi
	return vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
}
