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
// long word.
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
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("this test needs Chromium at %s (Debian's chromium package, which .ci/run installs): %v", chromiumPath, err)
	}
	src, name := browserSource()
	srv := httptest.NewServer(pagesHandler(src))
	defer srv.Close()
	pub := httptest.NewServer(pagesHandler(src, WithPublic(func() string { return "Acme status" }, nil)))
	defer pub.Close()

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
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}

	shotDirs := []string{t.TempDir()}
	if d := os.Getenv("VANTAGE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("VANTAGE_SCREENSHOTS: %v", err)
		}
		shotDirs = append(shotDirs, d)
	}
	pages := []struct {
		file, path string
		chart      bool
		public     bool
	}{
		{"status", "/", false, false},
		{"detail", "/monitors/" + url.PathEscape(name), true, false},
		{"detail-shop", "/monitors/shop", true, false},
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
					colours := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
						_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
							Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
						})
						return chromedp.Void{}, err
					}
					err := chromedp.Do(bctx,
						chromedp.EmulateViewport(width, 900),
						colours,
						chromedp.Navigate(base+pg.path),
						chromedp.WaitReady(chromedp.CSS("body")),
					)
					if err != nil {
						t.Fatalf("loading %s at %dpx: %v", pg.path, width, err)
					}
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
					full, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
					if err != nil {
						t.Fatalf("screenshot of %s at %dpx: %v", pg.path, width, err)
					}
					// The first screen too, at full size, for a closer look.
					top, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
					if err != nil {
						t.Fatalf("screenshot of %s at %dpx: %v", pg.path, width, err)
					}
					for _, d := range shotDirs {
						for file, png := range map[string][]byte{shot: full, strings.TrimSuffix(shot, ".png") + "-top.png": top} {
							if err := os.WriteFile(filepath.Join(d, file), png, 0o644); err != nil {
								t.Errorf("writing the screenshot: %v", err)
							}
						}
					}
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
