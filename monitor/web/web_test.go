package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// fakeSource serves fixed monitors and counts calls, so tests can check
// that each request reads the daemon once.
type fakeSource struct {
	mons   []MonitorView
	err    error
	health error

	mu    sync.Mutex
	calls int
}

func (f *fakeSource) Monitors(context.Context) ([]MonitorView, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return f.mons, f.err
}

func (f *fakeSource) Health(context.Context) error { return f.health }

func (f *fakeSource) monitorCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

var testNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func newTestHandler(src Source, metrics http.Handler, log *slog.Logger) http.Handler {
	return Handler(src, metrics, log, WithClock(func() time.Time { return testNow }))
}

// serve runs one request through h and returns the recorded response.
func serve(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// sampleMonitors is one monitor in each state, in name order as the daemon
// gives them, so sorting on the page has work to do.
func sampleMonitors() []MonitorView {
	return []MonitorView{
		{
			Name: "api", URL: "https://api.example.test/healthz", Tags: []string{"prod"},
			Schedule: "@every 30s", State: incident.StateUp,
			LastCheck:  result.TimeOf(testNow.Add(-12 * time.Second)),
			LastResult: &result.Outcome{Result: result.Result{URL: "https://api.example.test/healthz", OK: true, Class: result.ClassOK, Status: 200, Phases: result.Phases{TotalMs: 42}}},
		},
		{
			Name: "blog", URL: "https://blog.example.test/", Schedule: "@every 1m", State: incident.StateFailing,
			LastCheck:  result.TimeOf(testNow.Add(-3 * time.Second)),
			LastResult: &result.Outcome{Result: result.Result{Class: result.ClassConnectTimeout, Detail: "connect", Error: "dial tcp: i/o timeout", Phases: result.Phases{TotalMs: 5000}}},
		},
		{
			Name: "new", URL: "https://new.example.test/", Schedule: "@every 1m",
		},
		{
			Name: "shop", URL: "https://shop.example.test/healthz", Tags: []string{"prod", "eu"},
			Schedule: "*/2 * * * *", State: incident.StateDown, Flapping: true, Skipped: 3,
			LastCheck: result.TimeOf(testNow.Add(-75 * time.Second)),
			LastResult: &result.Outcome{Result: result.Result{
				Class: result.ClassBadGateway, Status: 502, Gateway: "nginx", Via: []string{"cloudflare"},
				Detail: "upstream-refused", Phases: result.Phases{TotalMs: 123.4},
			}},
			OpenIncident: &incident.Incident{
				ID: 7, Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical,
				OpenedAt: result.TimeOf(testNow.Add(-5 * time.Minute)), Class: result.ClassBadGateway, Gateway: "nginx", Status: 502,
			},
		},
	}
}

func TestHealthz(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		health   error
		wantCode int
		wantBody string
	}{
		{"healthy", http.MethodGet, nil, 200, "ok\n"},
		{"unhealthy", http.MethodGet, errors.New("scheduler stalled for 2m"), 503, "unhealthy: scheduler stalled for 2m\n"},
		{"post", http.MethodPost, nil, 405, "method POST not allowed; use GET or HEAD\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(&fakeSource{health: tt.health}, nil, nil)
			rec := serve(h, tt.method, "/healthz")
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.wantCode, tt.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

// TestHeadOverServer checks HEAD through a real server, where net/http
// drops the body, not just through a recorder.
func TestHeadOverServer(t *testing.T) {
	srv := httptest.NewServer(newTestHandler(&fakeSource{mons: sampleMonitors()}, nil, nil))
	defer srv.Close()
	for _, p := range []string{"/healthz", "/", "/api/v1/monitors"} {
		resp, err := http.Head(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) != 0 {
			t.Errorf("HEAD %s: %d with %d body bytes", p, resp.StatusCode, len(body))
		}
	}
}

func TestMetrics(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, "vantage_checks_total{monitor=\"shop\"} 3\n")
	})
	rec := serve(newTestHandler(&fakeSource{}, metrics, nil), http.MethodGet, "/metrics")
	if rec.Code != 200 || rec.Body.String() != "vantage_checks_total{monitor=\"shop\"} 3\n" {
		t.Errorf("passthrough: %d %q", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4" {
		t.Errorf("Content-Type = %q, want the metrics handler's", ct)
	}

	rec = serve(newTestHandler(&fakeSource{}, nil, nil), http.MethodGet, "/metrics")
	if rec.Code != 404 {
		t.Errorf("nil metrics handler: %d, want 404", rec.Code)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	called := false
	metrics := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
	src := &fakeSource{mons: sampleMonitors()}
	h := newTestHandler(src, metrics, nil)
	for _, path := range []string{"/", "/healthz", "/metrics", "/api/v1/monitors", "/api/v1/monitors/shop"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			rec := serve(h, method, path)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 405", method, path, rec.Code)
			}
			if a := rec.Header().Get("Allow"); a != "GET, HEAD" {
				t.Errorf("%s %s: Allow = %q", method, path, a)
			}
			if strings.HasPrefix(path, "/api/") {
				if msg := decodeError(t, rec); !strings.Contains(msg, method) {
					t.Errorf("%s %s: error %q does not name the method", method, path, msg)
				}
			}
		}
	}
	if called || src.monitorCalls() != 0 {
		t.Errorf("a refused request reached the daemon: metrics %v, Monitors calls %d", called, src.monitorCalls())
	}
}

func TestNotFound(t *testing.T) {
	h := newTestHandler(&fakeSource{mons: sampleMonitors()}, nil, nil)
	if rec := serve(h, http.MethodGet, "/nope"); rec.Code != 404 {
		t.Errorf("/nope: %d", rec.Code)
	}
	rec := serve(h, http.MethodGet, "/api/v2/monitors")
	if rec.Code != 404 {
		t.Errorf("/api/v2/monitors: %d", rec.Code)
	}
	if msg := decodeError(t, rec); msg != "no such endpoint: /api/v2/monitors" {
		t.Errorf("error = %q", msg)
	}
}

// decodeError checks that a response is a JSON error object and returns
// its message.
func decodeError(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
	}
	msg, ok := m["error"].(string)
	if len(m) != 1 || !ok {
		t.Fatalf("error body %q is not {\"error\": string}", rec.Body.String())
	}
	return msg
}

func decodeMap(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", rec.Body.String(), err)
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

var monitorKeys = []string{"flapping", "last_check", "last_result", "name", "open_incident", "schedule", "skipped_rounds", "state", "tags", "url", "warnings"}

func TestAPIList(t *testing.T) {
	src := &fakeSource{mons: sampleMonitors()}
	rec := serve(newTestHandler(src, nil, nil), http.MethodGet, "/api/v1/monitors")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if src.monitorCalls() != 1 {
		t.Errorf("Monitors called %d times, want 1", src.monitorCalls())
	}
	body := decodeMap(t, rec)
	// One page holds them all: no "next".
	if got := sortedKeys(body); !slices.Equal(got, []string{"generated_at", "limit", "monitors", "page", "total"}) {
		t.Fatalf("top-level keys %v", got)
	}
	if body["generated_at"] != "2026-11-21T12:00:00Z" {
		t.Errorf("generated_at = %v", body["generated_at"])
	}
	list, ok := body["monitors"].([]any)
	if !ok || len(list) != 4 {
		t.Fatalf("monitors = %v", body["monitors"])
	}
	var names []string
	for _, x := range list {
		m := x.(map[string]any)
		if got := sortedKeys(m); !slices.Equal(got, monitorKeys) {
			t.Errorf("monitor keys %v, want %v", got, monitorKeys)
		}
		if _, isArray := m["tags"].([]any); !isArray {
			t.Errorf("%v: tags = %#v, want an array (never null)", m["name"], m["tags"])
		}
		if _, isArray := m["warnings"].([]any); !isArray {
			t.Errorf("%v: warnings = %#v, want an array (never null)", m["name"], m["warnings"])
		}
		names = append(names, m["name"].(string))
	}
	if want := []string{"api", "blog", "new", "shop"}; !slices.Equal(names, want) {
		t.Errorf("order %v, want the source's %v", names, want)
	}

	shop := list[3].(map[string]any)
	if shop["state"] != "down" || shop["flapping"] != true || shop["skipped_rounds"] != 3.0 {
		t.Errorf("shop = %v", shop)
	}
	lr := shop["last_result"].(map[string]any)
	for _, k := range []string{"class", "status", "gateway", "via", "detail", "error", "phases", "evidence", "fixes"} {
		if _, ok := lr[k]; !ok {
			t.Errorf("last_result lacks %q", k)
		}
	}
	if lr["class"] != "bad_gateway" || lr["status"] != 502.0 {
		t.Errorf("last_result = %v", lr)
	}
	if fixes, ok := lr["fixes"].([]any); !ok || len(fixes) != 0 {
		t.Errorf("fixes = %#v, want []", lr["fixes"])
	}
	inc := shop["open_incident"].(map[string]any)
	if inc["id"] != 7.0 || inc["class"] != "bad_gateway" || inc["opened_at"] != "2026-11-21T11:55:00Z" {
		t.Errorf("open_incident = %v", inc)
	}
	if list[2].(map[string]any)["last_result"] != nil || list[2].(map[string]any)["open_incident"] != nil {
		t.Errorf("unchecked monitor: %v", list[2])
	}
	// Normalizing for JSON must not write into the daemon's shared results.
	if src.mons[3].LastResult.Fixes != nil || src.mons[3].LastResult.Evidence.Headers != nil {
		t.Errorf("the source's result was normalized in place")
	}
	if src.mons[1].Tags != nil {
		t.Errorf("the source's nil tags were replaced")
	}
}

func TestAPIFilter(t *testing.T) {
	h := newTestHandler(&fakeSource{mons: sampleMonitors()}, nil, nil)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"api", "blog", "new", "shop"}},
		{"state=down", []string{"shop"}},
		{"state=DOWN", []string{"shop"}},
		{"state=down,failing", []string{"blog", "shop"}},
		{"state=down&state=up", []string{"api", "shop"}},
		{"state=recovering", []string{}},
		{"tag=prod", []string{"api", "shop"}},
		{"tag=eu,staging", []string{"shop"}},
		{"tag=prod&state=up", []string{"api"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rec := serve(h, http.MethodGet, "/api/v1/monitors?"+tt.query)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var resp listResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, m := range resp.Monitors {
				got = append(got, m.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if !strings.Contains(rec.Body.String(), `"monitors":[`) {
				t.Errorf("monitors is not an array: %s", rec.Body)
			}
		})
	}

	rec := serve(h, http.MethodGet, "/api/v1/monitors?state=sideways")
	if rec.Code != 400 {
		t.Errorf("bad state: %d", rec.Code)
	}
	if msg := decodeError(t, rec); !strings.Contains(msg, `"sideways"`) || !strings.Contains(msg, "recovering") {
		t.Errorf("bad state error %q should name the value and the choices", msg)
	}
	if rec := serve(h, http.MethodGet, "/?state=sideways"); rec.Code != 400 {
		t.Errorf("page with bad state: %d", rec.Code)
	}
}

func TestAPIOne(t *testing.T) {
	mons := append(sampleMonitors(), MonitorView{Name: "a/b c?", URL: "https://odd.example.test/", State: incident.StateUp})
	src := &fakeSource{mons: mons}
	h := newTestHandler(src, nil, nil)

	rec := serve(h, http.MethodGet, "/api/v1/monitors/shop")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := decodeMap(t, rec)
	if got := sortedKeys(body); !slices.Equal(got, []string{"generated_at", "monitor"}) {
		t.Fatalf("keys %v", got)
	}
	m := body["monitor"].(map[string]any)
	if got := sortedKeys(m); !slices.Equal(got, monitorKeys) {
		t.Errorf("monitor keys %v", got)
	}
	if m["name"] != "shop" || m["state"] != "down" {
		t.Errorf("monitor = %v", m)
	}
	if src.monitorCalls() != 1 {
		t.Errorf("Monitors called %d times, want 1", src.monitorCalls())
	}

	rec = serve(h, http.MethodGet, "/api/v1/monitors/"+url.PathEscape("a/b c?"))
	if rec.Code != 200 || decodeMap(t, rec)["monitor"].(map[string]any)["name"] != "a/b c?" {
		t.Errorf("escaped name: %d %s", rec.Code, rec.Body)
	}

	rec = serve(h, http.MethodGet, "/api/v1/monitors/")
	if rec.Code != 200 || len(decodeMap(t, rec)["monitors"].([]any)) != len(mons) {
		t.Errorf("trailing slash: %d %s", rec.Code, rec.Body)
	}

	rec = serve(h, http.MethodGet, "/api/v1/monitors/nosuch")
	if rec.Code != 404 {
		t.Errorf("unknown monitor: %d", rec.Code)
	}
	if msg := decodeError(t, rec); msg != `no monitor named "nosuch"` {
		t.Errorf("error = %q", msg)
	}
}

func TestMonitorsError(t *testing.T) {
	tests := []struct {
		path  string
		json  bool
		ctype string
	}{
		{"/api/v1/monitors", true, "application/json"},
		{"/api/v1/monitors/shop", true, "application/json"},
		{"/", false, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			src := &fakeSource{err: errors.New("store is closed")}
			rec := serve(newTestHandler(src, nil, log), http.MethodGet, tt.path)
			if rec.Code != 500 {
				t.Fatalf("status %d", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.ctype {
				t.Errorf("Content-Type = %q", ct)
			}
			msg := rec.Body.String()
			if tt.json {
				msg = decodeError(t, rec)
			}
			if !strings.Contains(msg, "cannot list monitors: store is closed") {
				t.Errorf("message %q", msg)
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "store is closed") {
				t.Errorf("want one log line with the error, got %d:\n%s", n, logs.String())
			}
		})
	}
}

func TestRedactPasswords(t *testing.T) {
	mons := []MonitorView{{
		Name: "private", URL: "https://bob:hunter2@intranet.example.test/status", State: incident.StateDown,
		LastResult: &result.Outcome{Result: result.Result{URL: "https://bob:hunter2@intranet.example.test/status", Status: 401, Class: result.ClassClientError}},
		OpenIncident: &incident.Incident{
			Class: result.ClassClientError,
			Last:  &result.Outcome{Result: result.Result{URL: "https://bob:hunter2@intranet.example.test/status"}},
		},
	}}
	src := &fakeSource{mons: mons}
	h := newTestHandler(src, nil, nil)
	for _, p := range []string{"/", "/api/v1/monitors", "/api/v1/monitors/private"} {
		rec := serve(h, http.MethodGet, p)
		if strings.Contains(rec.Body.String(), "hunter2") {
			t.Errorf("%s shows the password", p)
		}
		if !strings.Contains(rec.Body.String(), "bob:xxxxx@intranet.example.test") {
			t.Errorf("%s lost the redacted URL:\n%s", p, rec.Body)
		}
	}
	if mons[0].LastResult.URL != "https://bob:hunter2@intranet.example.test/status" || mons[0].OpenIncident.Last.URL != mons[0].LastResult.URL {
		t.Errorf("redaction wrote into the source's results")
	}
}
