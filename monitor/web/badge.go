package web

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Badge colours, those of shields.io.
const (
	colorBrightGreen = "#4c1"
	colorGreen       = "#97ca00"
	colorYellowGreen = "#a4a61d"
	colorYellow      = "#dfb317"
	colorOrange      = "#fe7d37"
	colorRed         = "#e05d44"
	colorBlue        = "#007ec6"
	colorGrey        = "#9f9f9f"
	colorLabel       = "#555"
)

// maxBadgeLabelRunes bounds the status badge's label, the monitor's name.
const maxBadgeLabelRunes = 40

// badgeCSP: a badge is an image; opened on its own it may run nothing and
// load nothing.
const badgeCSP = "default-src 'none'; sandbox"

// badge serves /badge/{name}/status.svg, /badge/{name}/uptime/{window}.svg
// and /badge/{name}/response/{window}.svg. The kind is read from the end
// of the path, so a name may hold slashes.
func (s *server) badge(w http.ResponseWriter, r *http.Request) {
	segs, ok := pathTail(r, 1) // badge
	n := len(segs)
	var kind, win, name string
	switch {
	case !ok:
	case n >= 2 && segs[n-1] == "status.svg":
		kind, name = "status", strings.Join(segs[:n-1], "/")
	case n >= 3 && (segs[n-2] == "uptime" || segs[n-2] == "response") && strings.HasSuffix(segs[n-1], ".svg"):
		kind, win, name = segs[n-2], strings.TrimSuffix(segs[n-1], ".svg"), strings.Join(segs[:n-2], "/")
	}
	if kind == "" || name == "" {
		s.badgeNotFound(w, "no such badge; try /badge/NAME/status.svg, /badge/NAME/uptime/30d.svg or /badge/NAME/response/24h.svg")
		return
	}
	var window history.Window
	if kind != "status" {
		var err error
		if window, err = history.ParseWindow(win); err != nil {
			s.badgeNotFound(w, "no such badge: "+err.Error())
			return
		}
	}
	all, ok := s.monitors(w, r, textError)
	if !ok {
		return
	}
	m := findMonitor(all, name)
	if m == nil {
		s.badgeNotFound(w, fmt.Sprintf("no monitor named %q", name))
		return
	}
	var b badgeText
	switch kind {
	case "status":
		b = statusBadge(m)
	default:
		rep, err := s.badgeReport(r, name, window)
		if err != nil {
			s.log.Error("http: reading history for a badge failed", "monitor", name, "window", window, "err", err)
			textError(w, http.StatusInternalServerError, s.redact("cannot read history: "+err.Error()))
			return
		}
		if kind == "uptime" {
			b = uptimeBadge(rep, window)
		} else {
			b = responseBadge(rep, window)
		}
	}
	b.title = name + ": " + b.label + " " + b.message
	if kind == "status" {
		b.title = name + ": " + b.message
	}
	b.label, b.title = s.redact(b.label), s.redact(b.title)
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	// Short, so a README shows an outage within a minute; shared caches
	// only for the public listener, the private one may sit behind a login.
	if s.public {
		h.Set("Cache-Control", "public, max-age=60")
	} else {
		h.Set("Cache-Control", "max-age=60")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", badgeCSP)
	_, _ = w.Write(b.svg())
}

// badgeNotFound answers 404 with msg, or on the public listener with the
// word every other missing thing gets there: a hidden monitor's badge is
// told from no monitor's by nothing.
func (s *server) badgeNotFound(w http.ResponseWriter, msg string) {
	if s.public {
		msg = publicNotFound
	}
	textError(w, http.StatusNotFound, msg)
}

// badgeReport is the monitor's report, or nil when there is no history of
// it (none kept, or none yet): the badge then says "no data" rather than
// break the image in a README.
func (s *server) badgeReport(r *http.Request, name string, win history.Window) (*history.Report, error) {
	hs, ok := s.src.(HistorySource)
	if !ok {
		return nil, nil
	}
	rep, err := hs.History(r.Context(), name, win)
	if errors.Is(err, ErrUnknownMonitor) {
		return nil, nil
	}
	return rep, err
}

// badgeText is what one badge says; title is its accessible name.
type badgeText struct {
	label, message, color, title string
}

// statusBadge: the name, and green up, orange failing / recovering /
// degraded (an incident seen from some regions only), yellow degraded
// while up (an open performance incident: slow, but answering), red down,
// grey unknown (not checked yet, or not being checked). "degraded" is the
// word the badge already had for a target that works for some and not
// for others; a slow one is that too, in a milder colour, as the page's
// amber says. An expiring certificate changes nothing here: the badge is
// the service's state, and certificates are not public (publicWarnings).
func statusBadge(m *MonitorView) badgeText {
	b := badgeText{label: truncate(m.Name, maxBadgeLabelRunes)}
	switch m.State {
	case incident.StateUp:
		b.message, b.color = "up", colorBrightGreen
		if hasPerformance(m) {
			b.message, b.color = "degraded", colorYellow
		}
	case incident.StateFailing, incident.StateRecovering:
		b.message, b.color = string(m.State), colorOrange
	case incident.StateDown:
		b.message, b.color = "down", colorRed
		if inc := m.OpenIncident; inc != nil && inc.Scope == result.ScopePartial {
			b.message, b.color = "degraded", colorOrange
		}
	default:
		b.message, b.color = "unknown", colorGrey
	}
	if m.Problem != "" {
		b.message, b.color = "unknown", colorGrey
	}
	return b
}

// uptimeBadge: "uptime 30d | 99.95%", the percentage cut (never rounded up,
// so only a perfect window reads 100%) to two decimals. Colours:
// >= 99.9% bright green, >= 99% green, >= 98% yellow-green, >= 95% yellow,
// >= 90% orange, below red; grey "no data" when nothing was measured.
func uptimeBadge(rep *history.Report, win history.Window) badgeText {
	b := badgeText{label: "uptime " + string(win), message: "no data", color: colorGrey}
	if rep == nil || rep.UptimeRatio == nil || math.IsNaN(*rep.UptimeRatio) {
		return b
	}
	ratio := min(max(*rep.UptimeRatio, 0), 1)
	pct := math.Floor(ratio*10000+1e-9) / 100
	b.message = strconv.FormatFloat(pct, 'f', -1, 64) + "%"
	switch {
	case ratio >= 0.999:
		b.color = colorBrightGreen
	case ratio >= 0.99:
		b.color = colorGreen
	case ratio >= 0.98:
		b.color = colorYellowGreen
	case ratio >= 0.95:
		b.color = colorYellow
	case ratio >= 0.90:
		b.color = colorOrange
	default:
		b.color = colorRed
	}
	return b
}

// responseBadge: "response 24h | 182 ms", in blue. The rollups keep
// percentiles per step and vantage, and percentiles of parts do not merge
// into a percentile of the whole, so the figure is the mean of the latency
// points' p50 of total, each weighted by its checks: a typical response
// time over the window and every vantage, not a true median.
func responseBadge(rep *history.Report, win history.Window) badgeText {
	b := badgeText{label: "response " + string(win), message: "no data", color: colorGrey}
	if rep == nil {
		return b
	}
	var sum, checks float64
	for _, p := range rep.Latency {
		if p.Checks == 0 || p.Total.P50 <= 0 || math.IsNaN(p.Total.P50) || math.IsInf(p.Total.P50, 0) {
			continue
		}
		sum += p.Total.P50 * float64(p.Checks)
		checks += float64(p.Checks)
	}
	if checks == 0 {
		return b
	}
	b.message, b.color = formatMs(sum/checks), colorBlue
	return b
}

// svg draws b in the shields.io "flat" style: a grey label and a coloured
// message, each with its text over a faint shadow. Text is laid out at 10x
// scale, as shields does, for sub-pixel positions in integers.
func (b badgeText) svg() []byte {
	// Measured as drawn: what XML cannot hold is drawn as U+FFFD.
	b.label, b.message, b.title = xmlChars(b.label), xmlChars(b.message), xmlChars(b.title)
	lw := int(math.Ceil(textWidth(b.label))) + 10
	mw := int(math.Ceil(textWidth(b.message))) + 10
	total := lw + mw
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="`, total)
	escapeXML(&buf, b.title)
	buf.WriteString(`"><title>`)
	escapeXML(&buf, b.title)
	buf.WriteString(`</title>`)
	buf.WriteString(`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	fmt.Fprintf(&buf, `<clipPath id="r"><rect width="%d" height="20" rx="3" fill="#fff"/></clipPath>`, total)
	fmt.Fprintf(&buf, `<g clip-path="url(#r)"><rect width="%d" height="20" fill="%s"/><rect x="%d" width="%d" height="20" fill="%s"/><rect width="%d" height="20" fill="url(#s)"/></g>`,
		lw, colorLabel, lw, mw, b.color, total)
	buf.WriteString(`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">`)
	writeText(&buf, b.label, lw*5+10, lw-10)
	writeText(&buf, b.message, lw*10+mw*5-10, mw-10)
	buf.WriteString(`</g></svg>`)
	return buf.Bytes()
}

// writeText writes s centred on x (10x scale), squeezed or stretched to
// width px so it fits whatever the reader's font: once as shadow, once
// in white.
func writeText(buf *bytes.Buffer, s string, x, width int) {
	fmt.Fprintf(buf, `<text aria-hidden="true" x="%d" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="%d">`, x, width*10)
	escapeXML(buf, s)
	fmt.Fprintf(buf, `</text><text x="%d" y="140" transform="scale(.1)" textLength="%d">`, x, width*10)
	escapeXML(buf, s)
	buf.WriteString(`</text>`)
}

// escapeXML escapes s for XML text and attributes; characters XML cannot
// hold at all (NUL, most controls, bad UTF-8) become U+FFFD.
func escapeXML(buf *bytes.Buffer, s string) {
	_ = xml.EscapeText(buf, []byte(s)) // a bytes.Buffer does not fail
}

// xmlChars replaces what XML 1.0 cannot hold, even escaped (NUL, most
// controls, bad UTF-8), with U+FFFD, as xml.EscapeText does.
func xmlChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return utf8.RuneError
	}, s)
}

// verdana11 is the advance width of the printable ASCII characters (from
// the space) in Verdana at 11 px, in tenths of a pixel.
var verdana11 = [95]uint8{
	39, 43, 51, 90, 70, 120, 80, 30, 50, 50, 70, 90, 40, 48, 40, 50, // space ! " # $ % & ' ( ) * + , - . /
	70, 70, 70, 70, 70, 70, 70, 70, 70, 70, 50, 50, 90, 90, 90, 60, // 0-9 : ; < = > ?
	110, 75, 75, 77, 85, 70, 63, 85, 83, 47, 50, 76, 63, 94, 82, 87, // @ A-O
	66, 87, 77, 75, 68, 81, 75, 109, 75, 68, 75, 50, 50, 50, 90, 70, // P-Z [ \ ] ^ _
	70, 66, 69, 57, 69, 66, 39, 69, 70, 30, 38, 65, 30, 107, 70, 67, // ` a-o
	69, 69, 47, 57, 43, 70, 65, 90, 65, 65, 57, 70, 50, 70, 90, // p-z { | } ~
}

// textWidth estimates s's width in px in Verdana 11 px: the table for
// ASCII, 7 px for other Latin-ish letters, 11 px (an em) for the rest.
func textWidth(s string) float64 {
	var tenths int
	for _, r := range s {
		switch {
		case r >= ' ' && r <= '~':
			tenths += int(verdana11[r-' '])
		case r < 0x250:
			tenths += 70
		default:
			tenths += 110
		}
	}
	return float64(tenths) / 10
}
