package web

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// The warned monitors: tls-edge, up with a critical certificate warning
// (its leaf has a day left, seen from fra1; local was served a renewed
// one), and api-slow, up and degraded: TTFB over 500 ms from fra1 and
// iad1, fast from local.
const (
	certMonitor = "tls-edge"
	slowMonitor = "api-slow"
	leafSerial  = "04:a3:9f:11:7c:00:de:ad:be:ef"
	freshSerial = "03:77:01:aa"
)

func warnedMonitors() []MonitorView {
	notAfter := result.TimeOf(testNow.Add(26 * time.Hour))
	leaf := &result.CertInfo{
		Subject: "CN=tls-edge.example.test", Issuer: "CN=R11,O=Let's Encrypt,C=US", Serial: leafSerial,
		NotAfter: notAfter, DaysLeft: 1, DNSNames: []string{"tls-edge.example.test", "www.tls-edge.example.test"},
	}
	fresh := &result.CertInfo{
		Subject: leaf.Subject, Issuer: leaf.Issuer, Serial: freshSerial,
		NotAfter: result.TimeOf(testNow.Add(89 * 24 * time.Hour)), DaysLeft: 89, DNSNames: leaf.DNSNames,
	}
	certURL := "https://tls-edge.example.test/"
	certRound := &result.Outcome{Result: result.Result{
		URL: certURL, OK: true, Class: result.ClassOK, Status: 200, Phases: result.Phases{DNSMs: 2, ConnectMs: 10, TLSMs: 30, TTFBMs: 60, TotalMs: 70},
		TLS: &result.TLSInfo{Subject: leaf.Subject, Issuer: leaf.Issuer, Serial: leafSerial, NotAfter: notAfter, DaysLeft: 1,
			DNSNames: leaf.DNSNames, Version: "TLS 1.3", Earliest: leaf},
	}}
	certWarning := incident.Incident{
		ID: 21, Monitor: certMonitor, Kind: incident.KindCertificate, Severity: incident.SeverityCritical,
		Class: result.ClassCertExpiring, Detail: result.WarnDetail(2), Scope: result.ScopePartial, Regions: []string{"fra1"},
		OpenedAt: result.TimeOf(testNow.Add(-3 * time.Hour)),
		Last: &result.Outcome{
			Result: result.Result{URL: certURL, Class: result.ClassCertExpiring, Detail: result.WarnDetail(2), Fixes: []string{
				"The certificate is from Let's Encrypt (ACME): check the renewal timer (systemctl list-timers certbot) and run certbot renew --dry-run",
				"openssl s_client -connect tls-edge.example.test:443 -servername tls-edge.example.test from fra1",
			}},
			Warning: &result.Warning{
				Kind: "certificate", Summary: "certificate expires in 1 day (2026-11-22), served to fra1",
				Cert: leaf, ThresholdDays: 2,
				Seen: []result.WarningSeen{
					{Vantage: "fra1", Over: true, Cert: leaf, RemoteAddr: "192.0.2.10:443"},
					{Vantage: result.LocalVantage, Cert: fresh, RemoteAddr: "192.0.2.20:443"},
				},
			},
		},
	}
	slowURL := "https://api-slow.example.test/healthz"
	slowWarning := incident.Incident{
		ID: 22, Monitor: slowMonitor, Kind: incident.KindPerformance, Severity: incident.SeverityWarning,
		Class: result.ClassDegraded, Detail: result.PhaseTTFB, Scope: result.ScopePartial, Regions: []string{"fra1", "iad1"},
		OpenedAt: result.TimeOf(testNow.Add(-20 * time.Minute)), FirstFailure: result.TimeOf(testNow.Add(-21 * time.Minute)),
		Last: &result.Outcome{
			Result: result.Result{URL: slowURL, Class: result.ClassDegraded, Detail: result.PhaseTTFB, Fixes: []string{
				"A slow TTFB from every vantage is the app or its upstreams: look at its slow queries and upstream latency",
			}},
			Warning: &result.Warning{
				Kind: "performance", Summary: "TTFB 2.4 s from fra1 and iad1, 40 ms from local",
				Phase: result.PhaseTTFB, ThresholdMs: 500,
				Seen: []result.WarningSeen{
					{Vantage: "fra1", Over: true, Ms: 2400},
					{Vantage: "iad1", Over: true, Ms: 2380},
					{Vantage: result.LocalVantage, Ms: 40},
				},
			},
		},
	}
	return []MonitorView{
		{
			Name: slowMonitor, URL: slowURL, Schedule: "@every 30s", State: incident.StateUp,
			LastCheck: result.TimeOf(testNow.Add(-10 * time.Second)),
			LastResult: &result.Outcome{Result: result.Result{URL: slowURL, OK: true, Class: result.ClassOK, Status: 200,
				Phases: result.Phases{DNSMs: 2, ConnectMs: 11, TLSMs: 25, TTFBMs: 2400, TotalMs: 2440}}},
			Warnings: []incident.Incident{slowWarning},
		},
		{Name: "plain", URL: "https://plain.example.test/", Schedule: "@every 30s", State: incident.StateUp,
			LastCheck:  result.TimeOf(testNow.Add(-5 * time.Second)),
			LastResult: &result.Outcome{Result: result.Result{OK: true, Class: result.ClassOK, Status: 200, Phases: result.Phases{TotalMs: 30}}}},
		{
			Name: certMonitor, URL: certURL, Schedule: "@every 1m", State: incident.StateUp,
			LastCheck: result.TimeOf(testNow.Add(-20 * time.Second)), LastResult: certRound,
			Warnings: []incident.Incident{certWarning},
		},
	}
}

// warnedSource is sampleHistory with the warned monitors, their history
// holding the slow spell as a performance incident.
func warnedSource() *histSource {
	src := sampleHistory()
	for _, m := range warnedMonitors() {
		src.mons = append(src.mons, m)
		src.reports[m.Name] = sampleReport(m.Name)
		src.days[m.Name] = ninetyDays(11)
		src.up30[m.Name] = history.Uptime{Up: 30 * 24 * time.Hour, Degraded: 21 * time.Minute}
	}
	slow := *src.reports[slowMonitor]
	slow.Incidents = []history.IncidentEntry{{
		ID: 22, Monitor: slowMonitor, Kind: incident.KindPerformance, Class: result.ClassDegraded,
		FirstFailureAt: result.TimeOf(testNow.Add(-21 * time.Minute)), OpenedAt: result.TimeOf(testNow.Add(-20 * time.Minute)),
		DurationSeconds: 21 * 60, Scope: result.ScopePartial, Regions: []string{"fra1", "iad1"}, Severity: incident.SeverityWarning,
	}}
	src.reports[slowMonitor] = &slow
	return src
}

// rowOf is the <tr> of the status page that links to name.
func rowOf(t *testing.T, body, name string) string {
	t.Helper()
	for _, tr := range regexp.MustCompile(`(?s)<tr class="[^"]*">.*?</tr>`).FindAllString(body, -1) {
		if strings.Contains(tr, `<a href="monitors/`+name+`">`) {
			return tr
		}
	}
	t.Fatalf("no row for %s in:\n%s", name, body)
	return ""
}

// On /, a warned monitor is still UP, with its warning beside the state:
// amber, stronger when critical, never red; the summary counts them and
// the warned rows come before the plain up ones.
func TestStatusPageWarnings(t *testing.T) {
	src := warnedSource()
	rec := serve(pagesHandler(src), http.MethodGet, "/")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	if text := pageText(body); !strings.Contains(text, "1 degraded, 1 with a certificate expiring") {
		t.Errorf("the summary does not count the warnings: %s", text)
	}
	cert := rowOf(t, body, certMonitor)
	for _, want := range []string{
		`<tr class="up warned">`, `<span class="badge up">UP</span>`,
		`<span class="warn critical" title="certificate expires in 1 day (2026-11-22), served to fra1 (critical)">certificate expires in 1 day</span>`,
	} {
		if !strings.Contains(cert, want) {
			t.Errorf("%s's row lacks %s:\n%s", certMonitor, want, cert)
		}
	}
	slow := rowOf(t, body, slowMonitor)
	for _, want := range []string{
		`<tr class="up warned">`, `<span class="badge up">UP</span>`,
		`<span class="warn warning" title="TTFB 2.4 s from fra1 and iad1, 40 ms from local (warning)">slow: TTFB</span>`,
	} {
		if !strings.Contains(slow, want) {
			t.Errorf("%s's row lacks %s:\n%s", slowMonitor, want, slow)
		}
	}
	for name, row := range map[string]string{certMonitor: cert, slowMonitor: slow} {
		if strings.Contains(row, "badge down") || strings.Contains(row, "badge failing") || !strings.HasPrefix(row, `<tr class="up warned">`) {
			t.Errorf("%s is up, but its row is painted down:\n%s", name, row)
		}
	}
	if plain := rowOf(t, body, "plain"); strings.Contains(plain, "warn") {
		t.Errorf("a monitor without warnings shows one:\n%s", plain)
	}
	// Worst first: down, failing, unknown, then the critical warning, the
	// other warning, and the plain up monitors.
	var order []string
	for _, m := range regexp.MustCompile(`<td class="name wrap"><a href="monitors/([^"]+)">`).FindAllStringSubmatch(body, -1) {
		order = append(order, m[1])
	}
	if want := []string{"shop", "blog", "new", certMonitor, slowMonitor, "api", "plain"}; strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("order %v, want %v", order, want)
	}
}

// The detail page's Warnings section says what is about to break and
// from where, with the certificate's particulars or the slow phase per
// vantage, and the fixes; the latest result's TLS section names the
// leaf's serial and the certificate that expires first.
func TestDetailPageWarnings(t *testing.T) {
	src := warnedSource()
	h := pagesHandler(src)
	rec := serve(h, http.MethodGet, "/monitors/"+certMonitor)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	text := pageText(body)
	for _, want := range []string{
		"UP certificate expires in 1 day",
		"Warnings The monitor is up; these are about to break it.",
		"Certificate expires in 1 day certificate expires in 1 day (2026-11-22), served to fra1",
		"Open since 3h ago, critical",
		"Seen from fra1",
		"Threshold under the 2-day threshold of cert_warn_days",
		"Certificate leaf Subject CN=tls-edge.example.test Issuer CN=R11,O=Let's Encrypt,C=US Serial " + leafSerial,
		"SANs tls-edge.example.test, www.tls-edge.example.test",
		"Not after 2026-11-22T14:00:00Z (1 day left)",
		"fra1: served serial " + leafSerial + ", expires 2026-11-22T14:00:00Z (1 day left) 192.0.2.10:443",
		"local: served serial " + freshSerial + ", expires 2027-02-18T12:00:00Z (89 days left)",
		"Fixes The certificate is from Let's Encrypt (ACME): check the renewal timer",
		"openssl s_client -connect tls-edge.example.test:443 -servername tls-edge.example.test from fra1",
		"Leaf serial " + leafSerial,
		"Expires first the leaf, expires 2026-11-22T14:00:00Z (1 day left)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the certificate's detail page lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(body, `<section class="warnbox critical" aria-label="Certificate expires in 1 day">`) ||
		!strings.Contains(body, `<li class="over"><strong>fra1</strong>`) {
		t.Errorf("the warning is not marked critical, or fra1 not as the vantage that saw it:\n%s", body)
	}

	rec = serve(h, http.MethodGet, "/monitors/"+slowMonitor)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body = rec.Body.String()
	text = pageText(body)
	for _, want := range []string{
		"UP slow: TTFB",
		"Slow: TTFB TTFB 2.4 s from fra1 and iad1, 40 ms from local",
		"Open since 20m ago, warning", "Seen from fra1, iad1", "Threshold TTFB over 500 ms",
		"fra1: TTFB 2.40 s, over the threshold", "iad1: TTFB 2.38 s, over the threshold", "local: TTFB 40 ms",
		"Fixes A slow TTFB from every vantage is the app or its upstreams",
		// The slow spell in the incident list: not an outage.
		"ongoing 21m so far degraded performance degraded performance (slow) partial: fra1, iad1 warning",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the slow monitor's detail page lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "local: TTFB 40 ms, over") {
		t.Errorf("local is marked slow")
	}
	if !strings.Contains(body, `<tr class="warned">`) || strings.Contains(body, `<tr class="down">`) {
		t.Errorf("the open slow spell is not amber, or painted down:\n%s", body)
	}
	if strings.Contains(body, "Leaf serial") {
		t.Errorf("a result without a serial shows one")
	}
}

// An intermediate that expires before the leaf is named as one, in the
// label, the Warnings section and the latest result's TLS section.
func TestDetailPageIntermediateWarning(t *testing.T) {
	mons := warnedMonitors()
	m := &mons[2]
	inter := &result.CertInfo{Subject: "CN=Acme Intermediate CA", Issuer: "CN=Acme Root CA", Serial: "7f:01",
		NotAfter: result.TimeOf(testNow.Add(3*24*time.Hour + time.Hour)), DaysLeft: 3, Depth: 1}
	m.LastResult.TLS.Earliest = inter
	w := m.Warnings[0]
	last := *w.Last
	wn := *last.Warning
	wn.Cert, wn.Summary = inter, ""
	last.Warning = &wn
	w.Last, w.Severity = &last, incident.SeverityWarning
	m.Warnings = []incident.Incident{w}
	rec := serve(pagesHandler(&fakeSource{mons: mons}), http.MethodGet, "/monitors/"+certMonitor)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	text := pageText(rec.Body.String())
	for _, want := range []string{
		"UP intermediate certificate expires in 3 days",
		"Certificate intermediate (depth 1 of the chain as served) Subject CN=Acme Intermediate CA Issuer CN=Acme Root CA Serial 7f:01",
		"Leaf serial " + leafSerial,
		"Expires first intermediate (depth 1) CN=Acme Intermediate CA from CN=Acme Root CA, serial 7f:01, expires 2026-11-24T13:00:00Z (3 days left)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(rec.Body.String(), "warn critical") {
		t.Errorf("a warning-severity certificate is shown as critical")
	}
}

// The label falls back to the incident's detail when its result says
// nothing of the certificate, and to the phase of the detail token.
func TestWarningLabels(t *testing.T) {
	for _, tt := range []struct {
		inc  incident.Incident
		want string
	}{
		{incident.Incident{Kind: incident.KindCertificate, Detail: result.WarnDetail(7)}, "certificate expires within 7 days"},
		{incident.Incident{Kind: incident.KindCertificate, Detail: "odd"}, "certificate expiring"},
		{incident.Incident{Kind: incident.KindCertificate, Last: &result.Outcome{Warning: &result.Warning{Cert: &result.CertInfo{DaysLeft: 0}}}}, "certificate expires today"},
		{incident.Incident{Kind: incident.KindCertificate, Last: &result.Outcome{Warning: &result.Warning{Cert: &result.CertInfo{DaysLeft: 4}}}}, "certificate expires in 4 days"},
		{incident.Incident{Kind: incident.KindPerformance, Detail: result.PhaseConnect}, "slow: connect"},
		{incident.Incident{Kind: incident.KindPerformance, Detail: result.PhaseTotal}, "slow: total time"},
		{incident.Incident{Kind: incident.KindPerformance, Last: &result.Outcome{Warning: &result.Warning{Phase: result.PhaseDNS}}}, "slow: DNS"},
	} {
		vs := warningViews([]incident.Incident{tt.inc}, testNow, false)
		if len(vs) != 1 || vs[0].Label != tt.want {
			t.Errorf("%+v: %+v, want label %q", tt.inc, vs, tt.want)
		}
	}
	if vs := warningViews([]incident.Incident{{Kind: incident.KindTarget}}, testNow, false); len(vs) != 0 {
		t.Errorf("a target incident among the warnings is shown: %+v", vs)
	}
}

// The API passes the warnings through, each result prepared as the
// others are, and [] for a monitor without any; the source's views are
// not written to.
func TestAPIWarnings(t *testing.T) {
	src := &fakeSource{mons: warnedMonitors()}
	h := newTestHandler(src, nil, nil)
	rec := serve(h, http.MethodGet, "/api/v1/monitors/"+certMonitor)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var one struct {
		Monitor struct {
			Warnings []struct {
				Kind     string `json:"kind"`
				Class    string `json:"class"`
				Detail   string `json:"detail"`
				Severity string `json:"severity"`
				Regions  []string
				Last     struct {
					Via     []string `json:"via"`
					Fixes   []string `json:"fixes"`
					Warning struct {
						Summary string `json:"summary"`
						Cert    struct {
							Serial   string   `json:"serial"`
							DNSNames []string `json:"dns_names"`
						} `json:"cert"`
						Seen []struct {
							Vantage string `json:"vantage"`
							Over    bool   `json:"over"`
						} `json:"seen"`
					} `json:"warning"`
				} `json:"last"`
			} `json:"warnings"`
		} `json:"monitor"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &one); err != nil {
		t.Fatal(err)
	}
	ws := one.Monitor.Warnings
	if len(ws) != 1 || ws[0].Kind != "certificate" || ws[0].Class != "cert_expiring" || ws[0].Detail != "under-2-days" ||
		ws[0].Severity != "critical" || ws[0].Last.Warning.Cert.Serial != leafSerial || len(ws[0].Last.Warning.Seen) != 2 ||
		!ws[0].Last.Warning.Seen[0].Over || len(ws[0].Last.Fixes) != 2 || ws[0].Last.Via == nil {
		t.Errorf("warnings = %+v", ws)
	}
	if src.mons[2].Warnings[0].Last.Via != nil {
		t.Errorf("the source's warning result was normalized in place")
	}

	rec = serve(h, http.MethodGet, "/api/v1/monitors/plain")
	if !strings.Contains(rec.Body.String(), `"warnings":[]`) {
		t.Errorf("a monitor without warnings: %s", rec.Body)
	}
	rec = serve(h, http.MethodGet, "/api/v1/monitors")
	var list struct {
		Monitors []struct {
			Name     string            `json:"name"`
			Warnings []json.RawMessage `json:"warnings"`
		} `json:"monitors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Monitors {
		if want := map[string]int{slowMonitor: 1, "plain": 0, certMonitor: 1}[m.Name]; len(m.Warnings) != want {
			t.Errorf("%s: %d warnings in the list, want %d", m.Name, len(m.Warnings), want)
		}
	}
}

// The public page says "degraded performance" of a slow monitor, and
// nothing else of it: not the phase, the timings, the vantages that saw
// it or the fixes; and nothing at all of a certificate.
func TestPublicWarnings(t *testing.T) {
	src := warnedSource()
	h := pagesHandler(src, WithPublic(func() string { return "Acme status" }, nil))
	private := []string{
		// The slow monitor's evidence. Its incident list names the
		// vantages that saw it slow, as an outage's names the regions
		// (the allowlist's scope and regions), so they are not here.
		"TTFB", "2.4 s", "2.40 s", "500 ms", "upstreams", "(slow)",
		"certificate", "Certificate", leafSerial, freshSerial, "R11", "Let's Encrypt", "www.tls-edge", "192.0.2.", "cert_expiring", "certbot", "openssl",
		"warn critical", "Warnings",
	}
	for _, path := range []string{"/", "/monitors/" + slowMonitor, "/monitors/" + certMonitor} {
		rec := serve(h, http.MethodGet, path)
		if rec.Code != 200 {
			t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, s := range private {
			if strings.Contains(body, s) {
				t.Errorf("public %s shows %q", path, s)
			}
		}
		if path == "/monitors/"+certMonitor && strings.Contains(body, `class="warn`) {
			t.Errorf("public %s shows a warning for the certificate", path)
		}
		if path != "/monitors/"+certMonitor && !strings.Contains(body, `<span class="warn warning" title="degraded performance">degraded performance</span>`) {
			t.Errorf("public %s does not say the slow monitor is degraded:\n%s", path, body)
		}
	}
	if text := pageText(serve(h, http.MethodGet, "/").Body.String()); !strings.Contains(text, "1 degraded") || strings.Contains(text, "expiring") {
		t.Errorf("public summary: %s", text)
	}

	// The filter itself keeps the performance warning's state only.
	ps := newPublicSource(src, func(*MonitorView) bool { return true }, nil)
	views, err := ps.Monitors(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if v.Warnings == nil {
			t.Errorf("%s: public warnings are nil", v.Name)
		}
		for _, w := range v.Warnings {
			if v.Name != slowMonitor || w.Kind != incident.KindPerformance || w.Last != nil || w.Detail != "" || w.Regions != nil || w.Scope != "" {
				t.Errorf("%s: public warning %+v", v.Name, w)
			}
		}
	}
	// The public badge: degraded for the slow one, up for the certificate.
	if b := decodeBadge(t, serve(h, http.MethodGet, "/badge/"+slowMonitor+"/status.svg")); b.message() != "degraded" || b.color() != colorYellow {
		t.Errorf("public badge of the slow monitor: %q in %s", b.message(), b.color())
	}
	if b := decodeBadge(t, serve(h, http.MethodGet, "/badge/"+certMonitor+"/status.svg")); b.message() != "up" {
		t.Errorf("public badge of the expiring certificate: %q", b.message())
	}
}
