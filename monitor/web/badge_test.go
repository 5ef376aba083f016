package web

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// svgBadge is what a test reads back from a badge.
type svgBadge struct {
	Width     int    `xml:"width,attr"`
	AriaLabel string `xml:"aria-label,attr"`
	Title     string `xml:"title"`
	Rects     []struct {
		X     int    `xml:"x,attr"`
		Width int    `xml:"width,attr"`
		Fill  string `xml:"fill,attr"`
	} `xml:"g>rect"`
	Texts []struct {
		Hidden string `xml:"aria-hidden,attr"`
		Text   string `xml:",chardata"`
	} `xml:"g>text"`
}

// label and message are the visible texts (not the shadows).
func (b svgBadge) label() string   { return b.visible(0) }
func (b svgBadge) message() string { return b.visible(1) }
func (b svgBadge) color() string {
	if len(b.Rects) < 2 {
		return ""
	}
	return b.Rects[1].Fill
}

func (b svgBadge) visible(i int) string {
	var vs []string
	for _, t := range b.Texts {
		if t.Hidden == "" {
			vs = append(vs, t.Text)
		}
	}
	if i < len(vs) {
		return vs[i]
	}
	return ""
}

// decodeBadge checks the response is a well-formed SVG badge, served as
// one, and reads it.
func decodeBadge(t *testing.T, rec *httptest.ResponseRecorder) svgBadge {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	h := rec.Header()
	if h.Get("Content-Type") != "image/svg+xml" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("headers %v", h)
	}
	if cc := h.Get("Cache-Control"); !strings.Contains(cc, "max-age=60") || strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control %q", cc)
	}
	// Every token, not only the parts svgBadge reads, must be XML.
	d := xml.NewDecoder(strings.NewReader(rec.Body.String()))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("badge is not XML: %v\n%s", err, rec.Body)
		}
	}
	var b svgBadge
	if err := xml.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("decoding badge: %v", err)
	}
	if len(b.Rects) != 3 || len(b.Texts) != 4 {
		t.Fatalf("badge has %d rects and %d texts, want 3 and 4:\n%s", len(b.Rects), len(b.Texts), rec.Body)
	}
	// The two parts tile the badge, each wide enough for its text.
	lw, mw := b.Rects[0].Width, b.Rects[1].Width
	if b.Rects[1].X != lw || lw+mw != b.Width || b.Rects[2].Width != b.Width {
		t.Errorf("rects %+v do not tile width %d", b.Rects, b.Width)
	}
	if lw < int(textWidth(b.label()))+10 || mw < int(textWidth(b.message()))+10 {
		t.Errorf("%q | %q does not fit %d | %d", b.label(), b.message(), lw, mw)
	}
	return b
}

func TestStatusBadge(t *testing.T) {
	mons := []MonitorView{
		{Name: "up", State: incident.StateUp},
		{Name: "failing", State: incident.StateFailing},
		{Name: "recovering", State: incident.StateRecovering},
		{Name: "down", State: incident.StateDown, OpenIncident: &incident.Incident{Scope: result.ScopeEveryone}},
		{Name: "partial", State: incident.StateDown, OpenIncident: &incident.Incident{Scope: result.ScopePartial, Regions: []string{"eu"}}},
		{Name: "new"},
		{Name: "broken", State: incident.StateUp, Problem: "state does not decode"},
		{Name: "a/b", State: incident.StateUp},
		{Name: "slow", State: incident.StateUp, Warnings: []incident.Incident{{Kind: incident.KindPerformance, Class: result.ClassDegraded, Detail: result.PhaseTTFB}}},
		{Name: "expiring", State: incident.StateUp, Warnings: []incident.Incident{{Kind: incident.KindCertificate, Class: result.ClassCertExpiring, Severity: incident.SeverityCritical}}},
		{Name: "slow-down", State: incident.StateDown, OpenIncident: &incident.Incident{Scope: result.ScopeEveryone},
			Warnings: []incident.Incident{{Kind: incident.KindPerformance, Class: result.ClassDegraded}}},
	}
	h := newTestHandler(&fakeSource{mons: mons}, nil, nil)
	for _, tt := range []struct {
		path, label, message, color string
	}{
		{"/badge/up/status.svg", "up", "up", colorBrightGreen},
		{"/badge/failing/status.svg", "failing", "failing", colorOrange},
		{"/badge/recovering/status.svg", "recovering", "recovering", colorOrange},
		{"/badge/down/status.svg", "down", "down", colorRed},
		{"/badge/partial/status.svg", "partial", "degraded", colorOrange},
		{"/badge/new/status.svg", "new", "unknown", colorGrey},
		{"/badge/broken/status.svg", "broken", "unknown", colorGrey},
		{"/badge/a/b/status.svg", "a/b", "up", colorBrightGreen},
		{"/badge/a%2Fb/status.svg", "a/b", "up", colorBrightGreen},
		// Up and slow: degraded, yellow; an expiring certificate is
		// still up; down wins over slow.
		{"/badge/slow/status.svg", "slow", "degraded", colorYellow},
		{"/badge/expiring/status.svg", "expiring", "up", colorBrightGreen},
		{"/badge/slow-down/status.svg", "slow-down", "down", colorRed},
	} {
		b := decodeBadge(t, serve(h, http.MethodGet, tt.path))
		if b.label() != tt.label || b.message() != tt.message || b.color() != tt.color {
			t.Errorf("%s: %q | %q in %s, want %q | %q in %s", tt.path, b.label(), b.message(), b.color(), tt.label, tt.message, tt.color)
		}
		if want := tt.label + ": " + tt.message; b.Title != want || b.AriaLabel != want {
			t.Errorf("%s: title %q, aria-label %q, want %q", tt.path, b.Title, b.AriaLabel, want)
		}
	}
	if rec := serve(h, http.MethodHead, "/badge/up/status.svg"); rec.Code != 200 || rec.Header().Get("Content-Type") != "image/svg+xml" {
		t.Errorf("HEAD: %d %v", rec.Code, rec.Header())
	}
}

func TestUptimeBadge(t *testing.T) {
	src := &fakeHistory{fakeSource: fakeSource{mons: []MonitorView{{Name: "shop", State: incident.StateUp}}}}
	h := newTestHandler(src, nil, nil)
	for _, tt := range []struct {
		ratio          *float64
		message, color string
	}{
		{ratio(1), "100%", colorBrightGreen},
		{ratio(0.99999), "99.99%", colorBrightGreen}, // cut, not rounded up to 100%
		{ratio(0.9995), "99.95%", colorBrightGreen},
		{ratio(0.999), "99.9%", colorBrightGreen},
		{ratio(0.9989), "99.89%", colorGreen},
		{ratio(0.99), "99%", colorGreen},
		{ratio(0.985), "98.5%", colorYellowGreen},
		{ratio(0.96), "96%", colorYellow},
		{ratio(0.91), "91%", colorOrange},
		{ratio(0.5), "50%", colorRed},
		{ratio(0), "0%", colorRed},
		{nil, "no data", colorGrey},
	} {
		src.reports = map[string]*history.Report{"shop": {Monitor: "shop", UptimeRatio: tt.ratio}}
		b := decodeBadge(t, serve(h, http.MethodGet, "/badge/shop/uptime/30d.svg"))
		if b.label() != "uptime 30d" || b.message() != tt.message || b.color() != tt.color {
			r := "nil"
			if tt.ratio != nil {
				r = strconv.FormatFloat(*tt.ratio, 'g', -1, 64)
			}
			t.Errorf("ratio %s: %q | %q in %s, want %q in %s", r, b.label(), b.message(), b.color(), tt.message, tt.color)
		}
	}
	if w := src.askedWindows(); w[len(w)-1] != history.Window30d {
		t.Errorf("asked %v", w)
	}
	b := decodeBadge(t, serve(h, http.MethodGet, "/badge/shop/uptime/7d.svg"))
	if b.Title != "shop: uptime 7d no data" {
		t.Errorf("title %q", b.Title)
	}

	// No history yet, or none kept at all: "no data", not a broken image.
	src.reports = map[string]*history.Report{}
	if b := decodeBadge(t, serve(h, http.MethodGet, "/badge/shop/uptime/24h.svg")); b.message() != "no data" {
		t.Errorf("no history yet: %q", b.message())
	}
	plain := newTestHandler(&fakeSource{mons: []MonitorView{{Name: "shop"}}}, nil, nil)
	if b := decodeBadge(t, serve(plain, http.MethodGet, "/badge/shop/uptime/24h.svg")); b.message() != "no data" || b.color() != colorGrey {
		t.Errorf("no history kept: %q", b.message())
	}
}

func TestResponseBadge(t *testing.T) {
	pt := func(vantage string, checks uint64, p50 float64) history.LatencyPoint {
		return history.LatencyPoint{At: result.TimeOf(testNow), Vantage: vantage, Checks: checks, Total: history.PhaseSummary{P50: p50, P95: 2 * p50, Max: 3 * p50}}
	}
	src := &fakeHistory{fakeSource: fakeSource{mons: []MonitorView{{Name: "shop", State: incident.StateUp}}}}
	h := newTestHandler(src, nil, nil)
	for _, tt := range []struct {
		name    string
		points  []history.LatencyPoint
		message string
	}{
		// (100*3 + 200*1) / 4; the point without checks does not count.
		{"weighted", []history.LatencyPoint{pt("local", 3, 100), pt("eu", 1, 200), pt("us", 0, 999)}, "125 ms"},
		{"small", []history.LatencyPoint{pt("local", 2, 0.84)}, "0.8 ms"},
		{"slow", []history.LatencyPoint{pt("local", 2, 1250)}, "1.25 s"},
		{"only failures without timings", []history.LatencyPoint{pt("local", 5, 0)}, "no data"},
		{"none", nil, "no data"},
	} {
		src.reports = map[string]*history.Report{"shop": {Monitor: "shop", Latency: tt.points}}
		b := decodeBadge(t, serve(h, http.MethodGet, "/badge/shop/response/24h.svg"))
		if b.label() != "response 24h" || b.message() != tt.message {
			t.Errorf("%s: %q | %q, want %q", tt.name, b.label(), b.message(), tt.message)
		}
		if want := colorBlue; tt.message == "no data" && b.color() != colorGrey || tt.message != "no data" && b.color() != want {
			t.Errorf("%s: colour %s", tt.name, b.color())
		}
	}
}

// A hostile name is text in every place it lands, and the badge stays XML,
// even with characters XML cannot hold.
func TestBadgeHostileName(t *testing.T) {
	name := `<script>alert(1)</script>&"' ]]><!-- ` + "\x00\x1b\xff"
	src := &fakeHistory{
		fakeSource: fakeSource{mons: []MonitorView{{Name: name, State: incident.StateDown}}},
		reports:    map[string]*history.Report{name: {Monitor: name, UptimeRatio: ratio(0.5)}},
	}
	h := newTestHandler(src, nil, nil)
	esc := url.PathEscape(name)
	for _, p := range []string{"/badge/" + esc + "/status.svg", "/badge/" + esc + "/uptime/90d.svg", "/badge/" + esc + "/response/7d.svg"} {
		rec := serve(h, http.MethodGet, p)
		b := decodeBadge(t, rec)
		body := rec.Body.String()
		for _, raw := range []string{"<script", "&\"", "]]>", "<!--", "\x00", "\x1b"} {
			if strings.Contains(body, raw) {
				t.Errorf("%s holds %q raw:\n%s", p, raw, body)
			}
		}
		if !strings.HasPrefix(b.Title, `<script>alert(1)</script>&"' ]]><!-- `) {
			t.Errorf("%s: title %q does not read the name back", p, b.Title)
		}
	}
}

func TestBadgeNotFound(t *testing.T) {
	src := &fakeHistory{fakeSource: fakeSource{mons: []MonitorView{{Name: "shop", State: incident.StateUp}}}}
	h := newTestHandler(src, nil, nil)
	for _, p := range []string{
		"/badge/nosuch/status.svg",
		"/badge/nosuch/uptime/30d.svg",
		"/badge/shop/uptime/2h.svg",
		"/badge/shop/response/30D.svg",
		"/badge/shop/uptime/30d.png",
		"/badge/shop/latency/30d.svg",
		"/badge/shop",
		"/badge/status.svg",
		"/badge/shop%2Fstatus.svg", // one segment: a name, no kind
		"/badge/",
	} {
		rec := serve(h, http.MethodGet, p)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d %s", p, rec.Code, rec.Body)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
	}
	if rec := serve(h, http.MethodGet, "/badge/nosuch/status.svg"); rec.Body.String() != "no monitor named \"nosuch\"\n" {
		t.Errorf("body %q", rec.Body)
	}
	if rec := serve(h, http.MethodPost, "/badge/shop/status.svg"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}

	src.historyErr = errors.New("database is locked")
	rec := serve(h, http.MethodGet, "/badge/shop/uptime/30d.svg")
	if rec.Code != 500 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("store error: %d %v", rec.Code, rec.Header())
	}
}

// Wider text makes a wider part; the table covers every printable ASCII
// character.
func TestBadgeWidth(t *testing.T) {
	for i, w := range verdana11 {
		if w == 0 {
			t.Errorf("no width for %q", rune(' '+i))
		}
	}
	if a, b := textWidth("iiii"), textWidth("WWWW"); a >= b {
		t.Errorf("iiii %v >= WWWW %v", a, b)
	}
	if got := textWidth("up"); got < 10 || got > 16 {
		t.Errorf("textWidth(up) = %v", got)
	}
	short := badgeText{label: "a", message: "up", color: colorGreen}
	long := badgeText{label: strings.Repeat("a", 30), message: "up", color: colorGreen}
	ws := func(b badgeText) int {
		var v svgBadge
		if err := xml.Unmarshal(b.svg(), &v); err != nil {
			t.Fatal(err)
		}
		return v.Width
	}
	if ws(short) >= ws(long) {
		t.Errorf("widths %d, %d", ws(short), ws(long))
	}
	// A long name is cut, so the badge stays a badge.
	mons := []MonitorView{{Name: strings.Repeat("n", 500), State: incident.StateUp}}
	b := decodeBadge(t, serve(newTestHandler(&fakeSource{mons: mons}, nil, nil), http.MethodGet, "/badge/"+strings.Repeat("n", 500)+"/status.svg"))
	if n := len([]rune(b.label())); n != maxBadgeLabelRunes {
		t.Errorf("label of %d runes", n)
	}
	if !strings.HasPrefix(b.Title, strings.Repeat("n", 500)) {
		t.Error("the title lost the full name")
	}
}
