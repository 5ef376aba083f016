package web

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// The chart's coordinate system (its viewBox): the plot area and, below
// the time axis, the bar of the latest point's phases. The SVG scales to
// the width it is given; the text size is set by the style sheet, larger
// on a narrow screen so that it stays readable when the chart shrinks.
const (
	chartW, chartH    = 720, 296
	plotL, plotR      = 70, 708
	plotT, plotB      = 36, 200
	xLabelY           = 230
	barLabelY         = 258
	barY, barH        = 268, 24
	maxLabelFont      = 26 // the largest text size of the style sheet, in chart units
	approxCharPerFont = 0.6
)

// chartGeom is the layout the template draws with.
type chartGeom struct {
	W, H, L, R, T, B, XLabelY, YLabelX, BarLabelY, BarY, BarH, BarTextY int
}

var geom = chartGeom{
	W: chartW, H: chartH, L: plotL, R: plotR, T: plotT, B: plotB,
	XLabelY: xLabelY, YLabelX: plotL - 6, BarLabelY: barLabelY, BarY: barY, BarH: barH, BarTextY: barY + barH/2,
}

// chartView is one vantage's response-time chart, every coordinate
// already a string in chart units.
type chartView struct {
	G       chartGeom
	ID      string // "chart-0": never made from a name
	Vantage string
	// Unit is the value axis' unit ("ms" or "s"); the ticks are numbers.
	Unit  string
	Title string // the SVG's accessible name
	Desc  string // and its description, the numbers in words

	// Band is p50 to p95 of the total time, Line the p50, one polygon and
	// polyline per run of consecutive points; Dots are runs of one.
	Bands, Lines []string
	Dots         []point
	YTicks       []tick
	XTicks       []tick

	// Bar is the latest point's phases (p50 of each), stacked; BarLabel
	// heads it, Legend names every phase with its value in the page text.
	Bar      []segment
	BarLabel string
	Legend   []legendItem
}

type point struct{ X, Y string }

type tick struct {
	Pos    string // y of a value tick, x of a time tick
	Label  string
	Anchor string // text-anchor of a time tick: the last one ends at the edge
}

type segment struct {
	Class string // dns, connect, tls, ttfb
	X, W  string
	// TextX centres Label in the segment; Label is "" when it does not fit.
	TextX, Label string
	Title        string
}

type legendItem struct{ Class, Text string }

// ff formats a chart coordinate: one decimal is finer than a pixel.
func ff(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// buildCharts draws one chart per vantage from a report's latency points,
// the local vantage first, then the others by name. from and to are the
// time axis; monitor names the chart in its accessible title.
func buildCharts(monitor string, pts []history.LatencyPoint, from, to time.Time, step time.Duration, windowWords string) []chartView {
	byVantage := map[string][]history.LatencyPoint{}
	var names []string
	for _, p := range pts {
		if _, ok := byVantage[p.Vantage]; !ok {
			names = append(names, p.Vantage)
		}
		byVantage[p.Vantage] = append(byVantage[p.Vantage], p)
	}
	slices.SortFunc(names, func(a, b string) int {
		if (a == result.LocalVantage) != (b == result.LocalVantage) {
			if a == result.LocalVantage {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	charts := make([]chartView, 0, len(names))
	for i, name := range names {
		charts = append(charts, buildChart(i, monitor, name, byVantage[name], from, to, step, windowWords))
	}
	return charts
}

func buildChart(i int, monitor, vantageName string, pts []history.LatencyPoint, from, to time.Time, step time.Duration, windowWords string) chartView {
	slices.SortFunc(pts, func(a, b history.LatencyPoint) int { return a.At.Compare(b.At.Time) })
	c := chartView{G: geom, ID: "chart-" + strconv.Itoa(i), Vantage: vantageName}
	c.Title = "Response time of " + monitor + " from " + vantageName + " over the " + windowWords

	// Only points with checks have times; a step with none is a gap.
	var ys []float64
	kept := pts[:0:0]
	for _, p := range pts {
		if p.Checks == 0 || !finite(p.Total.P50) || !finite(p.Total.P95) {
			continue
		}
		kept = append(kept, p)
		ys = append(ys, p.Total.P95, p.Total.P50)
	}
	if from.IsZero() || !to.After(from) {
		if len(kept) > 0 {
			from, to = kept[0].At.Time, kept[len(kept)-1].At.Add(step)
		}
		if !to.After(from) {
			to = from.Add(time.Hour)
		}
	}
	top, yStep := niceScale(slices.Max(append(ys, 1)))
	c.Unit = "ms"
	div := 1.0
	if top >= 2000 {
		c.Unit, div = "s", 1000
	}
	for k := 0.0; k <= steps(top, yStep); k++ {
		v := k * yStep
		c.YTicks = append(c.YTicks, tick{Pos: ff(yOf(v, top)), Label: strconv.FormatFloat(v/div, 'f', -1, 64)})
	}
	c.XTicks = timeTicks(from, to)

	xOf := func(t time.Time) float64 {
		f := float64(t.Sub(from)) / float64(to.Sub(from))
		return plotL + math.Max(0, math.Min(1, f))*(plotR-plotL)
	}
	// A run breaks where a step is missing.
	var run []history.LatencyPoint
	flush := func() {
		switch len(run) {
		case 0:
			return
		case 1:
			p := run[0]
			c.Dots = append(c.Dots, point{X: ff(xOf(p.At.Time)), Y: ff(yOf(p.Total.P50, top))})
		default:
			var band, back, line []byte
			for j, p := range run {
				x := ff(xOf(p.At.Time))
				band = append(band, x+","+ff(yOf(p.Total.P95, top))+" "...)
				line = append(line, x+","+ff(yOf(p.Total.P50, top))+" "...)
				q := run[len(run)-1-j]
				back = append(back, ff(xOf(q.At.Time))+","+ff(yOf(q.Total.P50, top))+" "...)
			}
			c.Bands = append(c.Bands, string(append(band, back...)))
			c.Lines = append(c.Lines, string(line))
		}
		run = run[:0]
	}
	for j, p := range kept {
		if j > 0 && p.At.Sub(kept[j-1].At.Time) > step+step/2 {
			flush()
		}
		run = append(run, p)
	}
	flush()

	if len(kept) == 0 {
		c.Desc = "No response times were recorded."
		return c
	}
	lo, hi, peak := math.Inf(1), 0.0, 0.0
	var checks, failures uint64
	for _, p := range kept {
		lo, hi, peak = math.Min(lo, p.Total.P50), math.Max(hi, p.Total.P50), math.Max(peak, p.Total.P95)
		checks += p.Checks
		failures += p.Failures
	}
	last := kept[len(kept)-1]
	c.Desc = "p50 of the total time from " + msText(lo) + " to " + msText(hi) + ", p95 up to " + msText(peak) +
		", over " + strconv.FormatUint(checks, 10) + " checks (" + strconv.FormatUint(failures, 10) + " failed). Latest, at " +
		last.At.UTC().Format("15:04 UTC") + ": p50 " + msText(last.Total.P50) + ", p95 " + msText(last.Total.P95) + "."
	c.addPhases(last)
	return c
}

// addPhases stacks the latest point's phases (their p50) across the plot's
// width, in the order they happen.
func (c *chartView) addPhases(last history.LatencyPoint) {
	phases := []struct {
		class, name string
		ms          float64
	}{
		{"dns", "dns", last.DNS.P50},
		{"connect", "connect", last.Connect.P50},
		{"tls", "tls", last.TLS.P50},
		{"ttfb", "first byte", last.TTFB.P50},
	}
	sum := 0.0
	for _, p := range phases {
		if finite(p.ms) && p.ms > 0 {
			sum += p.ms
		}
	}
	if sum <= 0 {
		return
	}
	c.BarLabel = "Latest (" + last.At.UTC().Format("15:04 UTC") + "), p50 of each phase: " + msText(sum) + " in all"
	x := float64(plotL)
	for _, p := range phases {
		if !finite(p.ms) || p.ms <= 0 {
			continue
		}
		w := p.ms / sum * (plotR - plotL)
		text := p.name + " " + msText(p.ms)
		seg := segment{Class: p.class, X: ff(x), W: ff(w), TextX: ff(x + w/2), Title: text}
		if w >= float64(len(text))*maxLabelFont*approxCharPerFont+8 {
			seg.Label = text
		}
		c.Bar = append(c.Bar, seg)
		c.Legend = append(c.Legend, legendItem{Class: p.class, Text: text})
		x += w
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }

// msText is formatMs that never says nothing.
func msText(ms float64) string {
	if s := formatMs(ms); s != "" {
		return s
	}
	return "0 ms"
}

func yOf(v, top float64) float64 {
	return plotB - math.Max(0, math.Min(1, v/top))*(plotB-plotT)
}

// niceScale is the top of the value axis and its tick step: the smallest
// step of 1, 2, 2.5 or 5 times a power of ten that reaches max in at most
// five steps.
func niceScale(max float64) (top, step float64) {
	e := math.Pow(10, math.Floor(math.Log10(max/5)))
	for _, f := range []float64{1, 2, 2.5, 5, 10, 20, 25, 50} {
		if step = f * e; steps(max, step) <= 5 {
			break
		}
	}
	return steps(max, step) * step, step
}

// steps is how many steps reach max; a rounding error of the division
// does not add one.
func steps(max, step float64) float64 {
	return math.Ceil(max/step - 1e-9)
}

// timeTicks labels the time axis at round UTC times: every 6 hours over a
// day or so, every day over a week, every week beyond.
func timeTicks(from, to time.Time) []tick {
	span := to.Sub(from)
	every, layout := 6*time.Hour, "15:04"
	switch {
	case span > 10*24*time.Hour:
		every, layout = 7*24*time.Hour, "Jan 2"
	case span > 36*time.Hour:
		every, layout = 24*time.Hour, "Jan 2"
	}
	var ticks []tick
	for t := from.UTC().Truncate(every); !t.After(to); t = t.Add(every) {
		if t.Before(from) {
			continue
		}
		x := plotL + float64(t.Sub(from))/float64(span)*(plotR-plotL)
		// The labels at either end stay inside the chart.
		anchor := "middle"
		switch {
		case x > plotR-40:
			anchor = "end"
		case x < plotL+40:
			anchor = "start"
		}
		ticks = append(ticks, tick{Pos: ff(x), Label: t.Format(layout), Anchor: anchor})
	}
	return ticks
}
