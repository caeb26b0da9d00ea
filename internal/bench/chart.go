package bench

import (
	"bytes"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Charts are drawn with gonum/plot, the library the evaluation radar charts
// use too (one way to draw): CDFs as step lines, scatter plots, and grouped
// bars with whiskers, each rendered as SVG and PNG.

type chartKind int

const (
	kindCDF chartKind = iota
	kindScatter
	kindBars
)

type series struct {
	Name string
	X, Y []float64 // CDF: X holds the sample, Y unused; bars: Y per category
	Hi   []float64 // bars: whisker tops (P90), parallel to Y
}

type chart struct {
	Title, XLabel, YLabel string
	Kind                  chartKind
	XLog                  bool
	Categories            []string // bars
	Series                []series
	Note                  string
}

var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

// chartW and chartH are the rendered size.
var chartW, chartH = 9 * vg.Inch, 5 * vg.Inch

// plot builds the gonum plot of the chart.
func (c *chart) plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = c.Title
	if c.Note != "" {
		p.Title.Text += " (" + trimLabel(c.Note, 60) + ")"
	}
	p.X.Label.Text, p.Y.Label.Text = c.XLabel, c.YLabel
	p.Legend.Top = true
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = color.Gray{Y: 225}, color.Gray{Y: 225}
	p.Add(grid)
	empty := true
	for si, s := range c.Series {
		col := palette[si%len(palette)]
		switch c.Kind {
		case kindCDF:
			if len(s.X) == 0 {
				continue
			}
			v := append([]float64(nil), s.X...)
			sort.Float64s(v)
			n := float64(len(v))
			pts := plotter.XYs{{X: c.xval(v[0]), Y: 0}}
			for i, x := range v {
				pts = append(pts, plotter.XY{X: c.xval(x), Y: float64(i) / n}, plotter.XY{X: c.xval(x), Y: float64(i+1) / n})
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = col, vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(trimLabel(s.Name, 28), l)
			empty = false
		case kindScatter:
			if len(s.X) == 0 {
				continue
			}
			pts := make(plotter.XYs, len(s.X))
			for i := range s.X {
				pts[i] = plotter.XY{X: c.xval(s.X[i]), Y: s.Y[i]}
			}
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle.Color, sc.GlyphStyle.Radius = col, vg.Points(2.5)
			p.Add(sc)
			p.Legend.Add(trimLabel(s.Name, 28), sc)
			empty = false
		case kindBars:
			// Bars are rectangles in data coordinates: category i spans
			// [i-0.4, i+0.4], split between the series.
			bw := 0.8 / float64(len(c.Series))
			var thumb plot.Thumbnailer
			for i := range s.Y {
				if math.IsNaN(s.Y[i]) {
					continue
				}
				x0 := float64(i) - 0.4 + float64(si)*bw
				poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x0 + bw, Y: 0}, {X: x0 + bw, Y: s.Y[i]}, {X: x0, Y: s.Y[i]}})
				if err != nil {
					return nil, err
				}
				poly.Color, poly.LineStyle.Width = col, 0
				p.Add(poly)
				thumb = poly
				empty = false
				if i < len(s.Hi) && !math.IsNaN(s.Hi[i]) {
					w, err := plotter.NewLine(plotter.XYs{{X: x0 + bw/2, Y: s.Y[i]}, {X: x0 + bw/2, Y: s.Hi[i]}})
					if err != nil {
						return nil, err
					}
					p.Add(w)
				}
			}
			if thumb != nil {
				p.Legend.Add(trimLabel(s.Name, 28), thumb)
			}
		}
	}
	switch {
	case empty:
		p.Title.Text += ": no data"
	case c.Kind == kindBars:
		p.NominalX(c.Categories...)
		p.X.Min, p.X.Max = -0.6, float64(len(c.Categories))-0.4
		p.Y.Min = 0
	case c.Kind == kindCDF:
		p.Y.Min, p.Y.Max = 0, 1
	}
	if c.XLog && !empty && c.Kind != kindBars {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	return p, nil
}

// xval keeps values positive on a log axis.
func (c *chart) xval(x float64) float64 {
	if c.XLog {
		return math.Max(x, 1e-6)
	}
	return x
}

func (c *chart) render(format string) ([]byte, error) {
	p, err := c.plot()
	if err != nil {
		return nil, err
	}
	w, err := p.WriterTo(chartW, chartH, format)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SVG renders the chart as an SVG document without the XML declaration, so
// that it can also be inlined in report.html.
func (c *chart) SVG() []byte {
	b, err := c.render("svg")
	if err != nil {
		return []byte("<svg xmlns=\"http://www.w3.org/2000/svg\"><text x=\"10\" y=\"20\">chart error</text></svg>")
	}
	if i := bytes.Index(b, []byte("<svg")); i > 0 {
		b = b[i:]
	}
	return b
}

// PNG renders the chart as a PNG image.
func (c *chart) PNG() ([]byte, error) { return c.render("png") }

// trimLabel shortens s to n bytes by cutting its middle, since labels such
// as model/profile differ at the end.
func trimLabel(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head := n / 3
	return s[:head] + "~" + s[len(s)-(n-head-1):]
}
