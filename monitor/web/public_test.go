package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// secrets are what the fake daemon below knows and the public must never
// read: each is unique, so a hit says which field leaked.
var secrets = []string{
	"secret-target.example.test", "SECRET-PATH", "ERRTEXT-1", "DETAIL-2", "EVIDENCE-3", "HEADER-4", "MARKER-5",
	"FIX-6", "203.0.113.7", "GATEWAY-8", "VIA-9", "TAG-10", "PROBLEM-11", "INC-DETAIL-12", "INC-GW-13",
	"NOTE-14", "LAST-ERR-15", "VANTAGE-ERR-16", "198.51.100.17", "HIDDEN-MON-18", "DIAG-19", "ISSUER-20",
	"DNS-21", "REFUSED-22",
}

// leakySource is a daemon with a visible monitor "shop" holding a secret
// in every field, and a hidden one, HIDDEN-MON-18.
func leakySource() *fakeHistory {
	u := "https://user:pw@secret-target.example.test/SECRET-PATH?q=1"
	res := result.Result{
		URL: u, FinalURL: u, Class: result.ClassBadGateway, Status: 502, Gateway: "GATEWAY-8", Via: []string{"VIA-9"},
		Detail: "DETAIL-2", Error: "ERRTEXT-1 from " + u, RemoteAddr: "203.0.113.7:443",
		Phases: result.Phases{TotalMs: 182}, TLS: &result.TLSInfo{Issuer: "ISSUER-20"}, DNSServer: "DNS-21",
		Evidence: result.Evidence{Headers: []string{"X-Leak: HEADER-4"}, Body: "EVIDENCE-3", Markers: []string{"MARKER-5"}},
		Fixes:    []string{"FIX-6"}, Refusal: &result.Refusal{Reason: "REFUSED-22"},
	}
	last := &result.Outcome{Result: res, Scope: result.ScopePartial,
		Vantages:  []result.VantageLine{{Name: "eu", Status: result.VantageDown, Result: &res, Error: "LAST-ERR-15 198.51.100.17"}},
		Diagnosis: &result.Diagnosis{Host: "DIAG-19", Notes: []string{"DIAG-19"}},
	}
	inc := &incident.Incident{ID: 9, Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical,
		OpenedAt: result.TimeOf(testNow.Add(-time.Hour)), Class: result.ClassBadGateway, Gateway: "INC-GW-13", Detail: "INC-DETAIL-12",
		Scope: result.ScopePartial, Regions: []string{"eu"},
		Changes: []incident.Change{{At: result.TimeOf(testNow.Add(-30 * time.Minute)), Class: result.ClassBadGateway, Detail: "INC-DETAIL-12", Gateway: "INC-GW-13", Note: "NOTE-14"}},
		Last:    last,
	}
	mons := []MonitorView{
		{Name: "HIDDEN-MON-18", URL: u, Tags: []string{"private"}, State: incident.StateDown, LastResult: last, OpenIncident: inc},
		{Name: "shop", URL: u, Tags: []string{"public", "TAG-10"}, Schedule: "@every 30s", State: incident.StateDown,
			LastCheck: result.TimeOf(testNow), LastResult: last, OpenIncident: inc},
		{Name: "stale", URL: u, Tags: []string{"public"}, State: incident.StateUp, Problem: "PROBLEM-11 decoding " + u},
	}
	entry := history.Entry(inc, testNow)
	entry.Gateway = "INC-GW-13"
	hidden := entry
	hidden.ID, hidden.Monitor = 10, "HIDDEN-MON-18"
	rep := apiSampleReport("shop")
	rep.Incidents = []history.IncidentEntry{entry}
	return &fakeHistory{
		fakeSource: fakeSource{mons: mons},
		reports:    map[string]*history.Report{"shop": rep, "HIDDEN-MON-18": apiSampleReport("HIDDEN-MON-18")},
		incidents:  []history.IncidentEntry{entry, hidden},
		overview:   map[string]Overview{"shop": {}, "HIDDEN-MON-18": {}},
		vantages: vantage.Snapshot{Vantages: []vantage.Health{
			{Name: "eu", State: vantage.Unreachable, Since: testNow, Error: "VANTAGE-ERR-16 dial 198.51.100.17:7070", Monitors: []string{"HIDDEN-MON-18"}},
		}},
	}
}

// publicOnly is the allow of a [status_page] with tags = ["public"].
func publicOnly(m *MonitorView) bool { return slices.Contains(m.Tags, "public") }

func publicHandler(src Source, log *slog.Logger) http.Handler {
	return Handler(src, http.NotFoundHandler(), log, WithClock(func() time.Time { return testNow }), WithPublic(func() string { return "Status" }, publicOnly))
}

func assertNoLeak(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Errorf("%s shows %q:\n%s", what, s, body)
		}
	}
}

// Every private path is 404 on the public listener, whatever the method,
// and says nothing of the daemon.
func TestPublicServesNoPrivatePath(t *testing.T) {
	src := leakySource()
	h := publicHandler(src, nil)
	for _, p := range []string{
		"/metrics", "/healthz", "/api", "/api/", "/api/v1", "/api/v1/monitors", "/api/v1/monitors/", "/api/v1/monitors/shop",
		"/api/v1/monitors/shop/history", "/api/v1/monitors/HIDDEN-MON-18", "/api/v1/incidents", "/api/v1/incidents?state=open",
		"/api/v1/notifications", "/api/v2/monitors", "/debug/pprof/", "/status.html", "/favicon.ico", "/robots.txt",
		"/badge/HIDDEN-MON-18/status.svg", "/badge/HIDDEN-MON-18/uptime/30d.svg", "/badge/HIDDEN-MON-18/response/24h.svg",
		"/badge/nosuch/status.svg", "/badge/shop", "/badge/shop/uptime/2h.svg", "/monitorsx", "/index.html",
	} {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			if strings.HasPrefix(p, "/badge/") && m == http.MethodPost {
				continue // a badge route: 405, tested below
			}
			rec := serve(h, m, p)
			if rec.Code != http.StatusNotFound {
				t.Errorf("%s %s: %d %s", m, p, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("%s %s: Content-Type %q", m, p, ct)
			}
			if m != http.MethodHead && rec.Body.String() != publicNotFound+"\n" {
				t.Errorf("%s %s: body %q", m, p, rec.Body)
			}
		}
	}
	// A monitor the page does not show has no detail page either.
	if rec := serve(h, http.MethodGet, "/monitors/HIDDEN-MON-18"); rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "HIDDEN-MON-18-url") {
		t.Errorf("GET the detail page of a hidden monitor: %d %s", rec.Code, rec.Body)
	}
	if rec := serve(h, http.MethodPost, "/badge/shop/status.svg"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST to a badge: %d", rec.Code)
	}
	if n := len(src.askedQueries()); n != 0 {
		t.Errorf("the public handler listed incidents %d times", n)
	}
}

// What the public does see leaks nothing: pages and badges.
func TestPublicShowsNoSecret(t *testing.T) {
	src := leakySource()
	h := publicHandler(src, nil)
	for _, p := range []string{
		"/", "/?state=down", "/monitors/shop", "/monitors/stale",
		"/badge/shop/status.svg", "/badge/shop/uptime/30d.svg", "/badge/shop/response/24h.svg", "/badge/stale/status.svg",
	} {
		rec := serve(h, http.MethodGet, p)
		if rec.Code == http.StatusNotFound {
			t.Errorf("%s: 404", p)
		}
		assertNoLeak(t, p, rec.Body.String())
		for k, vs := range rec.Header() {
			assertNoLeak(t, p+" header "+k, strings.Join(vs, " "))
		}
	}
	// The badges are there, and cacheable by anyone.
	rec := serve(h, http.MethodGet, "/badge/shop/status.svg")
	if b := decodeBadge(t, rec); b.message() != "degraded" {
		t.Errorf("shop's status badge says %q", b.message())
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("Cache-Control %q", cc)
	}
	if b := decodeBadge(t, serve(h, http.MethodGet, "/badge/shop/uptime/30d.svg")); b.message() != "95.83%" {
		t.Errorf("shop's uptime badge says %q", b.message())
	}
	if body := serve(h, http.MethodGet, "/").Body.String(); !strings.Contains(body, "shop") {
		t.Errorf("the public page does not show shop:\n%s", body)
	}
}

// When the daemon fails, its error text stays in the log.
func TestPublicHidesErrors(t *testing.T) {
	var logs testkit.Buffer
	src := leakySource()
	src.err = errors.New("ERRTEXT-1 opening /var/lib/vantage/SECRET-PATH")
	h := publicHandler(src, slog.New(slog.NewTextHandler(&logs, nil)))
	for _, p := range []string{"/", "/monitors/shop", "/badge/shop/status.svg", "/badge/shop/uptime/30d.svg"} {
		rec := serve(h, http.MethodGet, p)
		if rec.Code < 500 {
			t.Errorf("%s: %d", p, rec.Code)
		}
		assertNoLeak(t, p, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "ERRTEXT-1") {
		t.Errorf("the error was not logged: %s", logs.String())
	}

	src = leakySource()
	src.historyErr = errors.New("ERRTEXT-1 in the rollups of secret-target.example.test")
	h = publicHandler(src, nil)
	rec := serve(h, http.MethodGet, "/badge/shop/uptime/30d.svg")
	if rec.Code != 500 {
		t.Errorf("history error: %d", rec.Code)
	}
	assertNoLeak(t, "history error", rec.Body.String())
}

// The public source, which the pages read: only the allowed monitors exist
// (neither listed nor counted nor reported), each stripped to the allowlist.
func TestPublicSource(t *testing.T) {
	src := leakySource()
	var calledWith []string
	allow := func(m *MonitorView) bool {
		calledWith = append(calledWith, fmt.Sprint(m.Tags))
		return publicOnly(m)
	}
	ps := newPublicSource(src, allow, slog.New(slog.DiscardHandler))
	hs, ok := ps.(HistorySource)
	if !ok {
		t.Fatal("the public source of a history source keeps no history")
	}
	if _, ok := newPublicSource(&fakeSource{}, allow, slog.New(slog.DiscardHandler)).(HistorySource); ok {
		t.Error("the public source of a plain source claims history")
	}
	ctx := context.Background()

	mons, err := ps.Monitors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mons {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"shop", "stale"}) {
		t.Errorf("monitors %v", names)
	}
	// allow saw the daemon's views, tags and all.
	if !slices.Contains(calledWith, "[public TAG-10]") {
		t.Errorf("allow was called with %v", calledWith)
	}
	shop := mons[0]
	if shop.State != incident.StateDown || shop.OpenIncident == nil || shop.OpenIncident.Scope != result.ScopePartial ||
		!slices.Equal(shop.OpenIncident.Regions, []string{"eu"}) || shop.LastResult == nil || shop.LastResult.Phases.TotalMs != 182 ||
		shop.LastResult.Class != result.ClassBadGateway || shop.LastCheck.IsZero() {
		t.Errorf("the public view lost what it may show: %+v", shop)
	}
	if mons[1].Problem == "" {
		t.Error("stale lost that it is not being checked")
	}

	rep, err := hs.History(ctx, "shop", history.Window30d)
	if err != nil || rep == nil || rep.UptimeRatio == nil || len(rep.Incidents) != 1 || len(rep.Latency) != 1 {
		t.Fatalf("History(shop) = %+v, %v", rep, err)
	}
	if _, err := hs.History(ctx, "HIDDEN-MON-18", history.Window30d); !errors.Is(err, ErrUnknownMonitor) {
		t.Errorf("History(hidden) error %v, want ErrUnknownMonitor", err)
	}

	es, next, err := hs.Incidents(ctx, history.IncidentQuery{Limit: 10})
	if err != nil || len(es) != 1 || es[0].Monitor != "shop" || !next.IsZero() {
		t.Errorf("Incidents = %+v, %v, %v", es, next, err)
	}
	if es, _, _ := hs.Incidents(ctx, history.IncidentQuery{Monitor: "HIDDEN-MON-18", Limit: 10}); len(es) != 0 {
		t.Errorf("hidden incidents: %+v", es)
	}

	ov, err := hs.Overview(ctx, []string{"shop", "HIDDEN-MON-18"})
	if _, hidden := ov["HIDDEN-MON-18"]; err != nil || hidden || len(ov) != 1 {
		t.Errorf("Overview = %v, %v", ov, err)
	}
	if asked := src.overviews[len(src.overviews)-1]; !slices.Equal(asked, []string{"shop"}) {
		t.Errorf("Overview asked the daemon for %v", asked)
	}

	snap, ok := hs.Vantages(ctx)
	if !ok || len(snap.Vantages) != 1 || snap.Vantages[0].Name != "eu" || snap.Vantages[0].State != vantage.Unreachable {
		t.Errorf("Vantages = %+v, %v", snap, ok)
	}

	// Nothing they return holds a secret, in any field.
	for what, v := range map[string]any{"monitors": mons, "history": rep, "incidents": es, "vantages": snap} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		assertNoLeak(t, what, string(b))
	}
}

// A public page of incidents skips the hidden monitors' ones across the
// daemon's pages, and its cursor goes on where it stopped.
func TestPublicIncidentsPaging(t *testing.T) {
	src := leakySource()
	src.incidents = nil
	for i := 1; i <= 9; i++ {
		m := "shop"
		if i%3 != 0 {
			m = "HIDDEN-MON-18"
		}
		src.incidents = append(src.incidents, history.IncidentEntry{ID: int64(i), Monitor: m, OpenedAt: result.TimeOf(testNow.Add(time.Duration(i) * time.Minute))})
	}
	hs := newPublicSource(src, publicOnly, slog.New(slog.DiscardHandler)).(HistorySource)
	var ids []int64
	q := history.IncidentQuery{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the pages do not end")
		}
		es, next, err := hs.Incidents(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		if next.IsZero() {
			break
		}
		q.Before = next
	}
	if !slices.Equal(ids, []int64{9, 6, 3}) {
		t.Errorf("ids %v, want [9 6 3]", ids)
	}
}

// A name the public may see that needs escaping still finds its badge.
func TestPublicBadgeEscapedName(t *testing.T) {
	src := &fakeHistory{fakeSource: fakeSource{mons: []MonitorView{{Name: "a b/c", Tags: []string{"public"}, State: incident.StateUp}}}}
	h := publicHandler(src, nil)
	if b := decodeBadge(t, serve(h, http.MethodGet, "/badge/"+url.PathEscape("a b/c")+"/status.svg")); b.label() != "a b/c" {
		t.Errorf("label %q", b.label())
	}
}
