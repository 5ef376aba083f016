package web

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func ratio(r float64) *float64 { return &r }

// sampleReport is a day with one resolved outage and one latency point.
func apiSampleReport(monitor string) *history.Report {
	rep := &history.Report{
		Monitor: monitor, Window: history.Window24h,
		From: result.TimeOf(testNow.Add(-24 * time.Hour)), To: result.TimeOf(testNow),
		Step: "5m",
		Incidents: []history.IncidentEntry{{
			ID: 3, Monitor: monitor, Kind: incident.KindTarget,
			OpenedAt:       result.TimeOf(testNow.Add(-2 * time.Hour)),
			FirstFailureAt: result.TimeOf(testNow.Add(-2*time.Hour - time.Minute)),
			RecoveredAt:    result.TimeOf(testNow.Add(-time.Hour)),
			ResolvedAt:     result.TimeOf(testNow.Add(-time.Hour + time.Minute)),
			Class:          result.ClassBadGateway, Scope: result.ScopeEveryone, Severity: incident.SeverityCritical,
			Resolution: "recovered after 2 good checks",
		}},
		Latency: []history.LatencyPoint{{
			At: result.TimeOf(testNow.Add(-5 * time.Minute)), Vantage: "local", Checks: 10, Failures: 1,
			Total: history.PhaseSummary{P50: 120, P95: 300, Max: 410},
		}},
	}
	rep.SetUptime(history.Uptime{Up: 23 * time.Hour, Down: time.Hour})
	return rep
}

func historySource() *fakeHistory {
	return &fakeHistory{
		fakeSource: fakeSource{mons: sampleMonitors()},
		reports:    map[string]*history.Report{"shop": apiSampleReport("shop")},
	}
}

func TestHistoryAPI(t *testing.T) {
	src := historySource()
	h := newTestHandler(src, nil, nil)

	rec := serve(h, http.MethodGet, "/api/v1/monitors/shop/history")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := decodeMap(t, rec)
	for _, k := range []string{"monitor", "window", "from", "to", "uptime_ratio", "up_seconds", "down_seconds",
		"degraded_seconds", "maintenance_seconds", "unknown_seconds", "incidents", "latency"} {
		if _, ok := body[k]; !ok {
			t.Errorf("no %q in %s", k, rec.Body)
		}
	}
	if body["monitor"] != "shop" || body["window"] != "24h" || body["down_seconds"] != 3600.0 {
		t.Errorf("body = %v", body)
	}
	if r, _ := body["uptime_ratio"].(float64); r < 0.958 || r > 0.959 {
		t.Errorf("uptime_ratio = %v, want 23/24", body["uptime_ratio"])
	}
	inc := body["incidents"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "kind", "opened_at", "first_failure_at", "resolved_at", "duration_seconds", "class", "gateway", "scope", "severity", "regions"} {
		if _, ok := inc[k]; !ok {
			t.Errorf("incident has no %q: %v", k, inc)
		}
	}
	if regions, ok := inc["regions"].([]any); !ok || len(regions) != 0 {
		t.Errorf("regions = %#v, want []", inc["regions"])
	}
	pt := body["latency"].([]any)[0].(map[string]any)
	total := pt["total"].(map[string]any)
	if pt["vantage"] != "local" || pt["checks"] != 10.0 || total["p50_ms"] != 120.0 || total["p95_ms"] != 300.0 || total["max_ms"] != 410.0 {
		t.Errorf("latency point = %v", pt)
	}
	if src.reports["shop"].Incidents[0].Regions != nil {
		t.Error("the API wrote into the source's report")
	}

	rec = serve(h, http.MethodGet, "/api/v1/monitors/shop/history?window=90d")
	if rec.Code != http.StatusOK || decodeMap(t, rec)["window"] != "90d" {
		t.Errorf("window=90d: %d %s", rec.Code, rec.Body)
	}
	if got := src.askedWindows(); !slices.Equal(got, []history.Window{history.Window24h, history.Window90d}) {
		t.Errorf("windows asked %v", got)
	}
}

// A report with nothing in it still has arrays, and a null ratio.
func TestHistoryAPIEmptyReport(t *testing.T) {
	src := historySource()
	src.reports["new"] = &history.Report{Monitor: "new", Window: history.Window24h}
	rec := serve(newTestHandler(src, nil, nil), http.MethodGet, "/api/v1/monitors/new/history")
	body := decodeMap(t, rec)
	if rec.Code != 200 || body["uptime_ratio"] != nil {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	for _, k := range []string{"incidents", "latency"} {
		if a, ok := body[k].([]any); !ok || len(a) != 0 {
			t.Errorf("%s = %#v, want []", k, body[k])
		}
	}
	if v, ok := body["uptime_ratio"]; !ok || v != nil {
		t.Errorf("uptime_ratio = %#v (present %v), want null", v, ok)
	}
}

func TestHistoryAPIErrors(t *testing.T) {
	var logs testkit.Buffer
	src := historySource()
	h := Handler(src, nil, slog.New(slog.NewTextHandler(&logs, nil)), WithClock(func() time.Time { return testNow }))
	for _, tt := range []struct {
		path string
		code int
		msg  string
	}{
		{"/api/v1/monitors/nosuch/history", 404, `no monitor named "nosuch"`},
		{"/api/v1/monitors/shop/history?window=2h", 400, `window "2h" is not one of 24h, 7d, 30d, 90d, 365d`},
		{"/api/v1/monitors/shop/history?window=24H", 400, `window "24H"`},
	} {
		rec := serve(h, http.MethodGet, tt.path)
		if rec.Code != tt.code {
			t.Errorf("%s: %d %s", tt.path, rec.Code, rec.Body)
		}
		if msg := decodeError(t, rec); !strings.HasPrefix(msg, tt.msg) {
			t.Errorf("%s: error %q, want %q", tt.path, msg, tt.msg)
		}
	}

	src.historyErr = errors.New("database is locked")
	rec := serve(h, http.MethodGet, "/api/v1/monitors/shop/history")
	if rec.Code != 500 || decodeError(t, rec) != `cannot read the history of "shop": database is locked` {
		t.Errorf("store error: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "database is locked") {
		t.Errorf("store error not logged: %s", logs.String())
	}

	// A daemon without history says so, for history and incidents alike.
	plain := newTestHandler(&fakeSource{mons: sampleMonitors()}, nil, nil)
	for _, p := range []string{"/api/v1/monitors/shop/history", "/api/v1/incidents"} {
		rec := serve(plain, http.MethodGet, p)
		if rec.Code != 404 || decodeError(t, rec) != "this daemon keeps no history" {
			t.Errorf("%s without history: %d %s", p, rec.Code, rec.Body)
		}
	}
}

// The history path against monitor names with slashes, "history" among
// them: the escaped form is never ambiguous, and the unescaped one is the
// history of its prefix unless only the whole is a configured monitor.
func TestHistoryRouting(t *testing.T) {
	names := []string{"x", "x/history", "y/history", "a/b", "history"}
	var mons []MonitorView
	for _, n := range names {
		mons = append(mons, MonitorView{Name: n, URL: "https://" + strings.ReplaceAll(n, "/", "-") + ".example.test/", State: incident.StateUp})
	}
	src := &fakeHistory{fakeSource: fakeSource{mons: mons}, reports: map[string]*history.Report{}}
	for _, n := range append(names, "gone") { // gone: removed from the config, history kept
		src.reports[n] = apiSampleReport(n)
	}
	h := newTestHandler(src, nil, nil)
	for _, tt := range []struct {
		path    string
		history string // the monitor whose history it is, or ""
		doc     string // else the monitor whose document it is
	}{
		{"/api/v1/monitors/x/history", "x", ""},
		{"/api/v1/monitors/x%2Fhistory", "", "x/history"},
		{"/api/v1/monitors/x%2fhistory", "", "x/history"},
		{"/api/v1/monitors/x%2Fhistory/history", "x/history", ""},
		{"/api/v1/monitors/x/history/history", "x/history", ""},
		{"/api/v1/monitors/y/history", "", "y/history"}, // no monitor y
		{"/api/v1/monitors/y%2Fhistory", "", "y/history"},
		{"/api/v1/monitors/a/b/history", "a/b", ""},
		{"/api/v1/monitors/a%2Fb/history?window=7d", "a/b", ""},
		{"/api/v1/monitors/history", "", "history"},
		{"/api/v1/monitors/history/history", "history", ""},
		{"/api/v1/monitors/gone/history", "gone", ""},
	} {
		rec := serve(h, http.MethodGet, tt.path)
		if rec.Code != 200 {
			t.Errorf("%s: %d %s", tt.path, rec.Code, rec.Body)
			continue
		}
		body := decodeMap(t, rec)
		if tt.history != "" {
			if body["monitor"] != tt.history || body["uptime_ratio"] == nil {
				t.Errorf("%s: want the history of %q, got %s", tt.path, tt.history, rec.Body)
			}
			continue
		}
		m, _ := body["monitor"].(map[string]any)
		if m == nil || m["name"] != tt.doc {
			t.Errorf("%s: want the document of %q, got %s", tt.path, tt.doc, rec.Body)
		}
	}

	// Without history, an unescaped "y/history" still finds its monitor.
	plain := newTestHandler(&fakeSource{mons: mons}, nil, nil)
	rec := serve(plain, http.MethodGet, "/api/v1/monitors/y/history")
	if m, _ := decodeMap(t, rec)["monitor"].(map[string]any); rec.Code != 200 || m["name"] != "y/history" {
		t.Errorf("y/history without history: %d %s", rec.Code, rec.Body)
	}
}

// Redaction covers the report, whatever field a secret turns up in.
func TestHistoryAPIRedacts(t *testing.T) {
	r := redact.New([]redact.Secret{{Value: "tok-991"}})
	src := historySource()
	src.reports["shop"].Incidents[0].Gateway = "gw tok-991"
	src.incidents = []history.IncidentEntry{{ID: 1, Monitor: "shop", Resolution: "tok-991", OpenedAt: result.TimeOf(testNow)}}
	h := Handler(src, nil, nil, WithRedact(r.String))
	for _, p := range []string{"/api/v1/monitors/shop/history", "/api/v1/incidents"} {
		body := serve(h, http.MethodGet, p).Body.String()
		if strings.Contains(body, "tok-991") || !strings.Contains(body, `\u003csecret\u003e`) {
			t.Errorf("%s: %s", p, body)
		}
	}
}

// manyIncidents: n incidents, two of them opened at the same instant so
// the id breaks the tie; odd ids resolved.
func manyIncidents(n int) []history.IncidentEntry {
	var es []history.IncidentEntry
	for i := 1; i <= n; i++ {
		e := history.IncidentEntry{ID: int64(i), Monitor: []string{"shop", "api"}[i%2], Kind: incident.KindTarget,
			OpenedAt: result.TimeOf(testNow.Add(-time.Duration(n-i) * time.Hour))}
		if i == 2 {
			e.OpenedAt = result.TimeOf(testNow.Add(-time.Duration(n-3) * time.Hour))
		}
		if i%2 == 1 {
			e.ResolvedAt = result.TimeOf(e.OpenedAt.Add(30 * time.Minute))
			e.Regions = []string{"eu"}
		}
		es = append(es, e)
	}
	return es
}

func TestIncidentsAPIPages(t *testing.T) {
	src := historySource()
	src.incidents = manyIncidents(7)
	h := newTestHandler(src, nil, nil)

	var ids []int64
	next := "/api/v1/incidents?limit=3"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("the pages do not end")
		}
		rec := serve(h, http.MethodGet, next)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", next, rec.Code, rec.Body)
		}
		body := decodeMap(t, rec)
		if body["limit"] != 3.0 || body["generated_at"] != "2026-11-21T12:00:00Z" {
			t.Errorf("%s: %v", next, body)
		}
		for _, e := range body["incidents"].([]any) {
			e := e.(map[string]any)
			ids = append(ids, int64(e["id"].(float64)))
			if _, ok := e["regions"].([]any); !ok {
				t.Errorf("regions of %v = %#v, want an array", e["id"], e["regions"])
			}
		}
		next, _ = body["next"].(string)
		if next != "" && !strings.HasPrefix(next, "/api/v1/incidents?") {
			t.Errorf("next = %q", next)
		}
	}
	// Newest first; 3 and 2 opened together, the higher id first.
	if want := []int64{7, 6, 5, 4, 3, 2, 1}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
}

func TestIncidentsAPIQuery(t *testing.T) {
	src := historySource()
	src.incidents = manyIncidents(7)
	h := newTestHandler(src, nil, nil)

	rec := serve(h, http.MethodGet, "/api/v1/incidents?state=resolved&monitor=api&since=7d&limit=1")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	q := src.askedQueries()[0]
	if q.State != "resolved" || q.Monitor != "api" || q.Limit != 1 || !q.Since.Equal(testNow.Add(-7*24*time.Hour)) || !q.Before.IsZero() {
		t.Errorf("query %+v", q)
	}
	body := decodeMap(t, rec)
	next, _ := body["next"].(string)
	u, err := url.Parse(next)
	if err != nil || next == "" {
		t.Fatalf("next %q: %v", next, err)
	}
	// The age is pinned, the rest kept, the cursor added.
	nq := u.Query()
	if nq.Get("since") != "2026-11-14T12:00:00Z" || nq.Get("state") != "resolved" || nq.Get("monitor") != "api" || nq.Get("limit") != "1" || nq.Get("before") == "" {
		t.Errorf("next = %q", next)
	}
	serve(h, http.MethodGet, next)
	q2 := src.askedQueries()[1]
	if first := body["incidents"].([]any)[0].(map[string]any); q2.Before.ID != int64(first["id"].(float64)) || !q2.Since.Equal(q.Since) {
		t.Errorf("second query %+v after %v", q2, first)
	}

	// No incidents: an empty array, no next.
	rec = serve(h, http.MethodGet, "/api/v1/incidents?monitor=nosuch")
	body = decodeMap(t, rec)
	if a, ok := body["incidents"].([]any); rec.Code != 200 || !ok || len(a) != 0 {
		t.Errorf("none: %d %s", rec.Code, rec.Body)
	}
	if _, ok := body["next"]; ok || body["limit"] != float64(history.DefaultIncidentLimit) {
		t.Errorf("none: %s", rec.Body)
	}
}

func TestIncidentsAPIErrors(t *testing.T) {
	var logs testkit.Buffer
	src := historySource()
	h := Handler(src, nil, slog.New(slog.NewTextHandler(&logs, nil)), WithClock(func() time.Time { return testNow }))
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tt := range []struct{ query, param string }{
		{"state=closed", "state"},
		{"state=OPEN", "state"},
		{"since=yesterday", "since"},
		{"since=-1h", "since"},
		{"since=0s", "since"},
		{"since=-3d", "since"},
		{"since=99999999999999d", "since"},
		{"since=2026-13-01T00:00:00Z", "since"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"before=!!", "before"},
		{"before=" + b64([]byte("12345")), "before"},
		{"before=" + b64([]byte("12345.0")), "before"},
		{"before=" + b64([]byte("12345.-4")), "before"},
		{"before=" + b64([]byte("+12345.4")), "before"},
		{"before=" + b64([]byte("012345.4")), "before"},
		{"before=" + b64([]byte("12345.4.5")), "before"},
		{"before=" + base64.URLEncoding.EncodeToString([]byte("12345.4")), "before"}, // padded
	} {
		rec := serve(h, http.MethodGet, "/api/v1/incidents?"+tt.query)
		if rec.Code != 400 {
			t.Errorf("%s: %d %s", tt.query, rec.Code, rec.Body)
			continue
		}
		if msg := decodeError(t, rec); !strings.HasPrefix(msg, tt.param+" ") {
			t.Errorf("%s: error %q does not name %s", tt.query, msg, tt.param)
		}
	}
	if n := len(src.askedQueries()); n != 0 {
		t.Errorf("%d bad queries reached the source", n)
	}

	src.incErr = errors.New("disk I/O error")
	rec := serve(h, http.MethodGet, "/api/v1/incidents")
	if rec.Code != 500 || decodeError(t, rec) != "cannot list incidents: disk I/O error" || !strings.Contains(logs.String(), "disk I/O error") {
		t.Errorf("store error: %d %s (log %s)", rec.Code, rec.Body, logs.String())
	}
}

func TestParseSince(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-20T08:30:00Z", time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)},
		{"2026-11-20T09:30:00.5+01:00", time.Date(2026, 11, 20, 8, 30, 0, 5e8, time.UTC)},
		{"24h", testNow.Add(-24 * time.Hour)},
		{"90m", testNow.Add(-90 * time.Minute)},
		{"1h30m", testNow.Add(-90 * time.Minute)},
		{"7d", testNow.Add(-7 * 24 * time.Hour)},
	} {
		got, err := parseSince(tt.in, testNow)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, c := range []history.Cursor{
		{OpenedAt: testNow, ID: 1},
		{OpenedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), ID: 1 << 60},
	} {
		s := encodeCursor(c)
		got, err := decodeCursor(s)
		if err != nil || !got.OpenedAt.Equal(c.OpenedAt) || got.ID != c.ID {
			t.Errorf("decode(encode(%v)) = %v, %v", c, got, err)
		}
		if strings.ContainsAny(s, "+/=") {
			t.Errorf("cursor %q is not URL-safe", s)
		}
	}
}

// The history and incidents bodies, like the others, write no bare time.
func TestHistoryAPIHasNoBareTime(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[history.Report](), reflect.TypeFor[incidentsResponse]()} {
		if bare := bareTimes(typ); len(bare) > 0 {
			t.Errorf("%s shows time.Time fields: %v", typ.Name(), bare)
		}
	}
}
