package main

import (
	"fmt"
	"math"
	"strings"
)

// plotPanel is one rollout drawn in a panel.
type plotPanel struct {
	Title  string
	Points []Point
	Waves  []float64
	End    float64 // seconds
}

const (
	plotW, panelH = 960, 260
	marginL       = 64
	marginR       = 150
	marginT       = 34
	marginB       = 40
)

// PlotSVG draws healthy capacity and node count over time, one panel per
// rollout on a shared time axis, with wave starts, the allowed minimum
// capacity and the maximum node count as dashed lines.
func PlotSVG(title string, panels []plotPanel, minAllowed, maxAllowed int) string {
	var b strings.Builder
	h := len(panels)*panelH + 46
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", plotW, h, plotW, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, esc(title))
	// One legend for all panels, under the title.
	lx := float64(marginL)
	for _, l := range []struct{ color, label, dash string }{
		{"#59a14f", "healthy capacity (not draining)", ""}, {"#f28e2b", "nodes existing", ""},
		{"#b07aa1", "wave start", ""}, {"#4e79a7", "min capacity allowed", "5,4"}, {"#e15759", "max nodes allowed", "5,4"},
	} {
		fmt.Fprintf(&b, `<line x1="%.0f" y1="36" x2="%.0f" y2="36" stroke="%s" stroke-width="2" stroke-dasharray="%s"/><text x="%.0f" y="40" font-size="11">%s</text>`+"\n",
			lx, lx+16, l.color, l.dash, lx+20, esc(l.label))
		lx += 30 + 6.4*float64(len(l.label))
	}
	end := 0.0
	ymax := float64(maxAllowed)
	for _, p := range panels {
		end = max(end, p.End)
		for _, pt := range p.Points {
			ymax = max(ymax, float64(pt.Nodes))
		}
	}
	if end <= 0 {
		end = 1
	}
	// y axis from a little under the floor, so the interesting band is tall.
	ymin := math.Max(0, float64(minAllowed)-0.35*float64(maxAllowed-minAllowed+1)-1)
	ymin = math.Floor(ymin)
	ymax = math.Ceil(ymax + 0.08*(ymax-ymin) + 0.5)
	for i, p := range panels {
		top := 46 + i*panelH
		panel(&b, p, top, end, ymin, ymax, minAllowed, maxAllowed)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func panel(b *strings.Builder, p plotPanel, top int, end, ymin, ymax float64, minAllowed, maxAllowed int) {
	x0, x1 := float64(marginL), float64(plotW-marginR)
	y0, y1 := float64(top+marginT), float64(top+panelH-marginB)
	sx := func(t float64) float64 { return x0 + (x1-x0)*t/end }
	sy := func(v float64) float64 { return y1 - (y1-y0)*(v-ymin)/(ymax-ymin) }

	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="13" font-weight="bold">%s</text>`+"\n", x0, y0-10, esc(p.Title))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fafafa" stroke="#999"/>`+"\n", x0, y0, x1-x0, y1-y0)
	// Time ticks in minutes.
	step := niceStep(end/60, 8)
	for m := 0.0; m*60 <= end+1e-9; m += step {
		x := sx(m * 60)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`, x, y0, x, y1)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">%s</text>`+"\n", x, y1+15, trimFloat(m))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">minutes since the rollout started</text>`+"\n", (x0+x1)/2, y1+31)
	// Node-count ticks.
	vstep := niceStep(ymax-ymin, 5)
	for v := math.Ceil(ymin/vstep) * vstep; v <= ymax; v += vstep {
		y := sy(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`, x0, y, x1, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" fill="#444">%s</text>`+"\n", x0-6, y+4, trimFloat(v))
	}
	// Wave starts: thin lines; labelled when there are few.
	for i, w := range p.Waves {
		x := sx(w)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#b07aa1" stroke-width="0.8" opacity="0.55"/>`, x, y0, x, y1)
		if len(p.Waves) <= 12 {
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="10" fill="#b07aa1">w%d</text>`, x+2, y0+11, i+1)
		}
	}
	b.WriteString("\n")
	// Budget lines.
	for _, l := range []struct {
		v     int
		color string
		label string
	}{{maxAllowed, "#e15759", fmt.Sprintf("max nodes %d", maxAllowed)}, {minAllowed, "#4e79a7", fmt.Sprintf("min healthy %d", minAllowed)}} {
		y := sy(float64(l.v))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="5,4"/>`, x0, y, x1, y, l.color)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="%s">%s</text>`+"\n", x1+6, y+4, l.color, esc(l.label))
	}
	// Series as step lines, thinned to at most two points per pixel column.
	for _, s := range []struct {
		get   func(Point) int
		color string
	}{{func(p Point) int { return p.Nodes }, "#f28e2b"}, {func(p Point) int { return p.Capacity }, "#59a14f"}} {
		fmt.Fprintf(b, `<path fill="none" stroke="%s" stroke-width="1.6" d="%s"/>`+"\n", s.color, stepPath(p.Points, s.get, sx, sy, p.End))
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333" stroke-width="1.2"/><text x="%.1f" y="%.1f" text-anchor="end" font-size="11" fill="#333">end</text>`+"\n",
		sx(p.End), y0, sx(p.End), y1, sx(p.End)-3, y1-4)
}

// stepPath draws v over time as steps. Many points per pixel column are
// reduced to the column's first, lowest, highest and last value, so a dip
// that lasts an instant still shows.
func stepPath(pts []Point, get func(Point) int, sx, sy func(float64) float64, end float64) string {
	var b strings.Builder
	if len(pts) == 0 {
		return ""
	}
	type col struct{ first, lo, hi, last int }
	var (
		cols []col
		xs   []float64
		cur  = -1.0
	)
	for _, p := range pts {
		x := math.Round(sx(p.T))
		v := get(p)
		if x != cur {
			cols = append(cols, col{v, v, v, v})
			xs = append(xs, x)
			cur = x
			continue
		}
		c := &cols[len(cols)-1]
		c.lo, c.hi, c.last = min(c.lo, v), max(c.hi, v), v
	}
	prev := cols[0].first
	fmt.Fprintf(&b, "M%.0f,%.1f", xs[0], sy(float64(prev)))
	for i, c := range cols {
		x := xs[i]
		fmt.Fprintf(&b, " H%.0f", x)
		for _, v := range []int{c.first, c.lo, c.hi, c.last} {
			if v != prev {
				fmt.Fprintf(&b, " V%.1f", sy(float64(v)))
				prev = v
			}
		}
	}
	fmt.Fprintf(&b, " H%.0f", sx(end))
	return b.String()
}

func niceStep(span float64, ticks int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(ticks)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

func fmtDuration(sec float64) string {
	r := int(math.Round(sec))
	m, s := r/60, r%60
	if m == 0 {
		return fmt.Sprintf("%ds", s)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
