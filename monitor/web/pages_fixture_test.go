package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// histSource is a Source that keeps history: fixed reports, overviews and
// vantage health, and a record of what the pages asked for.
type histSource struct {
	fakeSource
	reports  map[string]*history.Report // by monitor; the window is set per call
	days     map[string][]history.DayCell
	up30     map[string]history.Uptime
	snap     vantage.Snapshot
	vantages bool
	histErr  error

	hmu       sync.Mutex
	overviews [][]string
	windows   []history.Window
}

func (h *histSource) History(_ context.Context, monitor string, w history.Window) (*history.Report, error) {
	h.hmu.Lock()
	h.windows = append(h.windows, w)
	h.hmu.Unlock()
	if h.histErr != nil {
		return nil, h.histErr
	}
	rep, ok := h.reports[monitor]
	if !ok {
		return nil, fmt.Errorf("history of %q: %w", monitor, ErrUnknownMonitor)
	}
	c := *rep
	c.Window = w
	c.From = result.TimeOf(testNow.Add(-w.Duration()))
	return &c, nil
}

func (h *histSource) Incidents(context.Context, history.IncidentQuery) ([]history.IncidentEntry, history.Cursor, error) {
	return nil, history.Cursor{}, nil
}

func (h *histSource) Overview(_ context.Context, monitors []string) (map[string]Overview, error) {
	h.hmu.Lock()
	h.overviews = append(h.overviews, slices.Clone(monitors))
	h.hmu.Unlock()
	if h.histErr != nil {
		return nil, h.histErr
	}
	out := map[string]Overview{}
	for _, m := range monitors {
		if d, ok := h.days[m]; ok {
			out[m] = Overview{Days: d, Uptime30d: h.up30[m]}
		}
	}
	return out, nil
}

func (h *histSource) Vantages(context.Context) (vantage.Snapshot, bool) { return h.snap, h.vantages }

func (h *histSource) overviewCalls() [][]string {
	h.hmu.Lock()
	defer h.hmu.Unlock()
	return slices.Clone(h.overviews)
}

func (h *histSource) historyWindows() []history.Window {
	h.hmu.Lock()
	defer h.hmu.Unlock()
	return slices.Clone(h.windows)
}

// pagesHandler is the real Handler with the detail page routed as
// handler.go routes it (there, /monitors/{name...} goes to s.detailPage):
// the option hands the test the server the Handler built.
func pagesHandler(src Source, opts ...Option) http.Handler {
	var s *server
	opts = append([]Option{WithClock(func() time.Time { return testNow })}, opts...)
	h := Handler(src, nil, nil, append(opts, func(srv *server) { s = srv })...)
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/monitors/{name...}", readOnly(s.detailPage, textError))
	return mux
}

// ninetyDays is a bar of 90 days ending today (testNow): mostly up, with a
// down day, a degraded day, a maintenance day and, at the start, days
// before the monitor existed.
func ninetyDays(seed int) []history.DayCell {
	today := testNow.UTC().Truncate(24 * time.Hour)
	days := make([]history.DayCell, 90)
	for i := range days {
		start := today.AddDate(0, 0, i-89)
		c := history.DayCell{Start: start, State: history.DayUp, Uptime: history.Uptime{Up: 24 * time.Hour}}
		switch {
		case i < 5:
			c.State, c.Uptime = history.DayUnknown, history.Uptime{Unknown: 24 * time.Hour}
		case (i+seed)%29 == 0:
			c.State = history.DayDown
			c.Uptime = history.Uptime{Up: 24*time.Hour - 11*time.Minute, Down: 11 * time.Minute}
		case (i+seed)%17 == 0:
			c.State = history.DayDegraded
			c.Uptime = history.Uptime{Up: 24 * time.Hour, Degraded: 40 * time.Minute}
		case (i+seed)%41 == 0:
			c.State = history.DayMaintenance
			c.Uptime = history.Uptime{Up: 23 * time.Hour, Maintenance: time.Hour}
		}
		if i == 89 { // today, so far
			c.Uptime = history.Uptime{Up: 12 * time.Hour, Unknown: 12 * time.Hour}
		}
		days[i] = c
	}
	return days
}

// latency24h is a day of 5-minute points from each vantage, with a gap of
// an hour (the daemon was stopped) and a slow afternoon.
func latency24h(vantages ...string) []history.LatencyPoint {
	from := testNow.Add(-24 * time.Hour).Truncate(5 * time.Minute)
	var pts []history.LatencyPoint
	for vi, v := range vantages {
		for i := range 288 {
			at := from.Add(time.Duration(i) * 5 * time.Minute)
			if i >= 100 && i < 112 {
				continue // the gap
			}
			base := 40 + float64(vi)*25 + float64(i%24)
			if i > 180 && i < 200 {
				base *= 4
			}
			pts = append(pts, history.LatencyPoint{
				At: result.TimeOf(at), Vantage: v, Checks: 10, Failures: uint64(i % 50 / 49),
				DNS:     history.PhaseSummary{P50: 3, P95: 8, Max: 12},
				Connect: history.PhaseSummary{P50: 11, P95: 20, Max: 30},
				TLS:     history.PhaseSummary{P50: 24, P95: 40, Max: 60},
				TTFB:    history.PhaseSummary{P50: base - 38, P95: base * 1.4, Max: base * 2},
				Total:   history.PhaseSummary{P50: base, P95: base * 1.6, Max: base * 2.5},
			})
		}
	}
	return pts
}

// sampleReport is a monitor's history: two vantages' latency and three
// incidents, one still open.
func sampleReport(name string) *history.Report {
	ratio := 0.99952
	rep := &history.Report{
		Monitor: name, To: result.TimeOf(testNow), Step: "5m",
		Latency: latency24h(result.LocalVantage, "eu-west"),
		Incidents: []history.IncidentEntry{
			{
				ID: 9, Monitor: name, Kind: incident.KindTarget,
				FirstFailureAt: result.TimeOf(testNow.Add(-7 * time.Minute)), OpenedAt: result.TimeOf(testNow.Add(-5 * time.Minute)),
				DurationSeconds: 420, Class: result.ClassBadGateway, Gateway: "nginx", Scope: result.ScopePartial,
				Regions: []string{"eu-west"}, Severity: incident.SeverityCritical,
			},
			{
				ID: 5, Monitor: name, Kind: incident.KindTarget,
				FirstFailureAt: result.TimeOf(testNow.Add(-50 * time.Hour)), OpenedAt: result.TimeOf(testNow.Add(-50*time.Hour + time.Minute)),
				RecoveredAt: result.TimeOf(testNow.Add(-50*time.Hour + 11*time.Minute)), ResolvedAt: result.TimeOf(testNow.Add(-50*time.Hour + 12*time.Minute)),
				DurationSeconds: 660, Class: result.ClassConnectTimeout, Scope: result.ScopeEveryone, Severity: incident.SeverityWarning,
				Resolution: "recovered",
			},
		},
	}
	rep.SetUptime(history.Uptime{Up: 24*time.Hour - 7*time.Minute, Down: 7 * time.Minute})
	rep.UptimeRatio = &ratio
	return rep
}

// sampleHistory is sampleMonitors with history for all but "new", and a
// vantage panel with an unreachable agent.
func sampleHistory() *histSource {
	src := &histSource{
		fakeSource: fakeSource{mons: sampleMonitors()},
		reports:    map[string]*history.Report{},
		days:       map[string][]history.DayCell{},
		up30:       map[string]history.Uptime{},
		vantages:   true,
		snap: vantage.Snapshot{Vantages: []vantage.Health{
			{Name: result.LocalVantage, State: vantage.Healthy, Since: testNow.Add(-48 * time.Hour)},
			{Name: "eu-west", State: vantage.Unreachable, Since: testNow.Add(-57 * time.Minute), Error: "dial tcp 198.51.100.7:7443: connection refused", Monitors: []string{"shop", "api"}},
			{Name: "us-east", State: vantage.Healthy, Since: testNow.Add(-48 * time.Hour)},
		}},
	}
	for i, m := range src.mons {
		if m.Name == "new" {
			continue
		}
		src.reports[m.Name] = sampleReport(m.Name)
		src.days[m.Name] = ninetyDays(i)
		src.up30[m.Name] = history.Uptime{Up: 30*24*time.Hour - 21*time.Minute, Down: 21 * time.Minute, Degraded: 40 * time.Minute}
	}
	// shop's last round was down from eu-west only.
	shop := &src.mons[3]
	shop.OpenIncident.Scope, shop.OpenIncident.Regions = result.ScopePartial, []string{"eu-west"}
	shop.LastResult.Scope = result.ScopePartial
	shop.LastResult.Evidence = result.Evidence{
		Headers: []string{"Server: nginx/1.25.3"},
		Body:    "<html><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
		Markers: []string{`body contains "<hr><center>nginx"`},
	}
	shop.LastResult.Fixes = []string{"Check that the upstream behind nginx is running: systemctl status shop"}
	shop.LastResult.Error = "upstream answered 502 Bad Gateway"
	shop.LastResult.URL = shop.URL
	return src
}
