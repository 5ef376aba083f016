package web

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

var (
	// wbrRE: a line-break opportunity inside a URL is not a space.
	wbrRE   = regexp.MustCompile(`<wbr>`)
	styleRE = regexp.MustCompile(`(?s)<style>.*?</style>`)
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
	punctRE = regexp.MustCompile(` ([,;.:])`)
)

// pageText is the page as a text browser would show it, roughly.
func pageText(body string) string {
	body = wbrRE.ReplaceAllString(styleRE.ReplaceAllString(body, ""), "")
	t := spaceRE.ReplaceAllString(html.UnescapeString(tagRE.ReplaceAllString(body, " ")), " ")
	return punctRE.ReplaceAllString(t, "$1")
}

func TestStatusPage(t *testing.T) {
	src := &fakeSource{mons: sampleMonitors()}
	rec := serve(newTestHandler(src, nil, nil), http.MethodGet, "/")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if src.monitorCalls() != 1 {
		t.Errorf("Monitors called %d times, want 1", src.monitorCalls())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	body := rec.Body.String()
	text := pageText(body)

	for _, want := range []string{
		"4 monitors, 1 down, 1 failing, 1 flapping",
		// shop: down, flapping, with an incident
		"shop prod eu https://shop.example.test/healthz DOWN FLAPPING 3 skipped 502 from nginx (behind cloudflare), upstream refused bad_gateway · nginx · 502 123 ms 1m 15s ago since 5m ago bad gateway, critical",
		"blog https://blog.example.test/ FAILING connect timeout, connect dial tcp: i/o timeout connect_timeout 5.00 s 3s ago none",
		"new https://new.example.test/ UNKNOWN no result yet never none",
		"api prod https://api.example.test/healthz UP up (200) ok · 200 42 ms 12s ago none",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q\ntext: %s", want, text)
		}
	}
	if !strings.Contains(body, `<meta http-equiv="refresh" content="30">`) {
		t.Errorf("no refresh")
	}
	if !strings.Contains(body, `<a href="monitors/shop">shop</a>`) {
		t.Errorf("no link to the monitor's detail page")
	}

	// Worst first: down, failing, not yet checked, up.
	last := -1
	for _, name := range []string{"shop", "blog", "new", "api"} {
		i := strings.Index(body, ">"+name+"</a>")
		if i < 0 || i < last {
			t.Errorf("%s at %d, after the previous row at %d", name, i, last)
		}
		last = i
	}
}

func TestStatusPageFilter(t *testing.T) {
	rec := serve(newTestHandler(&fakeSource{mons: sampleMonitors()}, nil, nil), http.MethodGet, "/?state=down,failing")
	text := pageText(rec.Body.String())
	if rec.Code != 200 || !strings.Contains(text, "Showing 2 of 4: state down or failing. Show all") {
		t.Fatalf("%d: %s", rec.Code, text)
	}
	if !strings.Contains(text, "shop") || !strings.Contains(text, "blog") || strings.Contains(text, "api.example.test") {
		t.Errorf("filter selected the wrong rows: %s", text)
	}
	rec = serve(newTestHandler(&fakeSource{mons: sampleMonitors()}, nil, nil), http.MethodGet, "/?tag=nosuch")
	if text := pageText(rec.Body.String()); !strings.Contains(text, "No monitor matches.") {
		t.Errorf("empty filter result: %s", text)
	}
}

func TestStatusPageEmpty(t *testing.T) {
	rec := serve(newTestHandler(&fakeSource{}, nil, nil), http.MethodGet, "/")
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	text := pageText(rec.Body.String())
	if !strings.Contains(text, "0 monitors, 0 down, 0 failing") || !strings.Contains(text, "No monitors are configured.") {
		t.Errorf("text: %s", text)
	}
	if strings.Contains(rec.Body.String(), "<table") {
		t.Errorf("empty page has a table")
	}
}

// TestStatusPageEscapes feeds markup through every field that reaches the
// page and checks, with a real HTML parser, that it arrives as text only.
func TestStatusPageEscapes(t *testing.T) {
	const (
		script = `<script>alert('pwned')</script>`
		img    = `<img src=x onerror=alert(1)>`
	)
	mons := []MonitorView{{
		Name:     `evil` + img,
		URL:      `javascript:alert(document.cookie)`,
		Tags:     []string{`"><script>alert(2)</script>`},
		State:    incident.State(`down"><script>alert(3)</script>`),
		Flapping: true,
		LastResult: &result.Outcome{Result: result.Result{
			Class:   result.Class(`x` + script),
			Gateway: `<b onmouseover=alert(4)>gw</b>`,
			Via:     []string{script},
			Detail:  `"><svg onload=alert(5)>`,
			Error:   "read: " + script,
		}},
		OpenIncident: &incident.Incident{Class: result.Class(script), Severity: incident.Severity(img)},
	}, {
		Name: "quoted", URL: `https://ok.example.test/?q="><script>alert(6)</script>`, State: incident.StateUp,
	}}
	rec := serve(newTestHandler(&fakeSource{mons: mons}, nil, nil), http.MethodGet, "/")
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "img", "svg", "b", "iframe":
				t.Errorf("hostile element <%s> reached the page", n.Data)
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s> has event handler %s=%q", n.Data, a.Key, a.Val)
				}
				if a.Key == "href" && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
					t.Errorf("javascript: link %q", a.Val)
				}
			}
		}
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	// The hostile strings are still shown, as text, so an operator can see
	// what the target sent.
	for _, want := range []string{"read: " + script, "evil" + img, `<b onmouseover=alert(4)>gw</b>`} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("page text lacks %q", want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := testNow
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "never"},
		{now.Add(time.Minute), "just now"},
		{now.Add(-400 * time.Millisecond), "just now"},
		{now.Add(-12 * time.Second), "12s ago"},
		{now.Add(-60 * time.Second), "1m ago"},
		{now.Add(-(4*time.Minute + 12*time.Second)), "4m 12s ago"},
		{now.Add(-(3*time.Hour + 5*time.Minute + 59*time.Second)), "3h 5m ago"},
		{now.Add(-(50 * time.Hour)), "2d 2h ago"},
		{now.Add(-(72 * time.Hour)), "3d ago"},
	}
	for _, tt := range tests {
		if got := ago(now, tt.t); got != tt.want {
			t.Errorf("ago(%v) = %q, want %q", now.Sub(tt.t), got, tt.want)
		}
	}
}

func TestFormatMs(t *testing.T) {
	tests := []struct {
		ms   float64
		want string
	}{
		{0, ""},
		{-3, ""},
		{0.84, "0.8 ms"},
		{42.4, "42 ms"},
		{999.4, "999 ms"},
		{1250, "1.25 s"},
	}
	for _, tt := range tests {
		if got := formatMs(tt.ms); got != tt.want {
			t.Errorf("formatMs(%v) = %q, want %q", tt.ms, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	if got := truncate("héllo", 5); got != "héllo" {
		t.Errorf("short string changed: %q", got)
	}
	if got := truncate("héllo world", 5); got != "héll…" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("é", 1000)
	rec := serve(newTestHandler(&fakeSource{mons: []MonitorView{{Name: "x", LastResult: &result.Outcome{Result: result.Result{Error: long}}}}}, nil, nil), http.MethodGet, "/")
	if strings.Contains(rec.Body.String(), strings.Repeat("é", maxErrorRunes)) || !strings.Contains(rec.Body.String(), strings.Repeat("é", maxErrorRunes-1)+"…") {
		t.Errorf("long error not cut to %d runes", maxErrorRunes)
	}
}
