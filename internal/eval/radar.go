package eval

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Series is one model's values on a radar chart's axes.
type Series struct {
	Name   string
	Values []float64 // NaN: no value on that axis (drawn at the centre)
}

// RadarChart draws one polygon per series over the axes, radius clamped to
// [0,1] (every FMEval score is in that range), and returns it as PNG and
// SVG. Higher-is-better and lower-is-better metrics belong on separate
// charts, as the seed's comparison does.
func RadarChart(title string, axes []string, series []Series) (pngData, svgData []byte, err error) {
	if len(axes) < 3 {
		return nil, nil, fmt.Errorf("radar chart %q needs at least 3 axes, got %d", title, len(axes))
	}
	p := plot.New()
	p.Title.Text = title
	p.HideAxes()
	p.X.Min, p.X.Max = -2.2, 2.2
	p.Y.Min, p.Y.Max = -1.3, 1.3
	angle := func(i int) float64 { return math.Pi/2 - 2*math.Pi*float64(i)/float64(len(axes)) }
	grey := color.Gray{Y: 200}
	for _, r := range []float64{0.25, 0.5, 0.75, 1} {
		ring := make(plotter.XYs, len(axes)+1)
		for i := range ring {
			a := angle(i % len(axes))
			ring[i] = plotter.XY{X: r * math.Cos(a), Y: r * math.Sin(a)}
		}
		l, err := plotter.NewLine(ring)
		if err != nil {
			return nil, nil, err
		}
		l.Color = grey
		p.Add(l)
	}
	var labels plotter.XYLabels
	for i, name := range axes {
		a := angle(i)
		spoke, err := plotter.NewLine(plotter.XYs{{}, {X: math.Cos(a), Y: math.Sin(a)}})
		if err != nil {
			return nil, nil, err
		}
		spoke.Color = grey
		p.Add(spoke)
		labels.XYs = append(labels.XYs, plotter.XY{X: 1.12 * math.Cos(a), Y: 1.1 * math.Sin(a)})
		labels.Labels = append(labels.Labels, name)
	}
	for k, s := range series {
		if len(s.Values) != len(axes) {
			return nil, nil, fmt.Errorf("radar chart %q: series %q has %d values for %d axes", title, s.Name, len(s.Values), len(axes))
		}
		pts := make(plotter.XYs, len(axes))
		for i, v := range s.Values {
			if math.IsNaN(v) {
				v = 0
			}
			v = math.Min(1, math.Max(0, v))
			a := angle(i)
			pts[i] = plotter.XY{X: v * math.Cos(a), Y: v * math.Sin(a)}
		}
		poly, err := plotter.NewPolygon(pts)
		if err != nil {
			return nil, nil, err
		}
		c := plotutil.Color(k)
		r, g, b, _ := c.RGBA()
		poly.Color = color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 60}
		poly.LineStyle.Color = c
		poly.LineStyle.Width = vg.Points(2)
		p.Add(poly)
		p.Legend.Add(s.Name, poly)
	}
	lab, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, nil, err
	}
	for i := range lab.TextStyle {
		switch c := math.Cos(angle(i)); {
		case c > 0.3:
			lab.TextStyle[i].XAlign = -0.1
		case c < -0.3:
			lab.TextStyle[i].XAlign = -0.9
		default:
			lab.TextStyle[i].XAlign = -0.5
		}
	}
	p.Add(lab)
	p.Legend.Top = true
	for _, f := range []struct {
		ext string
		dst *[]byte
	}{{"png", &pngData}, {"svg", &svgData}} {
		w, err := p.WriterTo(7*vg.Inch, 6*vg.Inch, f.ext)
		if err != nil {
			return nil, nil, err
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			return nil, nil, err
		}
		*f.dst = buf.Bytes()
	}
	return pngData, svgData, nil
}

// lowerIsBetter reports whether smaller values of a score are better.
func lowerIsBetter(score string) bool {
	switch score {
	case ScoreWordErrorRate, ScoreBERTScoreDissimilarity, ScoreLogProbabilityDifference:
		return true
	}
	return len(score) > len(DeltaPrefix) && score[:len(DeltaPrefix)] == DeltaPrefix ||
		score == ScoreToxicity || score == "severe_toxicity" || score == "obscene" || score == "identity_attack" ||
		score == "insult" || score == "insults" || score == "threat" || score == "sexual_explicit" ||
		score == "hate" || score == "sexual" || score == "violence" || score == "misconduct"
}

// CompareCharts builds the comparison charts of several models' results:
// "radar_higher_is_better" and "radar_lower_is_better" (each only when it
// has at least 3 axes), as PNG and SVG, keyed by file name. Axes are
// "<eval_name>.<score>"; a model without a metric gets NaN there.
func CompareCharts(models []string, results map[string][]Result) (map[string][]byte, error) {
	var hi, lo []string
	seen := map[string]bool{}
	for _, m := range models {
		for _, r := range results[m] {
			for _, s := range r.Output.DatasetScores {
				k := r.Output.EvalName + "." + s.Name
				if seen[k] {
					continue
				}
				seen[k] = true
				if lowerIsBetter(s.Name) {
					lo = append(lo, k)
				} else {
					hi = append(hi, k)
				}
			}
		}
	}
	out := map[string][]byte{}
	for _, c := range []struct {
		name, title string
		axes        []string
	}{{"radar_higher_is_better", "Higher is better", hi}, {"radar_lower_is_better", "Lower is better", lo}} {
		if len(c.axes) < 3 {
			continue
		}
		var series []Series
		for _, m := range models {
			vals := map[string]float64{}
			for _, r := range results[m] {
				for _, s := range r.Output.DatasetScores {
					vals[r.Output.EvalName+"."+s.Name] = s.Value
				}
			}
			v := make([]float64, len(c.axes))
			for i, a := range c.axes {
				x, ok := vals[a]
				if !ok {
					x = math.NaN()
				}
				v[i] = x
			}
			series = append(series, Series{Name: m, Values: v})
		}
		png, svg, err := RadarChart(c.title, c.axes, series)
		if err != nil {
			return nil, err
		}
		out[c.name+".png"], out[c.name+".svg"] = png, svg
	}
	return out, nil
}
