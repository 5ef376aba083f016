package warning

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// now is the wall clock every test counts days at.
var now = time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)

var warnDays = []int{21, 7, 2}

const host = "example.com"

// certIn is a certificate with days left at now, at depth in the chain.
func certIn(days float64, depth int, serial string) *result.CertInfo {
	na := now.Add(time.Duration(days * float64(24*time.Hour)))
	c := &result.CertInfo{
		Subject: "CN=" + host, Issuer: "CN=R11,O=Let's Encrypt,C=US", Serial: serial,
		NotAfter: result.TimeOf(na), DaysLeft: 90, // stale on purpose: Certificate counts again
		DNSNames: []string{host, "www." + host}, Depth: depth,
	}
	if depth > 0 {
		c.Subject, c.Issuer, c.DNSNames = "CN=Example Intermediate,O=Example", "CN=Example Root,O=Example", nil
	}
	return c
}

// served is an OK https result from addr whose served chain's earliest
// certificate is c, with a leaf valid for leafDays.
func served(addr string, c *result.CertInfo, leafDays float64) *result.Result {
	leaf := now.Add(time.Duration(leafDays * float64(24*time.Hour)))
	r := &result.Result{
		URL: "https://" + host + "/", OK: true, Class: result.ClassOK, Status: 200, RemoteAddr: addr,
		TLS: &result.TLSInfo{
			Subject: "CN=" + host, Issuer: "CN=R11,O=Let's Encrypt,C=US", Serial: "04:AA",
			NotAfter: result.TimeOf(leaf), DaysLeft: 90, DNSNames: []string{host}, Earliest: c,
		},
		Phases: result.Phases{DNSMs: 5, ConnectMs: 20, TLSMs: 30, TTFBMs: 40, TotalMs: 100},
	}
	r.Normalize()
	return r
}

func line(name string, st result.VantageStatus, r *result.Result) result.VantageLine {
	return result.VantageLine{Name: name, Status: st, Result: r}
}

// round is a round's outcome through vantages: the result of the first up
// line (else the first with a result) stands for it.
func round(lines ...result.VantageLine) *result.Outcome {
	o := &result.Outcome{Vantages: lines}
	for _, want := range []result.VantageStatus{result.VantageUp, result.VantageDown} {
		for _, l := range lines {
			if l.Status == want && l.Result != nil && o.URL == "" {
				o.Result = l.Result.Clone()
			}
		}
	}
	if o.OK {
		o.Scope = result.ScopeNone
	} else {
		o.Scope = result.ScopeEveryone
	}
	return o
}

// local is a round of this host alone.
func local(r *result.Result) *result.Outcome { return &result.Outcome{Result: r.Clone()} }

const (
	fraAddr = "198.51.100.7:443"
	iadAddr = "203.0.113.10:443"
	locAddr = "192.0.2.1:443"
)

func TestCertificate(t *testing.T) {
	expired := served(fraAddr, certIn(-2.5, 0, "0A:01"), -2.5)
	expired.OK, expired.Class, expired.Detail, expired.Status = false, result.ClassTLSError, result.DetailCertExpired, 0
	expiredIad := served(iadAddr, certIn(-2.5, 0, "0A:01"), -2.5)
	expiredIad.OK, expiredIad.Class, expiredIad.Detail, expiredIad.Status = false, result.ClassTLSError, result.DetailCertExpired, 0
	noTLS := served(fraAddr, nil, 0)
	noTLS.TLS = nil
	plain := served("198.51.100.7:80", nil, 0)
	plain.URL, plain.TLS = "http://"+host+"/", nil
	leafOnly := served(fraAddr, nil, 5.5)
	leafOnly.TLS.Serial = "0B:0B"

	tests := []struct {
		name      string
		out       *result.Outcome
		vote      incident.Vote
		sev       incident.Severity
		class     result.Class
		detail    string
		threshold int
		days      int // the warned certificate's days left
		scope     result.Scope
		regions   []string
		summary   []string // substrings of the summary
		noSummary []string
		fixes     []string // substrings some step has
	}{
		{
			name: "5 days left: a warning under 7 days, from everyone",
			out: round(line("fra1", result.VantageUp, served(fraAddr, certIn(5.5, 0, "0A:05"), 5.5)),
				line("iad1", result.VantageUp, served(iadAddr, certIn(5.5, 0, "0A:05"), 5.5))),
			vote: incident.VoteDown, sev: incident.SeverityWarning, class: result.ClassCertExpiring,
			detail: "under-7-days", threshold: 7, days: 5, scope: result.ScopeEveryone,
			summary: []string{"certificate expires in 5 days (2026-12-13 22:00 UTC): CN=example.com (example.com, www.example.com), serial 0A:05, issuer R11, served to every vantage"},
			fixes:   []string{"certbot renew --dry-run", "/var/log/letsencrypt/letsencrypt.log"},
		},
		{
			name: "1 day left: critical under the last threshold",
			out:  round(line("fra1", result.VantageUp, served(fraAddr, certIn(1.2, 0, "0A:01"), 1.2))),
			vote: incident.VoteDown, sev: incident.SeverityCritical, class: result.ClassCertExpiring,
			detail: "under-2-days", threshold: 2, days: 1, scope: result.ScopeEveryone,
			summary: []string{"expires in 1 day (", "served to fra1"},
		},
		{
			name: "30 days left: up, saying how many days it has",
			out:  round(line("fra1", result.VantageUp, served(fraAddr, certIn(30.1, 0, "0A:30"), 30.1))),
			vote: incident.VoteUp, sev: incident.SeverityWarning, class: result.ClassOK,
			detail: "", threshold: 0, days: 30, scope: result.ScopeNone,
			summary:   []string{"certificate expires in 30 days", "above every cert_warn_days threshold"},
			noSummary: []string{"served to"},
		},
		{
			name: "expired: critical, while the target incident has its tls_error",
			out: round(line("fra1", result.VantageDown, expired),
				line("iad1", result.VantageDown, expiredIad)),
			vote: incident.VoteDown, sev: incident.SeverityCritical, class: result.ClassCertExpiring,
			detail: "under-2-days", threshold: 2, days: -3, scope: result.ScopeEveryone,
			summary: []string{"certificate expired 2 days ago ("},
		},
		{
			name: "only fra1 is served the old certificate: partial, naming fra1",
			out: round(line("fra1", result.VantageUp, served(fraAddr, certIn(4.5, 0, "0A:0L:D0"), 4.5)),
				line("iad1", result.VantageUp, served(iadAddr, certIn(80, 0, "0B:NE:W0"), 80)),
				line(result.LocalVantage, result.VantageUp, served(locAddr, certIn(80, 0, "0B:NE:W0"), 80))),
			vote: incident.VoteDown, sev: incident.SeverityWarning, class: result.ClassCertExpiring,
			detail: "under-7-days", threshold: 7, days: 4, scope: result.ScopePartial, regions: []string{"fra1"},
			summary: []string{"expires in 4 days", "serial 0A:0L:D0", "served to fra1"},
			fixes: []string{
				"Served only to fra1: one edge or backend behind example.com still serves the old certificate",
				"From fra1: openssl s_client -connect 198.51.100.7:443 -servername example.com </dev/null 2>/dev/null | openssl x509 -noout -serial -enddate -issuer",
			},
		},
		{
			name: "an intermediate expires first: the summary says so",
			out:  round(line("fra1", result.VantageUp, served(fraAddr, certIn(3.5, 1, "1C:01"), 365))),
			vote: incident.VoteDown, sev: incident.SeverityWarning, class: result.ClassCertExpiring,
			detail: "under-7-days", threshold: 7, days: 3, scope: result.ScopeEveryone,
			summary: []string{"intermediate certificate expires in 3 days", "CN=Example Intermediate", "issuer Example Root"},
			fixes:   []string{"The server sends an old intermediate (Example Intermediate, expires 2026-12-11): update the chain file (fullchain.pem)"},
		},
		{
			name: "no TLS from anyone: no vote",
			out:  round(line("fra1", result.VantageUp, noTLS)),
			vote: incident.VoteNone,
		},
		{
			name: "an http URL: no vote",
			out:  local(plain),
			vote: incident.VoteNone,
		},
		{
			name: "an impaired vantage's certificate is not counted",
			out: round(line("fra1", result.VantageImpaired, served(fraAddr, certIn(1.5, 0, "0A:01"), 1.5)),
				line("iad1", result.VantageUp, served(iadAddr, certIn(60, 0, "0B:01"), 60)),
				line("sgp1", result.VantageUnreachable, nil)),
			vote: incident.VoteUp, sev: incident.SeverityWarning, class: result.ClassOK, days: 60,
		},
		{
			name: "only impaired and refused vantages: no vote",
			out: round(line("fra1", result.VantageImpaired, served(fraAddr, certIn(1.5, 0, "0A:01"), 1.5)),
				line("iad1", result.VantageRefused, served(iadAddr, certIn(1.5, 0, "0A:01"), 1.5))),
			vote: incident.VoteNone,
		},
		{
			name: "this host alone: no scope, the command is for this host",
			out:  local(served(locAddr, certIn(6.5, 0, "0A:06"), 6.5)),
			vote: incident.VoteDown, sev: incident.SeverityWarning, class: result.ClassCertExpiring,
			detail: "under-7-days", threshold: 7, days: 6, scope: result.ScopeNone,
			noSummary: []string{"served to"},
			fixes:     []string{"From this host: openssl s_client -connect 192.0.2.1:443 -servername example.com"},
		},
		{
			name: "no chain reported: the leaf's fields stand for it",
			out:  round(line("fra1", result.VantageUp, leafOnly)),
			vote: incident.VoteDown, sev: incident.SeverityWarning, class: result.ClassCertExpiring,
			detail: "under-7-days", threshold: 7, days: 5, scope: result.ScopeEveryone,
			summary: []string{"serial 0B:0B"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.out.Clone()
			v := Certificate(tc.out, warnDays, now)
			if v.Vote != tc.vote {
				t.Fatalf("vote %q, want %q (summary %v)", v.Vote, tc.vote, v.Outcome.Warning)
			}
			if tc.vote == incident.VoteNone {
				return
			}
			o := v.Outcome
			w := o.Warning
			if w == nil || w.Kind != "certificate" || w.Cert == nil {
				t.Fatalf("warning %+v", w)
			}
			if v.Severity != tc.sev || o.Class != tc.class || o.Detail != tc.detail || o.OK != (tc.vote == incident.VoteUp) {
				t.Errorf("severity %s class %s detail %q ok %v; want %s %s %q", v.Severity, o.Class, o.Detail, o.OK, tc.sev, tc.class, tc.detail)
			}
			if w.ThresholdDays != tc.threshold || w.Cert.DaysLeft != tc.days {
				t.Errorf("threshold %d, days %d; want %d, %d", w.ThresholdDays, w.Cert.DaysLeft, tc.threshold, tc.days)
			}
			if v.Scope != tc.scope || o.Scope != tc.scope || !slices.Equal(v.Regions, tc.regions) {
				t.Errorf("scope %q (outcome %q) regions %v; want %q %v", v.Scope, o.Scope, v.Regions, tc.scope, tc.regions)
			}
			for _, s := range tc.summary {
				if !strings.Contains(w.Summary, s) {
					t.Errorf("summary %q lacks %q", w.Summary, s)
				}
			}
			for _, s := range tc.noSummary {
				if strings.Contains(w.Summary, s) {
					t.Errorf("summary %q has %q", w.Summary, s)
				}
			}
			for _, f := range tc.fixes {
				if !hasStep(o.Fixes, f) {
					t.Errorf("no fix says %q:\n%s", f, strings.Join(o.Fixes, "\n"))
				}
			}
			if tc.vote == incident.VoteUp && len(o.Fixes) != 0 {
				t.Errorf("an up vote has fixes: %q", o.Fixes)
			}
			if tc.vote == incident.VoteDown && len(o.Fixes) == 0 {
				t.Error("a down vote has no fixes")
			}
			if o.Error != "" || o.Status != before.Status || o.URL != before.URL {
				t.Errorf("error %q status %d url %s: the round's own should stay", o.Error, o.Status, o.URL)
			}
			if err := checkObservation(v); err != nil {
				t.Error(err)
			}
			// The round's outcome is not changed.
			if tc.out.Warning != nil || tc.out.Class != before.Class {
				t.Error("Certificate changed the round's outcome")
			}
		})
	}
}

// TestCertificateSeen: one line per vantage served a certificate, in the
// round's order, with what each was served and the address it dialled.
func TestCertificateSeen(t *testing.T) {
	out := round(line("fra1", result.VantageUp, served(fraAddr, certIn(4.5, 0, "0A:0L:D0"), 4.5)),
		line("sgp1", result.VantageUnreachable, nil),
		line("iad1", result.VantageUp, served(iadAddr, certIn(80, 0, "0B:NE:W0"), 80)))
	o := Certificate(out, warnDays, now).Outcome
	w := o.Warning
	for _, m := range []string{
		"fra1 was served CN=example.com, serial 0A:0L:D0 (depth 0), not after 2026-12-12 22:00 UTC: 4 days left, under 21",
		"iad1 was served CN=example.com, serial 0B:NE:W0 (depth 0), not after 2027-02-26 10:00 UTC: 80 days left",
	} {
		if !slices.Contains(o.Evidence.Markers, m) {
			t.Errorf("no marker %q: %q", m, o.Evidence.Markers)
		}
	}
	if len(w.Seen) != 2 {
		t.Fatalf("seen %+v, want fra1 and iad1", w.Seen)
	}
	fra, iad := w.Seen[0], w.Seen[1]
	if fra.Vantage != "fra1" || !fra.Over || fra.RemoteAddr != fraAddr || fra.Cert.Serial != "0A:0L:D0" || fra.Cert.DaysLeft != 4 {
		t.Errorf("fra1: %+v %+v", fra, fra.Cert)
	}
	if iad.Vantage != "iad1" || iad.Over || iad.RemoteAddr != iadAddr || iad.Cert.DaysLeft != 80 {
		t.Errorf("iad1: %+v %+v", iad, iad.Cert)
	}
	if w.Cert.Serial != "0A:0L:D0" {
		t.Errorf("warned certificate %s, want fra1's", w.Cert.Serial)
	}
}

// TestCertificateOff: no thresholds, no warning.
func TestCertificateOff(t *testing.T) {
	out := round(line("fra1", result.VantageUp, served(fraAddr, certIn(1, 0, "01"), 1)))
	if v := Certificate(out, nil, now); v.Vote != incident.VoteNone {
		t.Errorf("vote %s with cert_warn_days = []", v.Vote)
	}
}

// TestCertificateFixesByIssuer: who issued it says what to do.
func TestCertificateFixesByIssuer(t *testing.T) {
	withIssuer := func(issuer string) *result.Result {
		c := certIn(5.5, 0, "0A:05")
		c.Issuer = issuer
		return served(fraAddr, c, 5.5)
	}
	cloudflare := withIssuer("CN=WE1,O=Google Trust Services,C=US")
	cloudflare.Via = []string{"cloudflare"}
	tests := []struct {
		name     string
		res      *result.Result
		want     []string
		wantNone []string
	}{
		{"Let's Encrypt: the renewal job", withIssuer("CN=R11,O=Let's Encrypt,C=US"),
			[]string{"R11 issues by ACME", "systemctl list-timers | grep -i certbot", "certbot renew --dry-run", "letsencrypt.log"},
			[]string{"dashboard"}},
		{"ZeroSSL: the renewal job", withIssuer("CN=ZeroSSL RSA Domain Secure Site CA,O=ZeroSSL,C=AT"),
			[]string{"certbot renew --dry-run"}, []string{"dashboard"}},
		{"Google Trust Services WR1: ACME", withIssuer("CN=WR1,O=Google Trust Services,C=US"),
			[]string{"certbot renew --dry-run"}, nil},
		{"Google Trust Services' other CAs: not ACME", withIssuer("CN=GTS CA 1C3,O=Google Trust Services LLC,C=US"),
			[]string{"Renew the certificate for example.com with its CA (GTS CA 1C3)"}, []string{"certbot"}},
		{"behind Cloudflare: its dashboard, not certbot", cloudflare,
			[]string{"Cloudflare's dashboard manages this certificate: check its edge certificate status there (SSL/TLS → Edge Certificates)"},
			[]string{"certbot", "Renew the certificate"}},
		{"issued by Amazon: AWS", withIssuer("CN=Amazon RSA 2048 M02,O=Amazon,C=US"),
			[]string{"AWS's dashboard manages this certificate", "ACM"}, []string{"certbot"}},
		{"a private CA: renew with it", withIssuer("CN=Corp Issuing CA,O=Example Corp"),
			[]string{"Renew the certificate for example.com with its CA (Corp Issuing CA) before 2026-12-13"}, []string{"certbot", "dashboard"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Certificate(round(line("fra1", result.VantageUp, tc.res)), warnDays, now).Outcome.Fixes
			for _, w := range tc.want {
				if !hasStep(got, w) {
					t.Errorf("no step says %q:\n%s", w, strings.Join(got, "\n"))
				}
			}
			for _, w := range tc.wantNone {
				if hasStep(got, w) {
					t.Errorf("a step says %q:\n%s", w, strings.Join(got, "\n"))
				}
			}
			if !hasStep(got, "From fra1: openssl s_client -connect 198.51.100.7:443 -servername example.com") {
				t.Errorf("no openssl command for fra1:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

// slowRes is an OK result from addr with the given phases.
func slowRes(addr string, p result.Phases) *result.Result {
	r := served(addr, certIn(80, 0, "01"), 80)
	r.Phases = p
	r.BodyBytes = 5 << 20
	return r
}

func TestPerformance(t *testing.T) {
	fast := result.Phases{DNSMs: 2, ConnectMs: 10, TLSMs: 15, TTFBMs: 40, TotalMs: 80}
	slowTTFB := result.Phases{DNSMs: 2, ConnectMs: 10, TLSMs: 15, TTFBMs: 2400, TotalMs: 2450}
	slowConnect := result.Phases{DNSMs: 2, ConnectMs: 1000, TLSMs: 15, TTFBMs: 40, TotalMs: 1080}
	th := config.Degraded{Total: 800 * time.Millisecond, TTFB: 500 * time.Millisecond, Connect: 150 * time.Millisecond}
	failed := slowRes(fraAddr, slowTTFB)
	failed.OK, failed.Class, failed.Status = false, result.ClassServerError, 500

	tests := []struct {
		name      string
		out       *result.Outcome
		th        config.Degraded
		vote      incident.Vote
		phase     string
		threshold float64
		scope     result.Scope
		regions   []string
		summary   string
		fixes     []string
		noFixes   []string
	}{
		{
			name: "TTFB slow from fra1 and iad1, fast from local: the path from those regions",
			out: round(line("fra1", result.VantageUp, slowRes(fraAddr, slowTTFB)),
				line("iad1", result.VantageUp, slowRes(iadAddr, slowTTFB)),
				line(result.LocalVantage, result.VantageUp, slowRes(locAddr, fast))),
			th: th, vote: incident.VoteDown, phase: result.PhaseTTFB, threshold: 500,
			scope: result.ScopePartial, regions: []string{"fra1", "iad1"},
			summary: "TTFB 2.4 s from fra1 and iad1, 40 ms from local (threshold 500 ms)",
			fixes:   []string{"Slow from fra1 and iad1 only, fast from local: the path to the app from those regions"},
			noFixes: []string{"Slow from every vantage"},
		},
		{
			name: "TTFB slow from every vantage: the app itself",
			out: round(line("fra1", result.VantageUp, slowRes(fraAddr, slowTTFB)),
				line(result.LocalVantage, result.VantageUp, slowRes(locAddr, slowTTFB))),
			th: th, vote: incident.VoteDown, phase: result.PhaseTTFB, threshold: 500,
			scope:   result.ScopeEveryone,
			summary: "TTFB 2.4 s from fra1 and local (threshold 500 ms)",
			fixes:   []string{"Slow from every vantage (fra1 and local): the app itself", "$upstream_response_time", "slow query log"},
			noFixes: []string{"from those regions"},
		},
		{
			name: "a slow connect makes the total slow too: the phase is connect",
			out:  round(line("fra1", result.VantageUp, slowRes(fraAddr, slowConnect))),
			th:   th, vote: incident.VoteDown, phase: result.PhaseConnect, threshold: 150,
			scope:   result.ScopeEveryone,
			summary: "connect 1.0 s from fra1 (threshold 150 ms)",
			fixes:   []string{"from fra1: mtr -rwc 20 198.51.100.7", "ss -ltn 'sport = :443'", "net.core.somaxconn"},
			noFixes: []string{"OCSP", "slow query"},
		},
		{
			name: "this host alone, slow: no scope, no vantage names",
			out:  local(slowRes(locAddr, slowTTFB)),
			th:   th, vote: incident.VoteDown, phase: result.PhaseTTFB, threshold: 500,
			scope:   result.ScopeNone,
			summary: "TTFB 2.4 s (threshold 500 ms)",
			fixes:   []string{"slow-request log"},
		},
		{
			// The up round reports the phase nearest its threshold: total
			// at a tenth of it, ahead of TTFB's 8% and connect's 7%.
			name: "all under: up",
			out: round(line("fra1", result.VantageUp, slowRes(fraAddr, fast)),
				line(result.LocalVantage, result.VantageUp, slowRes(locAddr, fast))),
			th: th, vote: incident.VoteUp, phase: result.PhaseTotal, threshold: 800, scope: result.ScopeNone,
		},
		{
			name: "a failed round: the target incident's business",
			out:  round(line("fra1", result.VantageDown, failed)),
			th:   th, vote: incident.VoteNone,
		},
		{
			name: "only impaired or down vantages are slow: not counted",
			out: round(line("fra1", result.VantageImpaired, slowRes(fraAddr, slowTTFB)),
				line(result.LocalVantage, result.VantageUp, slowRes(locAddr, fast))),
			th: th, vote: incident.VoteUp, phase: result.PhaseTotal, threshold: 800, scope: result.ScopeNone,
		},
		{
			name: "no thresholds: no vote",
			out:  local(slowRes(locAddr, slowTTFB)),
			vote: incident.VoteNone,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Performance(tc.out, tc.th)
			if v.Vote != tc.vote {
				t.Fatalf("vote %q, want %q (%+v)", v.Vote, tc.vote, v.Outcome.Warning)
			}
			if tc.vote == incident.VoteNone {
				return
			}
			o, w := v.Outcome, v.Outcome.Warning
			if w == nil || w.Kind != "performance" || w.Phase != tc.phase || w.ThresholdMs != tc.threshold {
				t.Fatalf("warning %+v, want phase %s threshold %v", w, tc.phase, tc.threshold)
			}
			if v.Severity != incident.SeverityWarning {
				t.Errorf("severity %s", v.Severity)
			}
			if tc.vote == incident.VoteDown {
				if o.OK || o.Class != result.ClassDegraded || o.Detail != tc.phase {
					t.Errorf("ok %v class %s detail %s", o.OK, o.Class, o.Detail)
				}
			} else if !o.OK || o.Class != result.ClassOK || o.Detail != "" || len(o.Fixes) != 0 {
				t.Errorf("up: ok %v class %s detail %q fixes %q", o.OK, o.Class, o.Detail, o.Fixes)
			}
			if v.Scope != tc.scope || !slices.Equal(v.Regions, tc.regions) {
				t.Errorf("scope %q regions %v; want %q %v", v.Scope, v.Regions, tc.scope, tc.regions)
			}
			if tc.summary != "" && w.Summary != tc.summary {
				t.Errorf("summary %q\nwant    %q", w.Summary, tc.summary)
			}
			for _, f := range tc.fixes {
				if !hasStep(o.Fixes, f) {
					t.Errorf("no fix says %q:\n%s", f, strings.Join(o.Fixes, "\n"))
				}
			}
			for _, f := range tc.noFixes {
				if hasStep(o.Fixes, f) {
					t.Errorf("a fix says %q:\n%s", f, strings.Join(o.Fixes, "\n"))
				}
			}
			if err := checkObservation(v); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestPerformanceSeen: each healthy vantage's duration of the slow phase.
func TestPerformanceSeen(t *testing.T) {
	out := round(line("fra1", result.VantageUp, slowRes(fraAddr, result.Phases{TTFBMs: 2400, TotalMs: 2500})),
		line(result.LocalVantage, result.VantageUp, slowRes(locAddr, result.Phases{TTFBMs: 40, TotalMs: 90})))
	o := Performance(out, config.Degraded{TTFB: 500 * time.Millisecond}).Outcome
	w := o.Warning
	for _, m := range []string{"fra1: TTFB 2.4 s, over 500 ms", "local: TTFB 40 ms, under 500 ms"} {
		if !slices.Contains(o.Evidence.Markers, m) {
			t.Errorf("no marker %q: %q", m, o.Evidence.Markers)
		}
	}
	want := []result.WarningSeen{
		{Vantage: "fra1", Over: true, Ms: 2400, RemoteAddr: fraAddr},
		{Vantage: result.LocalVantage, Over: false, Ms: 40, RemoteAddr: locAddr},
	}
	if !slices.Equal(w.Seen, want) {
		t.Errorf("seen %+v\nwant %+v", w.Seen, want)
	}
}

// TestPerformanceFixesByPhase: the fixes follow the phase.
func TestPerformanceFixesByPhase(t *testing.T) {
	tests := []struct {
		phase    string
		th       config.Degraded
		p        result.Phases
		want     []string
		wantNone []string
	}{
		{result.PhaseDNS, config.Degraded{DNS: 100 * time.Millisecond}, result.Phases{DNSMs: 900, TotalMs: 1000},
			[]string{"dig +stats example.com", "dig +stats @<resolver> example.com", "dig example.com | grep -A1 ANSWER", "raise TTLs"},
			[]string{"mtr", "OCSP", "slow query"}},
		{result.PhaseTLS, config.Degraded{TLS: 100 * time.Millisecond}, result.Phases{TLSMs: 900, TotalMs: 1000},
			[]string{"-status", "OCSP stapling", "-showcerts", "ECDSA", "session resumption"},
			[]string{"mtr", "dig"}},
		{result.PhaseTransfer, config.Degraded{Transfer: 100 * time.Millisecond}, result.Phases{TTFBMs: 50, TotalMs: 3000},
			[]string{"The body is 5242880 bytes", "curl -so /dev/null -w '%{size_download} %{speed_download}\\n' --compressed https://example.com/", "bandwidth"},
			[]string{"Measure size and speed", "OCSP", "dig"}},
		{result.PhaseTotal, config.Degraded{Total: 100 * time.Millisecond}, result.Phases{TTFBMs: 50, TotalMs: 3000},
			[]string{"%{time_starttransfer}", "degraded = {"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.phase, func(t *testing.T) {
			v := Performance(local(slowRes(locAddr, tc.p)), tc.th)
			if v.Vote != incident.VoteDown || v.Outcome.Detail != tc.phase {
				t.Fatalf("vote %s detail %s, want down %s", v.Vote, v.Outcome.Detail, tc.phase)
			}
			got := v.Outcome.Fixes
			for _, w := range tc.want {
				if !hasStep(got, w) {
					t.Errorf("no step says %q:\n%s", w, strings.Join(got, "\n"))
				}
			}
			for _, w := range tc.wantNone {
				if hasStep(got, w) {
					t.Errorf("a step says %q:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

func TestPerformanceSettings(t *testing.T) {
	tests := []struct {
		name string
		m    config.Monitor
		want incident.Settings
	}{
		{"degraded_rounds and recover as set, flapping as the monitor's",
			config.Monitor{DegradedRounds: 3, Recover: 2, FlapThreshold: 6, FlapWindow: time.Hour},
			incident.Settings{Confirm: 3, Recover: 2, RetryDelay: -1, FlapChanges: 6, FlapWindow: time.Hour}},
		{"degraded_rounds unset: the default",
			config.Monitor{Recover: 1},
			incident.Settings{Confirm: config.DefaultDegradedRounds, Recover: 1, RetryDelay: -1, FlapChanges: -1}},
		{"flap_threshold = 0 turns flap detection off",
			config.Monitor{DegradedRounds: 1, Recover: 3, FlapThreshold: 0, FlapWindow: time.Hour},
			incident.Settings{Confirm: 1, Recover: 3, RetryDelay: -1, FlapChanges: -1, FlapWindow: time.Hour}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PerformanceSettings(&tc.m); got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if _, err := incident.New("m", incident.KindPerformance, PerformanceSettings(&tc.m)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCertificateMachine: the certificate verdicts of a certificate's last
// month, fed to its machine, open one warning, raise it to critical in one
// update, and resolve it on renewal; crossing 21 → 7 days is an update too.
func TestCertificateMachine(t *testing.T) {
	notAfter := now.Add(30*24*time.Hour + time.Hour)
	at := func(daysBefore float64) time.Time {
		return notAfter.Add(-time.Duration(daysBefore * float64(24*time.Hour)))
	}
	roundAt := func(na time.Time, serial string) *result.Outcome {
		c := certIn(0, 0, serial)
		c.NotAfter = result.TimeOf(na)
		return round(line("fra1", result.VantageUp, served(fraAddr, c, 0)),
			line("iad1", result.VantageUp, served(iadAddr, c, 0)))
	}
	m, err := incident.New("shop", incident.KindCertificate, CertificateSettings())
	if err != nil {
		t.Fatal(err)
	}
	observe := func(t *testing.T, when time.Time, out *result.Outcome) incident.Transition {
		t.Helper()
		v := Certificate(out, warnDays, when)
		tr, err := m.Observe(v.Observation(when))
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	old := roundAt(notAfter, "0A:0L:D0")

	if tr := observe(t, at(30), old); len(tr.Events) != 0 {
		t.Fatalf("30 days left: events %v", tr.Events)
	}
	tr := observe(t, at(5), old)
	open := tr.Find(incident.EventOpened)
	if open == nil || len(tr.Events) != 1 {
		t.Fatalf("5 days left: events %+v, want one opened", tr.Events)
	}
	if inc := open.Incident; inc.Kind != incident.KindCertificate || inc.Severity != incident.SeverityWarning ||
		inc.Class != result.ClassCertExpiring || inc.Detail != "under-7-days" || inc.Scope != result.ScopeEveryone {
		t.Errorf("opened %+v", inc)
	}
	if tr := observe(t, at(4.5), old); len(tr.Events) != 0 {
		t.Errorf("still 4 days left: events %+v, want none", tr.Events)
	}
	tr = observe(t, at(1), old)
	if len(tr.Events) != 1 || tr.Events[0].Kind != incident.EventChanged {
		t.Fatalf("1 day left: events %+v, want one changed", tr.Events)
	}
	if c := tr.Events[0].Change; c.Severity != incident.SeverityCritical || c.Detail != "under-2-days" {
		t.Errorf("change %+v", c)
	}
	renewed := roundAt(at(0.9).Add(40*24*time.Hour+time.Hour), "0B:NE:W0")
	tr = observe(t, at(0.9), renewed)
	res := tr.Find(incident.EventResolved)
	if res == nil || len(tr.Events) != 1 {
		t.Fatalf("renewed: events %+v, want one resolved", tr.Events)
	}
	if w := res.Result.Warning; w == nil || w.Cert.DaysLeft != 40 || !strings.Contains(w.Summary, "expires in 40 days") {
		t.Errorf("the resolving round does not say the new certificate's days: %+v", w)
	}

	// 21 → 7 days, both warnings: an update in the same thread.
	m2, err := incident.New("shop", incident.KindCertificate, CertificateSettings())
	if err != nil {
		t.Fatal(err)
	}
	m = m2
	if tr := observe(t, at(10), old); tr.Find(incident.EventOpened) == nil {
		t.Fatalf("10 days left: events %+v, want opened", tr.Events)
	}
	tr = observe(t, at(6), old)
	if len(tr.Events) != 1 || tr.Events[0].Kind != incident.EventChanged {
		t.Fatalf("21 → 7: events %+v, want one changed", tr.Events)
	}
	if c := tr.Events[0].Change; c.Severity != incident.SeverityWarning || c.Detail != "under-7-days" {
		t.Errorf("change %+v", c)
	}
}

// checkObservation: the verdict is an observation the machine takes.
func checkObservation(v Verdict) error {
	m, err := incident.New("m", incident.KindCertificate, CertificateSettings())
	if err != nil {
		return err
	}
	_, err = m.Observe(v.Observation(now))
	return err
}

func hasStep(steps []string, sub string) bool {
	for _, s := range steps {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
