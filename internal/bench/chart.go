package bench

import (
	"bytes"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/png"
	"math"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// A small chart renderer: one drawing routine over a canvas interface, with
// an SVG canvas (text elements) and a PNG canvas (rasterised lines, discs,
// rectangles and a bitmap font). Enough for CDFs, scatter plots and bars.

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

const (
	chartW, chartH                     = 900, 500
	marginL, marginR, marginT, marginB = 72, 240, 48, 56
)

type anchor int

const (
	anchorStart anchor = iota
	anchorMiddle
	anchorEnd
)

type canvas interface {
	line(x1, y1, x2, y2 float64, c color.RGBA, w float64)
	rect(x, y, w, h float64, c color.RGBA)
	disc(x, y, r float64, c color.RGBA)
	text(x, y float64, s string, a anchor, c color.RGBA)
}

var (
	black = color.RGBA{0, 0, 0, 255}
	grey  = color.RGBA{225, 225, 225, 255}
	dark  = color.RGBA{90, 90, 90, 255}
)

type axis struct {
	lo, hi float64
	log    bool
	px0    float64 // pixel of lo
	px1    float64 // pixel of hi
}

func (a axis) pos(v float64) float64 {
	if a.log {
		v, lo, hi := math.Log10(math.Max(v, 1e-12)), math.Log10(a.lo), math.Log10(a.hi)
		return a.px0 + (v-lo)/(hi-lo)*(a.px1-a.px0)
	}
	return a.px0 + (v-a.lo)/(a.hi-a.lo)*(a.px1-a.px0)
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

func logTicks(lo, hi float64) []float64 {
	var out []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo*0.999 && v <= hi*1.001 {
				out = append(out, v)
			}
		}
	}
	return out
}

func fmtTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 10000:
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// draw renders c onto cv.
func (c *chart) draw(cv canvas) {
	cv.rect(0, 0, chartW, chartH, color.RGBA{255, 255, 255, 255})
	cv.text(chartW/2, 22, c.Title, anchorMiddle, black)
	x0, x1 := float64(marginL), float64(chartW-marginR)
	y0, y1 := float64(chartH-marginB), float64(marginT)

	var xa, ya axis
	switch c.Kind {
	case kindCDF, kindScatter:
		var xs, ys []float64
		for _, s := range c.Series {
			xs = append(xs, s.X...)
			ys = append(ys, s.Y...)
		}
		if len(xs) == 0 {
			cv.text(chartW/2, chartH/2, "no data", anchorMiddle, dark)
			return
		}
		xlo, xhi := minMax(xs)
		if c.XLog {
			xlo, xhi = math.Max(xlo, 1e-6)/1.2, xhi*1.2
		} else {
			xlo, xhi = math.Min(0, xlo), xhi*1.05
		}
		if xhi <= xlo {
			xhi = xlo + 1
		}
		xa = axis{xlo, xhi, c.XLog, x0, x1}
		if c.Kind == kindCDF {
			ya = axis{0, 1, false, y0, y1}
		} else {
			_, yhi := minMax(ys)
			ya = axis{0, math.Max(yhi*1.1, 1e-3), false, y0, y1}
		}
	case kindBars:
		var ys []float64
		for _, s := range c.Series {
			ys = append(ys, s.Y...)
			ys = append(ys, s.Hi...)
		}
		_, yhi := minMax(append(ys, 0))
		ya = axis{0, math.Max(yhi*1.1, 1e-3), false, y0, y1}
	}

	// Grid and y ticks.
	for _, t := range niceTicks(ya.lo, ya.hi, 5) {
		if t > ya.hi {
			continue
		}
		y := ya.pos(t)
		cv.line(x0, y, x1, y, grey, 1)
		cv.text(x0-6, y+4, fmtTick(t), anchorEnd, dark)
	}
	// X ticks.
	if c.Kind == kindBars {
		n := float64(len(c.Categories))
		for i, cat := range c.Categories {
			cx := x0 + (float64(i)+0.5)*(x1-x0)/n
			cv.text(cx, y0+18, cat, anchorMiddle, dark)
		}
	} else {
		ticks := niceTicks(xa.lo, xa.hi, 6)
		if xa.log {
			ticks = logTicks(xa.lo, xa.hi)
		}
		for _, t := range ticks {
			if t < xa.lo || t > xa.hi {
				continue
			}
			x := xa.pos(t)
			cv.line(x, y0, x, y1, grey, 1)
			cv.text(x, y0+18, fmtTick(t), anchorMiddle, dark)
		}
	}
	cv.line(x0, y0, x1, y0, black, 1)
	cv.line(x0, y0, x0, y1, black, 1)
	cv.text((x0+x1)/2, chartH-14, c.XLabel, anchorMiddle, black)
	cv.text(x0-60, y1-14, c.YLabel, anchorStart, black)

	// Data.
	for si, s := range c.Series {
		col := palette[si%len(palette)]
		switch c.Kind {
		case kindCDF:
			v := append([]float64(nil), s.X...)
			sort.Float64s(v)
			n := float64(len(v))
			px, py := xa.pos(v[0]), ya.pos(0)
			for i, x := range v {
				nx, ny := xa.pos(x), ya.pos(float64(i+1)/n)
				cv.line(px, py, nx, py, col, 2)
				cv.line(nx, py, nx, ny, col, 2)
				px, py = nx, ny
			}
		case kindScatter:
			for i := range s.X {
				cv.disc(xa.pos(s.X[i]), ya.pos(s.Y[i]), 3, col)
			}
		case kindBars:
			n := float64(len(c.Categories))
			slot := (x1 - x0) / n
			bw := slot * 0.8 / float64(len(c.Series))
			for i := range s.Y {
				if math.IsNaN(s.Y[i]) {
					continue
				}
				bx := x0 + float64(i)*slot + slot*0.1 + float64(si)*bw
				top := ya.pos(s.Y[i])
				cv.rect(bx+1, top, bw-2, y0-top, col)
				if i < len(s.Hi) && !math.IsNaN(s.Hi[i]) {
					hy := ya.pos(s.Hi[i])
					cv.line(bx+bw/2, top, bx+bw/2, hy, black, 1)
					cv.line(bx+bw/4, hy, bx+3*bw/4, hy, black, 1)
				}
			}
		}
		// Legend.
		ly := float64(marginT + 10 + si*20)
		cv.rect(x1+16, ly-9, 12, 12, col)
		cv.text(x1+34, ly+1, trimLabel(s.Name, 28), anchorStart, black)
	}
	if c.Note != "" {
		cv.text(x1+16, float64(marginT+20+len(c.Series)*20), trimLabel(c.Note, 30), anchorStart, dark)
	}
}

// trimLabel shortens s to n bytes by cutting its middle, since labels such
// as model/profile differ at the end.
func trimLabel(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head := n / 3
	return s[:head] + "~" + s[len(s)-(n-head-1):]
}

func minMax(v []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		if math.IsNaN(x) {
			continue
		}
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	return lo, hi
}

// svgCanvas writes SVG elements.
type svgCanvas struct{ b bytes.Buffer }

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

func (s *svgCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, w float64) {
	fmt.Fprintf(&s.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%g"/>`+"\n", x1, y1, x2, y2, hex(c), w)
}
func (s *svgCanvas) rect(x, y, w, h float64, c color.RGBA) {
	fmt.Fprintf(&s.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, w, h, hex(c))
}
func (s *svgCanvas) disc(x, y, r float64, c color.RGBA) {
	fmt.Fprintf(&s.b, `<circle cx="%.1f" cy="%.1f" r="%g" fill="%s" fill-opacity="0.75"/>`+"\n", x, y, r, hex(c))
}
func (s *svgCanvas) text(x, y float64, t string, a anchor, c color.RGBA) {
	anc := [...]string{"start", "middle", "end"}[a]
	fmt.Fprintf(&s.b, `<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s">%s</text>`+"\n", x, y, anc, hex(c), html.EscapeString(t))
}

// SVG renders the chart as a standalone SVG document.
func (c *chart) SVG() []byte {
	var s svgCanvas
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	c.draw(&s)
	s.b.WriteString("</svg>\n")
	return s.b.Bytes()
}

// pngCanvas rasterises onto an RGBA image.
type pngCanvas struct{ img *image.RGBA }

func (p *pngCanvas) blend(x, y int, c color.RGBA, a float64) {
	if !image.Pt(x, y).In(p.img.Rect) || a <= 0 {
		return
	}
	a = math.Min(a, 1)
	o := p.img.RGBAAt(x, y)
	mix := func(f, b uint8) uint8 { return uint8(float64(f)*a + float64(b)*(1-a) + 0.5) }
	p.img.SetRGBA(x, y, color.RGBA{mix(c.R, o.R), mix(c.G, o.G), mix(c.B, o.B), 255})
}

// line draws a segment of width w by coverage of each pixel centre's
// distance to the segment (cheap anti-aliasing).
func (p *pngCanvas) line(x1, y1, x2, y2 float64, c color.RGBA, w float64) {
	minX, maxX := int(math.Floor(math.Min(x1, x2)-w)), int(math.Ceil(math.Max(x1, x2)+w))
	minY, maxY := int(math.Floor(math.Min(y1, y2)-w)), int(math.Ceil(math.Max(y1, y2)+w))
	dx, dy := x2-x1, y2-y1
	l2 := dx*dx + dy*dy
	for y := minY; y <= maxY; y++ {
		for x := minX; x <= maxX; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			t := 0.0
			if l2 > 0 {
				t = math.Max(0, math.Min(1, ((px-x1)*dx+(py-y1)*dy)/l2))
			}
			ex, ey := x1+t*dx-px, y1+t*dy-py
			d := math.Sqrt(ex*ex + ey*ey)
			p.blend(x, y, c, w/2+0.5-d)
		}
	}
}

func (p *pngCanvas) rect(x, y, w, h float64, c color.RGBA) {
	for yy := int(math.Round(y)); yy < int(math.Round(y+h)); yy++ {
		for xx := int(math.Round(x)); xx < int(math.Round(x+w)); xx++ {
			p.blend(xx, yy, c, 1)
		}
	}
}

func (p *pngCanvas) disc(x, y, r float64, c color.RGBA) {
	for yy := int(y - r - 1); yy <= int(y+r+1); yy++ {
		for xx := int(x - r - 1); xx <= int(x+r+1); xx++ {
			d := math.Hypot(float64(xx)+0.5-x, float64(yy)+0.5-y)
			p.blend(xx, yy, c, 0.75*math.Min(1, r+0.5-d))
		}
	}
}

func (p *pngCanvas) text(x, y float64, s string, a anchor, c color.RGBA) {
	face := basicfont.Face7x13
	w := font.MeasureString(face, s).Round()
	switch a {
	case anchorMiddle:
		x -= float64(w) / 2
	case anchorEnd:
		x -= float64(w)
	}
	d := font.Drawer{Dst: p.img, Src: image.NewUniform(c), Face: face,
		Dot: fixed.P(int(math.Round(x)), int(math.Round(y)))}
	d.DrawString(asciiOnly(s))
}

// asciiOnly replaces characters the bitmap font lacks.
func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 32 || r > 126 {
			return '?'
		}
		return r
	}, s)
}

// PNG renders the chart as a PNG image.
func (c *chart) PNG() ([]byte, error) {
	p := &pngCanvas{img: image.NewRGBA(image.Rect(0, 0, chartW, chartH))}
	c.draw(p)
	var b bytes.Buffer
	if err := png.Encode(&b, p.img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
