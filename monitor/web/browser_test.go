package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// browserSource is sampleHistory with what makes a layout break: a hostile
// name that is also long, a URL with no natural break, an error of one
// long word; and the warned monitors (warnings_test.go), whose labels and
// Warnings sections must fit too.
func browserSource() (*histSource, string) {
	src := sampleHistory()
	name := `<script>alert(1)</script>"><img src=x onerror=alert(2)>-a-very-long-monitor-name-with-no-spaces-for-the-browser-to-break-at`
	long := "https://a-really-long-host-name.for-layout.example.test/" + strings.Repeat("segment/", 12) + "?token=" + strings.Repeat("x", 60) + "&page=2"
	m := MonitorView{
		Name: name, URL: long, Tags: []string{"</style>", "prod"}, State: incident.StateDown, Schedule: "@every 30s",
		LastCheck: result.TimeOf(testNow.Add(-20 * time.Second)),
		LastResult: &result.Outcome{Scope: result.ScopeEveryone, Result: result.Result{
			URL: long, Class: result.ClassServerError, Status: 500, Gateway: "envoy",
			Error:    "upstream said " + strings.Repeat("verylongwordwithoutanybreak", 12),
			Phases:   result.Phases{DNSMs: 2, ConnectMs: 9, TLSMs: 20, TTFBMs: 300, TotalMs: 333},
			Evidence: result.Evidence{Headers: []string{"Server: envoy", "X-Long: " + strings.Repeat("h", 300)}, Body: strings.Repeat("<p>body</p>", 40), Markers: []string{"status 500 from envoy"}},
			Fixes:    []string{"Look at " + long},
		}},
		OpenIncident: &incident.Incident{ID: 11, Monitor: name, Kind: incident.KindTarget, Severity: incident.SeverityCritical, Scope: result.ScopeEveryone,
			OpenedAt: result.TimeOf(testNow.Add(-3 * time.Minute)), Class: result.ClassServerError},
	}
	src.mons = append(src.mons, m)
	src.reports[name] = sampleReport(name)
	src.days[name] = ninetyDays(7)
	src.up30[name] = src.up30["shop"]
	for _, w := range warnedMonitors() {
		src.mons = append(src.mons, w)
		src.reports[w.Name] = sampleReport(w.Name)
		src.days[w.Name] = ninetyDays(11)
		src.up30[w.Name] = src.up30["api"]
	}
	return src, name
}

// pageMetrics is what the browser test measures of a page.
type pageMetrics struct {
	ScrollWidth, InnerWidth float64
	ChartW, ChartH          float64
	BarW                    float64
	Background              string
	Scripts                 int
	Title                   string
	// Outside lists the elements that reach past the page's right edge
	// (the width inside the scroll bar), as tag.class.
	Outside []string
}

// TestPagesInBrowser loads the status page and a detail page in headless
// Chromium at a desktop and a phone's width, light and dark, saves full
// screenshots, and checks that nothing scrolls sideways and that the
// chart is drawn.
func TestPagesInBrowser(t *testing.T) {
	src, name := browserSource()
	srv := httptest.NewServer(pagesHandler(src))
	defer srv.Close()
	pub := httptest.NewServer(pagesHandler(src, WithPublic(func() string { return "Acme status" }, nil)))
	defer pub.Close()
	bctx := newBrowser(t)
	shotDirs := screenshotDirs(t)
	pages := []struct {
		file, path string
		chart      bool
		public     bool
	}{
		{"status", "/", false, false},
		{"detail", "/monitors/" + url.PathEscape(name), true, false},
		{"detail-shop", "/monitors/shop", true, false},
		{"detail-cert", "/monitors/" + certMonitor, true, false},
		{"detail-slow", "/monitors/" + slowMonitor, true, false},
		{"public-status", "/", false, true},
		{"public-detail", "/monitors/" + url.PathEscape(name), true, true},
	}
	for _, pg := range pages {
		for _, width := range []int64{1400, 360} {
			for _, scheme := range []string{"light", "dark"} {
				if scheme == "dark" && width != 360 {
					continue // one dark width shows the palette
				}
				shot := fmt.Sprintf("%s-%d-%s.png", pg.file, width, scheme)
				base := srv.URL
				if pg.public {
					base = pub.URL
				}
				t.Run(shot, func(t *testing.T) {
					load(t, bctx, base+pg.path, width, scheme)
					m, err := chromedp.Run(bctx, chromedp.Evaluate[pageMetrics](`(() => {
							const r = (sel) => { const e = document.querySelector(sel); return e ? e.getBoundingClientRect() : {width: 0, height: 0}; };
							return {
								ScrollWidth: document.documentElement.scrollWidth,
								InnerWidth: window.innerWidth,
								ChartW: r('svg.chart').width, ChartH: r('svg.chart').height,
								BarW: r('.bar').width,
								Background: getComputedStyle(document.body).backgroundColor,
								Scripts: document.scripts.length,
								Title: document.title,
								Outside: [...document.body.querySelectorAll('*')]
									.filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
									.map(e => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined ? '.' + e.className : '')),
							};
						})()`))
					if err != nil {
						t.Fatalf("measuring %s at %dpx: %v", pg.path, width, err)
					}
					screenshots(t, bctx, shotDirs, shot)
					if m.ScrollWidth > m.InnerWidth {
						t.Errorf("%s at %dpx scrolls sideways: scrollWidth %v > innerWidth %v", pg.path, width, m.ScrollWidth, m.InnerWidth)
					}
					if len(m.Outside) > 0 {
						t.Errorf("%s at %dpx: %d elements reach past the right edge: %q", pg.path, width, len(m.Outside), m.Outside)
					}
					if m.InnerWidth != float64(width) {
						t.Errorf("viewport is %vpx, want %d", m.InnerWidth, width)
					}
					if pg.chart && (m.ChartW <= 0 || m.ChartH <= 0) {
						t.Errorf("%s at %dpx: the chart is %vx%v", pg.path, width, m.ChartW, m.ChartH)
					}
					if m.BarW <= 0 {
						t.Errorf("%s at %dpx: the 90-day bar is %vpx wide", pg.path, width, m.BarW)
					}
					if m.Scripts != 0 {
						t.Errorf("%s: %d script elements", pg.path, m.Scripts)
					}
					light := m.Background == "rgb(255, 255, 255)"
					if light != (scheme == "light") {
						t.Errorf("%s in %s: background %s", pg.path, scheme, m.Background)
					}
					if strings.HasSuffix(pg.file, "detail") && !strings.Contains(m.Title, "<script>alert(1)</script>") {
						t.Errorf("the hostile name is not the page's title as text: %q", m.Title)
					}
				})
			}
		}
	}
}

// newBrowser starts headless Chromium for the test; it ends with it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("this test needs Chromium at %s (Debian's chromium package, which .ci/run installs): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Without a scroll bar the layout is the whole viewport's width,
		// so scrollWidth <= innerWidth leaves no 15 px of slack, and the
		// full screenshot is not cut by a bar's width on the right.
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return bctx
}

// screenshotDirs are where screenshots go: the test's temporary directory,
// and $VANTAGE_SCREENSHOTS when set, to look at them.
func screenshotDirs(t *testing.T) []string {
	t.Helper()
	dirs := []string{t.TempDir()}
	if d := os.Getenv("VANTAGE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("VANTAGE_SCREENSHOTS: %v", err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

// load opens u at width px in the colour scheme, and waits for its body.
func load(t *testing.T, bctx context.Context, u string, width int64, scheme string) {
	t.Helper()
	colours := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return chromedp.Void{}, err
	}
	err := chromedp.Do(bctx,
		chromedp.EmulateViewport(width, 900),
		colours,
		chromedp.Navigate(u),
		chromedp.WaitReady(chromedp.CSS("body")),
	)
	if err != nil {
		t.Fatalf("loading %s at %dpx: %v", u, width, err)
	}
}

// screenshots saves the whole page as shot, and its first screen at full
// size beside it, for a closer look.
func screenshots(t *testing.T, bctx context.Context, dirs []string, shot string) {
	t.Helper()
	full, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	top, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	for _, d := range dirs {
		for file, png := range map[string][]byte{shot: full, strings.TrimSuffix(shot, ".png") + "-top.png": top} {
			if err := os.WriteFile(filepath.Join(d, file), png, 0o644); err != nil {
				t.Errorf("writing the screenshot: %v", err)
			}
		}
	}
}

// warnLabel is one warning label of the status page as the browser lays
// it out.
type warnLabel struct {
	Monitor, Text, Class string
	// InRow: the label is inside the <tr> of the monitor it is about.
	InRow bool
	// Visible: it has a size, and display and visibility let it show.
	Visible bool
	// Overflow is how far it reaches outside its cell, and the cell
	// outside its row, in px (0 when it fits).
	Overflow   float64
	Background string
	RowBack    string
	StateBack  string // the UP badge beside it
}

// TestWarningsInBrowser loads the status page with a critical certificate
// warning and a degraded monitor in Chromium, at a desktop's and a phone's
// width, light and dark, saves screenshots, and checks that each label is
// visible, inside its monitor's row and cell, not overflowing, amber
// rather than red, and stronger when critical.
func TestWarningsInBrowser(t *testing.T) {
	src := warnedSource()
	srv := httptest.NewServer(pagesHandler(src))
	defer srv.Close()
	bctx := newBrowser(t)
	dirs := screenshotDirs(t)
	for _, tc := range []struct {
		width  int64
		scheme string
	}{{1400, "light"}, {360, "light"}, {360, "dark"}} {
		shot := fmt.Sprintf("warnings-%d-%s.png", tc.width, tc.scheme)
		t.Run(shot, func(t *testing.T) {
			load(t, bctx, srv.URL+"/", tc.width, tc.scheme)
			labels, err := chromedp.Run(bctx, chromedp.Evaluate[[]warnLabel](`(() => {
				const out = (inner, outer) => Math.max(0, outer.left - inner.left, inner.right - outer.right, outer.top - inner.top, inner.bottom - outer.bottom);
				return [...document.querySelectorAll('span.warn')].map(e => {
					const tr = e.closest('tr'), td = e.closest('td');
					const a = tr && tr.querySelector('td.name a');
					const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
					const badge = td && td.querySelector('.badge');
					return {
						Monitor: a ? a.textContent : '',
						Text: e.textContent,
						Class: e.className,
						InRow: !!(tr && a && td && tr.contains(e)),
						Visible: r.width > 0 && r.height > 0 && cs.display !== 'none' && cs.visibility === 'visible' && cs.opacity !== '0',
						Overflow: td ? Math.max(out(r, td.getBoundingClientRect()), out(td.getBoundingClientRect(), tr.getBoundingClientRect())) : 999,
						Background: cs.backgroundColor,
						RowBack: td ? getComputedStyle(td).backgroundColor : '',
						StateBack: badge ? getComputedStyle(badge).backgroundColor : '',
					};
				});
			})()`))
			if err != nil {
				t.Fatalf("measuring the labels: %v", err)
			}
			screenshots(t, bctx, dirs, shot)
			want := map[string]string{certMonitor: "certificate expires in 1 day", slowMonitor: "slow: TTFB"}
			if len(labels) != len(want) {
				t.Fatalf("%d warning labels, want %d: %+v", len(labels), len(want), labels)
			}
			byMonitor := map[string]warnLabel{}
			for _, l := range labels {
				byMonitor[l.Monitor] = l
				if want[l.Monitor] != l.Text {
					t.Errorf("label %q in the row of %q, want %q there", l.Text, l.Monitor, want[l.Monitor])
				}
				if !l.InRow || !l.Visible {
					t.Errorf("%s: label in its row %v, visible %v", l.Monitor, l.InRow, l.Visible)
				}
				if l.Overflow > 0.5 {
					t.Errorf("%s: the label reaches %.1f px outside its cell or row", l.Monitor, l.Overflow)
				}
				if r, g, b := rgb(t, l.Background); r > 200 && g < 100 && b < 100 {
					t.Errorf("%s: the label is red (%s), but the monitor is up", l.Monitor, l.Background)
				}
				if r, g, b := rgb(t, l.StateBack); !(g > r && g > b) {
					t.Errorf("%s: the state beside the label is not the green UP badge: %s", l.Monitor, l.StateBack)
				}
			}
			cert, slow := byMonitor[certMonitor], byMonitor[slowMonitor]
			if cert.Class != "warn critical" || slow.Class != "warn warning" {
				t.Errorf("classes %q and %q, want warn critical and warn warning", cert.Class, slow.Class)
			}
			// Critical is the stronger amber: a solid fill, more
			// saturated than the warning's.
			if sat(t, cert.Background) <= sat(t, slow.Background) {
				t.Errorf("the critical label (%s) is not stronger than the warning (%s)", cert.Background, slow.Background)
			}
			if r, g, b := rgb(t, cert.Background); !(r > 200 && g > 120 && b < 60) {
				t.Errorf("the critical label is not amber: %s", cert.Background)
			}
		})
	}
}

// rgb reads a computed "rgb(r, g, b)" or "rgba(r, g, b, a)" colour.
func rgb(t *testing.T, c string) (r, g, b float64) {
	t.Helper()
	var a float64
	if _, err := fmt.Sscanf(c, "rgb(%g, %g, %g)", &r, &g, &b); err == nil {
		return r, g, b
	}
	if _, err := fmt.Sscanf(c, "rgba(%g, %g, %g, %g)", &r, &g, &b, &a); err == nil {
		return r, g, b
	}
	t.Fatalf("colour %q is not rgb()", c)
	return 0, 0, 0
}

// sat is a colour's saturation, as HSV has it: 0 grey, 1 pure.
func sat(t *testing.T, c string) float64 {
	r, g, b := rgb(t, c)
	hi, lo := max(r, g, b), min(r, g, b)
	if hi == 0 {
		return 0
	}
	return (hi - lo) / hi
}
