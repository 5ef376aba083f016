package web

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

var cellRE = regexp.MustCompile(`<span class="(up|down|degraded|maintenance|unknown)" title="([^"]*)"></span>`)

func TestStatusPageHistory(t *testing.T) {
	src := sampleHistory()
	rec := serve(pagesHandler(src), http.MethodGet, "/")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	text := pageText(body)

	// One Overview call, for the rows shown, worst first.
	if calls := src.overviewCalls(); len(calls) != 1 || !slices.Equal(calls[0], []string{"shop", "blog", "new", "api"}) {
		t.Errorf("Overview calls %q, want one for the rows", calls)
	}
	// Three monitors have 90 cells each; "new" has none.
	cells := cellRE.FindAllStringSubmatch(body, -1)
	if len(cells) != 3*90 {
		t.Errorf("%d day cells, want 270", len(cells))
	}
	if !strings.Contains(text, "new https://new.example.test/ UNKNOWN no history") {
		t.Errorf("the monitor without history does not say so: %s", text)
	}
	// shop (seed 3) was down 11 minutes on 2026-09-19 and degraded on
	// 2026-08-31; its first five days were before it existed; today is
	// half measured so far.
	for _, want := range []string{
		`<span class="down" title="2026-09-19: 99.23% up, 11m down"></span>`,
		`<span class="degraded" title="2026-09-07: 100% up, 40m degraded"></span>`,
		`<span class="unknown" title="2026-08-24: no data"></span>`,
		`<span class="up" title="2026-11-21: 100% up, 12h not measured"></span>`,
		`<span class="uptime" title="last 30 days: 21m down, 40m degraded">99.95%</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// The scope: partial from the open incident, with its region.
	if !strings.Contains(text, "DOWN FLAPPING 3 skipped scope: partial: eu-west") {
		t.Errorf("no scope for shop: %s", text)
	}
	// The vantage panel says plainly what is wrong.
	for _, want := range []string{
		"Vantages: 2 of 3 healthy.",
		"agent eu-west is unreachable since 11:03 UTC: dial tcp 198.51.100.7:7443: connection refused (2 monitors could not be checked from it)",
		"local: healthy", "us-east: healthy",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("panel lacks %q: %s", want, text)
		}
	}
	if strings.Contains(text, "network is down") {
		t.Errorf("isolation said while not isolated")
	}
	if !strings.Contains(body, `<a href="monitors/shop">shop</a>`) {
		t.Errorf("name does not link to the detail page")
	}

	// Paged: Overview is asked for the page's rows only.
	src = sampleHistory()
	serve(pagesHandler(src), http.MethodGet, "/?limit=2&page=2")
	if calls := src.overviewCalls(); len(calls) != 1 || !slices.Equal(calls[0], []string{"new", "api"}) {
		t.Errorf("Overview calls %q, want [[new api]]", calls)
	}
	// Past the last page: no rows, no call.
	src = sampleHistory()
	serve(pagesHandler(src), http.MethodGet, "/?page=9")
	if calls := src.overviewCalls(); len(calls) != 0 {
		t.Errorf("Overview called %q for an empty page", calls)
	}
}

func TestStatusPageIsolation(t *testing.T) {
	src := sampleHistory()
	src.snap = vantage.Snapshot{
		Isolated: true, IsolatedSince: testNow.Add(-26 * time.Hour),
		Vantages: []vantage.Health{
			{Name: result.LocalVantage, State: vantage.Impaired, Since: testNow.Add(-26 * time.Hour), Error: "canary https://canary.example.test/: dns timeout"},
			{Name: "eu-west", State: vantage.Unreachable, Since: testNow.Add(-26 * time.Hour), Error: "dial tcp: network is unreachable"},
		},
	}
	text := pageText(serve(pagesHandler(src), http.MethodGet, "/").Body.String())
	for _, want := range []string{
		"Vantages: 0 of 2 healthy.",
		"Our own network is down since 2026-11-20 10:00 UTC: canary https://canary.example.test/: dns timeout. No vantage can reach the sites",
		"agent eu-west is unreachable since 2026-11-20 10:00 UTC: dial tcp: network is unreachable",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q: %s", want, text)
		}
	}
	if strings.Contains(text, "the local vantage (this host) is impaired") {
		t.Errorf("the local vantage said twice: %s", text)
	}

	// A daemon without remote vantages has no panel.
	src.vantages = false
	if text := pageText(serve(pagesHandler(src), http.MethodGet, "/").Body.String()); strings.Contains(text, "Vantages:") {
		t.Errorf("panel without vantages: %s", text)
	}
}

func TestStatusPageOverviewError(t *testing.T) {
	src := sampleHistory()
	src.histErr = errors.New("store is closed")
	rec := serve(pagesHandler(src), http.MethodGet, "/")
	text := pageText(rec.Body.String())
	if rec.Code != 200 || !strings.Contains(text, "Uptime history is unavailable: store is closed") || !strings.Contains(text, "shop") {
		t.Errorf("%d: %s", rec.Code, text)
	}
}

func TestDetailPage(t *testing.T) {
	src := sampleHistory()
	rec := serve(pagesHandler(src), http.MethodGet, "/monitors/shop")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); csp != pageCSP {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if got := src.historyWindows(); !slices.Equal(got, []history.Window{history.Window24h, history.Window7d, history.Window30d, history.Window90d}) {
		t.Errorf("History windows %v", got)
	}
	body := rec.Body.String()
	text := pageText(body)
	for _, want := range []string{
		"« All monitors shop DOWN FLAPPING scope: partial: eu-west · incident open since 5m ago, bad gateway, critical",
		"https://shop.example.test/healthz prod eu",
		"Last checked 1m 15s ago, schedule */2 * * * *.",
		"last 24 hours 99.95% 7m down", "last 90 days 99.95% 7m down",
		"Response time, last 24 hours",
		// The incidents, newest first, with how long and why.
		"11:53 UTC confirmed after 2m ongoing 7m so far bad gateway from nginx partial: eu-west critical",
		"2026-11-19 10:00 UTC confirmed after 1m 2026-11-19 10:11 UTC 11m connect timeout recovered everyone warning",
		// The latest result, with its evidence and fixes.
		"Result 502 from nginx (behind cloudflare), upstream refused upstream answered 502 Bad Gateway",
		"Gateway nginx (behind cloudflare)",
		`Evidence body contains "<hr><center>nginx"`,
		"Headers Server: nginx/1.25.3",
		"Body <html><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
		"Fixes Check that the upstream behind nginx is running: systemctl status shop",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q\n%s", want, text)
		}
	}
	// One chart per vantage, local first, each with an accessible name.
	svgs := regexp.MustCompile(`(?s)<svg class="chart".*?</svg>`).FindAllString(body, -1)
	if len(svgs) != 2 {
		t.Fatalf("%d charts, want 2", len(svgs))
	}
	for i, v := range []string{"local", "eu-west"} {
		svg := svgs[i]
		if !strings.Contains(svg, "<title id=\"chart-"+string(rune('0'+i))+"-title\">Response time of shop from "+v+" over the last 24 hours</title>") {
			t.Errorf("chart %d has no title for %s:\n%.300s", i, v, svg)
		}
		// The hour without points splits the day into two runs.
		if n := strings.Count(svg, `<polyline class="line"`); n != 2 {
			t.Errorf("chart %d: %d p50 lines, want 2", i, n)
		}
		if n := strings.Count(svg, `<polygon class="band"`); n != 2 {
			t.Errorf("chart %d: %d p95 bands, want 2", i, n)
		}
		// The latest point's phases, stacked.
		for _, ph := range []string{"dns", "connect", "tls", "ttfb"} {
			if !strings.Contains(svg, `<rect class="`+ph+`"`) {
				t.Errorf("chart %d lacks the %s phase", i, ph)
			}
		}
		if !strings.Contains(svg, ">0</text>") || !strings.Contains(svg, ">400</text>") || !strings.Contains(svg, `class="unit"`) ||
			!strings.Contains(svg, ">06:00</text>") {
			t.Errorf("chart %d lacks axis labels", i)
		}
	}
	if !strings.Contains(text, "Latest (11:55 UTC), p50 of each phase: 63 ms in all: dns 3.0 ms connect 11 ms tls 24 ms first byte 25 ms") {
		t.Errorf("no phase legend: %s", text)
	}
	if n := len(cellRE.FindAllString(body, -1)); n != 90 {
		t.Errorf("%d day cells, want 90", n)
	}
	if !strings.Contains(body, `<a href="../api/v1/monitors/shop">this monitor as JSON</a>`) || !strings.Contains(body, `<a href="../">« All monitors</a>`) {
		t.Errorf("links wrong")
	}
}

func TestDetailPageNotFound(t *testing.T) {
	for _, tt := range []struct {
		name string
		src  Source
	}{
		{"with history", sampleHistory()},
		{"without history", &fakeSource{mons: sampleMonitors()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(pagesHandler(tt.src), http.MethodGet, "/monitors/"+url.PathEscape("no such/<b>"))
			if rec.Code != 404 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("%d %s", rec.Code, rec.Header().Get("Content-Type"))
			}
			if text := pageText(rec.Body.String()); !strings.Contains(text, "There is no monitor named no such/<b>") {
				t.Errorf("text: %s", text)
			}
			if strings.Contains(rec.Body.String(), "<b>") {
				t.Errorf("name not escaped")
			}
		})
	}
}

func TestDetailPageRemovedMonitor(t *testing.T) {
	src := sampleHistory()
	rep := sampleReport("gone")
	rep.RemovedAt = result.TimeOf(testNow.Add(-72 * time.Hour))
	src.reports["gone"] = rep
	rec := serve(pagesHandler(src), http.MethodGet, "/monitors/gone")
	text := pageText(rec.Body.String())
	if rec.Code != 200 || !strings.Contains(text, "gone REMOVED") || !strings.Contains(text, "Removed from the config at 2026-11-18 12:00 UTC; its history is kept.") ||
		!strings.Contains(text, "The monitor is no longer checked.") || !strings.Contains(text, "last 7 days 99.95%") {
		t.Errorf("%d: %s", rec.Code, text)
	}
}

func TestDetailPageWithoutHistory(t *testing.T) {
	src := sampleHistory()
	rec := serve(pagesHandler(&src.fakeSource), http.MethodGet, "/monitors/shop")
	text := pageText(rec.Body.String())
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	for _, want := range []string{"This daemon keeps no history", "Result 502 from nginx", "Fixes Check that the upstream"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q: %s", want, text)
		}
	}
	if strings.Contains(rec.Body.String(), "<svg") {
		t.Errorf("a chart without history")
	}

	// A configured monitor the history does not know yet.
	rec = serve(pagesHandler(sampleHistory()), http.MethodGet, "/monitors/new")
	if text := pageText(rec.Body.String()); rec.Code != 200 || !strings.Contains(text, "No history has been recorded for this monitor yet.") {
		t.Errorf("%d: %s", rec.Code, text)
	}
	// History failing: said, and the rest still shown.
	src = sampleHistory()
	src.histErr = errors.New("disk I/O error")
	rec = serve(pagesHandler(src), http.MethodGet, "/monitors/shop")
	if text := pageText(rec.Body.String()); rec.Code != 200 || !strings.Contains(text, "History is unavailable: disk I/O error") || !strings.Contains(text, "Result 502") {
		t.Errorf("%d: %s", rec.Code, text)
	}
	// For a name not in the config, the store's failure is not a 404.
	rec = serve(pagesHandler(src), http.MethodGet, "/monitors/gone")
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "cannot read history: disk I/O error") {
		t.Errorf("%d: %s", rec.Code, rec.Body)
	}
}

// TestDetailPageHome: the way back to the status page climbs as many
// levels as the path has, however the name's slashes were written.
func TestDetailPageHome(t *testing.T) {
	src := &fakeSource{mons: []MonitorView{{Name: "team/a"}}}
	h := pagesHandler(src)
	for path, want := range map[string]string{
		"/monitors/" + url.PathEscape("team/a"): `href="../"`,
		"/monitors/team/a":                      `href="../../"`,
	} {
		rec := serve(h, http.MethodGet, path)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want+">« All monitors") {
			t.Errorf("%s: %d, no %s", path, rec.Code, want)
		}
	}
}

// TestPublicPages: the public listener shows names, states, scope, uptime
// and incidents of the monitors it is given, and none of what the daemon
// saw inside them.
func TestPublicPages(t *testing.T) {
	src := sampleHistory()
	src.mons = append(src.mons, MonitorView{Name: "internal", URL: "https://internal.example.test/", Tags: []string{"private"}, State: incident.StateUp})
	src.reports["internal"] = sampleReport("internal")
	h := pagesHandler(src, WithPublic(func() string { return "Acme status" }, func(m *MonitorView) bool { return !slices.Contains(m.Tags, "private") }))

	secrets := []string{
		"example.test", "upstream answered", "dial tcp", "i/o timeout", "198.51.100.7", "connection refused",
		"Server: nginx", "502 Bad Gateway", "<hr>", "systemctl", "nginx", "cloudflare", "upstream refused",
		"api/v1", "metrics", "healthz", "internal", "*/2", "recovered",
	}
	for _, path := range []string{"/", "/?state=down", "/monitors/shop", "/monitors/blog", "/monitors/api", "/monitors/new"} {
		rec := serve(h, http.MethodGet, path)
		if rec.Code != 200 {
			t.Fatalf("%s: %d", path, rec.Code)
		}
		body := rec.Body.String()
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s shows %q", path, s)
			}
		}
		if !strings.Contains(body, "Acme status</title>") {
			t.Errorf("%s: not titled", path)
		}
	}
	text := pageText(serve(h, http.MethodGet, "/").Body.String())
	for _, want := range []string{
		"Acme status 4 monitors, 1 down, 1 failing",
		"shop DOWN FLAPPING scope: partial: eu-west",
		"Vantages: 2 of 3 healthy.", "agent eu-west is unreachable since 11:03 UTC.",
		"99.95%",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("public status lacks %q: %s", want, text)
		}
	}
	text = pageText(serve(h, http.MethodGet, "/monitors/shop").Body.String())
	for _, want := range []string{
		"last 24 hours 99.95%",
		"11:53 UTC confirmed after 2m ongoing 7m so far partial: eu-west critical",
		"2026-11-19 10:00 UTC confirmed after 1m 2026-11-19 10:11 UTC 11m everyone warning",
		"Response time, last 24 hours",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("public detail lacks %q: %s", want, text)
		}
	}
	if strings.Contains(text, "Latest result") {
		t.Errorf("public detail shows the latest result")
	}
	// A monitor the listener does not show is not known, nor a removed one.
	src.reports["gone"] = sampleReport("gone")
	for _, path := range []string{"/monitors/internal", "/monitors/gone"} {
		if rec := serve(h, http.MethodGet, path); rec.Code != 404 || strings.Contains(rec.Body.String(), "removed monitors") {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
}

// TestPagesEscapeHostile sends markup through every value that reaches the
// pages, names and errors in the table, the panel, the SVG chart's title
// and text and the title="" tooltips, and checks with a real HTML parser
// that it arrives as text only.
func TestPagesEscapeHostile(t *testing.T) {
	hostile := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(2)>`, `</style><script>alert(3)</script>`, `</title><svg onload=alert(4)>`}
	name := strings.Join(hostile, " ")
	src := sampleHistory()
	shop := &src.mons[3]
	shop.Name, shop.Tags = name, []string{hostile[1]}
	shop.OpenIncident.Regions = []string{hostile[2]}
	shop.LastResult.Error = hostile[0]
	shop.LastResult.Gateway = hostile[3]
	shop.LastResult.Evidence.Headers = []string{hostile[1]}
	shop.LastResult.Fixes = []string{hostile[2]}
	shop.LastResult.Vantages = []result.VantageLine{{Name: hostile[3], Status: result.VantageDown, Error: hostile[0]}}
	rep := sampleReport(name)
	for i := range rep.Latency {
		if rep.Latency[i].Vantage == "eu-west" {
			rep.Latency[i].Vantage = hostile[3]
		}
	}
	rep.Incidents[0].Gateway, rep.Incidents[0].Regions = hostile[1], []string{hostile[0]}
	src.reports[name] = rep
	src.days[name] = ninetyDays(3)
	src.snap.Vantages[1].Name, src.snap.Vantages[1].Error = hostile[2], hostile[1]

	h := pagesHandler(src)
	for _, path := range []string{"/", "/monitors/" + url.PathEscape(name)} {
		rec := serve(h, http.MethodGet, path)
		if rec.Code != 200 {
			t.Fatalf("%s: %d", path, rec.Code)
		}
		doc, err := html.Parse(strings.NewReader(rec.Body.String()))
		if err != nil {
			t.Fatal(err)
		}
		var text, titles strings.Builder
		styles := 0
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				switch n.Data {
				case "script", "img", "iframe":
					t.Errorf("%s: hostile element <%s> reached the page", path, n.Data)
				case "style":
					styles++
				case "svg":
					if n.Parent == nil || n.Parent.Data != "figure" {
						t.Errorf("%s: an <svg> outside a chart", path)
					}
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") {
						t.Errorf("%s: <%s> has event handler %s=%q", path, n.Data, a.Key, a.Val)
					}
					if a.Key == "title" {
						titles.WriteString(a.Val + "\n")
					}
				}
			}
			if n.Type == html.TextNode {
				text.WriteString(n.Data + "\n")
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		if want := map[string]int{"/": 1}[path]; want == 0 && styles != 2 || want == 1 && styles != 1 {
			t.Errorf("%s: %d <style> elements: a name closed one", path, styles)
		}
		for _, hs := range hostile {
			if !strings.Contains(text.String(), hs) {
				t.Errorf("%s: text lacks %q", path, hs)
			}
		}
		// The vantage's error is its badge's tooltip too: a title=""
		// attribute holding the markup as its value.
		if path == "/" && !strings.Contains(titles.String(), "unreachable since 2026-11-21T11:03:00Z: "+hostile[1]) {
			t.Errorf("the vantage badge's tooltip lost the error: %q", titles.String())
		}
		if path != "/" {
			// In the chart's <title> (SVG: a normal element, so the parser
			// reads its text), and in a cell's tooltip.
			if !strings.Contains(text.String(), "Response time of "+name+" from "+hostile[3]+" over the last 24 hours") {
				t.Errorf("chart title lost the hostile vantage name")
			}
		}
	}
	// The row's tooltip and link carry the name escaped, never raw.
	body := serve(h, http.MethodGet, "/").Body.String()
	if !strings.Contains(body, `href="monitors/`+url.PathEscape(name)+`"`) {
		t.Errorf("link to the hostile name is not path-escaped")
	}
}

func TestFormatting(t *testing.T) {
	for ratio, want := range map[float64]string{1: "100%", 1.2: "100%", 0.99999: "99.99%", 0.992: "99.2%", 0.5: "50%", 0: "0%", -1: "?"} {
		if got := percent(ratio); got != want {
			t.Errorf("percent(%v) = %q, want %q", ratio, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 900 * time.Millisecond: "0s", 45 * time.Second: "45s", 11 * time.Minute: "11m",
		252 * time.Second: "4m 12s", 3*time.Hour + 5*time.Minute: "3h 5m", 52 * time.Hour: "2d 4h"} {
		if got := length(d); got != want {
			t.Errorf("length(%v) = %q, want %q", d, got, want)
		}
	}
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		u    history.Uptime
		want string
	}{
		{history.Uptime{Up: 24*time.Hour - 11*time.Minute, Down: 11 * time.Minute}, "2026-11-30: 99.23% up, 11m down"},
		{history.Uptime{}, "2026-11-30: no data"},
		{history.Uptime{Maintenance: 2 * time.Hour, Unknown: 22 * time.Hour}, "2026-11-30: 2h maintenance"},
		{history.Uptime{Up: 20 * time.Hour, Degraded: 90 * time.Minute, Maintenance: time.Hour, Unknown: 3 * time.Hour}, "2026-11-30: 100% up, 1h 30m degraded, 1h maintenance, 3h not measured"},
	} {
		if got := dayTitle(history.DayCell{Start: day, Uptime: tt.u}); got != tt.want {
			t.Errorf("dayTitle = %q, want %q", got, tt.want)
		}
	}
	if got := dayClass("bogus\" onmouseover=x"); got != "unknown" {
		t.Errorf("dayClass of an unknown state = %q", got)
	}
	long := "https://very-long-host-name.example.test/a/deep/path/to/some/resource?with=query&and=more"
	parts := urlParts(long)
	if strings.Join(parts, "") != long || len(parts) < 5 || parts[0] != "https://" {
		t.Errorf("urlParts(%q) = %q", long, parts)
	}
	if p := urlParts("https://short.test/"); len(p) != 1 {
		t.Errorf("short URL split: %q", p)
	}
}

func TestChartScale(t *testing.T) {
	for _, tt := range []struct{ max, top, step float64 }{
		{1, 1, 0.2}, {103, 125, 25}, {160, 200, 50}, {999, 1000, 200}, {4100, 5000, 1000}, {30, 30, 10}, {0.4, 0.4, 0.1},
	} {
		top, step := niceScale(tt.max)
		if top != tt.top || step != tt.step {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tt.max, top, step, tt.top, tt.step)
		}
	}
	// A single point between gaps is a dot; the phases fill the plot's width.
	from := testNow.Add(-time.Hour)
	pt := func(min int, total float64) history.LatencyPoint {
		return history.LatencyPoint{At: result.TimeOf(from.Add(time.Duration(min) * time.Minute)), Vantage: "v", Checks: 1,
			Total: history.PhaseSummary{P50: total, P95: total * 2}, DNS: history.PhaseSummary{P50: 10}, TTFB: history.PhaseSummary{P50: 30}}
	}
	c := buildCharts("m", []history.LatencyPoint{pt(0, 40), pt(5, 50), pt(20, 60), pt(40, 30), pt(45, 35), {Vantage: "v", At: result.TimeOf(from.Add(50 * time.Minute))}},
		from, testNow, 5*time.Minute, "last hour")
	if len(c) != 1 || len(c[0].Lines) != 2 || len(c[0].Dots) != 1 || len(c[0].Bar) != 2 {
		t.Fatalf("charts %+v", c)
	}
	// dns 10 ms and first byte 30 ms: a quarter and three quarters of
	// the plot's 638 units.
	if c[0].Bar[0].X != "70.0" || c[0].Bar[0].W != "159.5" || c[0].Bar[1].X != "229.5" || c[0].Bar[1].W != "478.5" {
		t.Errorf("bar segments %+v", c[0].Bar)
	}
	if c[0].Desc != "p50 of the total time from 30 ms to 60 ms, p95 up to 120 ms, over 5 checks (0 failed). Latest, at 11:45 UTC: p50 35 ms, p95 70 ms." {
		t.Errorf("desc %q", c[0].Desc)
	}
	// No point with checks: an empty chart that says so.
	c = buildCharts("m", []history.LatencyPoint{{Vantage: "v"}}, from, testNow, 5*time.Minute, "last hour")
	if len(c) != 1 || len(c[0].Lines)+len(c[0].Dots) != 0 || c[0].Desc != "No response times were recorded." {
		t.Errorf("empty chart %+v", c)
	}
}

// TestPagesRedacted: with the config's redactor, a secret is hidden in
// every value the pages show: URL, error, evidence, fixes, the vantage
// panel, the incidents and the chart.
func TestPagesRedacted(t *testing.T) {
	const secret = "s3cr3t-token-42"
	r := redact.New([]redact.Secret{{Value: secret}})
	src := sampleHistory()
	shop := &src.mons[3]
	shop.URL = "https://bob:hunter2@shop.example.test/healthz"
	shop.LastResult.URL = shop.URL
	shop.LastResult.Error = "echoed " + secret
	shop.LastResult.Evidence.Headers = []string{"X-Token: " + secret}
	shop.LastResult.Evidence.Body = "token=" + secret
	shop.LastResult.Evidence.Markers = []string{"body has " + secret}
	shop.LastResult.Fixes = []string{"rotate " + secret}
	rep := sampleReport("shop")
	rep.Incidents[0].Gateway = "gw-" + secret
	src.reports["shop"] = rep
	src.snap.Vantages[1].Error = "auth " + secret + " refused"
	h := pagesHandler(src, WithRedact(r.String))
	for _, path := range []string{"/", "/monitors/shop"} {
		body := serve(h, http.MethodGet, path).Body.String()
		for _, leak := range []string{secret, "hunter2"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s shows %q", path, leak)
			}
		}
		if !strings.Contains(body, "&lt;secret&gt;") || !strings.Contains(body, "bob:xxxxx@shop.example.test") {
			t.Errorf("%s shows no marker", path)
		}
	}
	if shop.LastResult.Error != "echoed "+secret || src.snap.Vantages[1].Error != "auth "+secret+" refused" {
		t.Error("redaction wrote into the source's values")
	}
}
