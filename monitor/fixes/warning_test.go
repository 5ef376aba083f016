package fixes

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/gateway"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// warnResult is the round's result of a warning: an https check that
// passed, from fra1's address.
func warnResult() *result.Result {
	return &result.Result{URL: "https://shop.example.test/health", OK: true, Class: result.ClassOK, Status: 200, RemoteAddr: "198.51.100.7:443"}
}

func warnCert(issuer string, depth int) CertWarning {
	return CertWarning{
		Result: warnResult(),
		Cert: result.CertInfo{
			Subject: "CN=shop.example.test", Issuer: issuer, Serial: "0A:0B",
			NotAfter: result.TimeOf(time.Date(2026, 12, 12, 10, 0, 0, 0, time.UTC)),
			DNSNames: []string{"shop.example.test"}, Depth: depth,
		},
		Saw: []string{"fra1"}, From: "fra1", Addr: "198.51.100.7:443",
	}
}

const le = "CN=R11,O=Let's Encrypt,C=US"

// certCases holds, for every entry of certKnowledge, a warning that
// selects it.
var certCases = map[string]CertWarning{
	"cert-served-to-some": func() CertWarning {
		w := warnCert(le, 0)
		w.Partial = true
		return w
	}(),
	"cert-intermediate": warnCert("CN=ISRG Root X1,O=Internet Security Research Group,C=US", 1),
	"cert-cdn": func() CertWarning {
		w := warnCert("CN=WE1,O=Google Trust Services,C=US", 0)
		w.Result.Via = []string{gateway.Cloudflare}
		return w
	}(),
	"cert-acme":       warnCert(le, 0),
	"cert-renew":      warnCert("CN=Corp Issuing CA,O=Example Corp", 0),
	"cert-check-from": warnCert("CN=Corp Issuing CA,O=Example Corp", 0),
}

func warnSlow(phase string) SlowWarning {
	return SlowWarning{Result: warnResult(), Phase: phase, Slow: []string{"fra1"}, From: "fra1", Addr: "198.51.100.7:443"}
}

// slowCases holds, for every entry of slowKnowledge, a warning that
// selects it.
var slowCases = map[string]SlowWarning{
	"slow-dns":     warnSlow(result.PhaseDNS),
	"slow-connect": warnSlow(result.PhaseConnect),
	"slow-tls":     warnSlow(result.PhaseTLS),
	"slow-ttfb-path": func() SlowWarning {
		w := warnSlow(result.PhaseTTFB)
		w.Slow, w.Fast = []string{"fra1", "iad1"}, []string{result.LocalVantage}
		return w
	}(),
	"slow-ttfb-everywhere": func() SlowWarning {
		w := warnSlow(result.PhaseTTFB)
		w.Slow = []string{"fra1", result.LocalVantage}
		return w
	}(),
	"slow-ttfb": warnSlow(result.PhaseTTFB),
	"slow-transfer-body": func() SlowWarning {
		w := warnSlow(result.PhaseTransfer)
		w.BodyBytes = 5 << 20
		return w
	}(),
	"slow-transfer-size": warnSlow(result.PhaseTransfer),
	"slow-transfer":      warnSlow(result.PhaseTransfer),
	"slow-total":         warnSlow(result.PhaseTotal),
	"slow-unknown":       warnSlow(""),
}

// warnPlaceholders are the fields warnFacts adds to a result's.
var warnPlaceholders = append(slices.Clone(knownPlaceholders),
	"vantage", "vantages", "remote", "remote_ip", "fast", "slow", "subject", "cdn", "cdn_where", "body_bytes", "phase")

// checkWarnSteps is checkBounded for warning steps, whose curl commands
// keep their --write-out variables in braces.
func checkWarnSteps(t *testing.T, steps []string) {
	t.Helper()
	var plain []string
	for _, s := range steps {
		for _, v := range curlVars {
			s = strings.ReplaceAll(s, "%{"+v+"}", "%"+v)
		}
		plain = append(plain, s)
	}
	checkBounded(t, plain)
	for _, s := range steps {
		if n := utf8.RuneCountInString(s); n >= MaxStepLen {
			t.Errorf("step clipped (%d runes): %q", n, s)
		}
	}
}

// TestWarningTablesAreWellFormed is the review gate for the warning
// tables: ids unique, conditions and steps in bounds, only known
// placeholders, and every entry has a case.
func TestWarningTablesAreWellFormed(t *testing.T) {
	places := append(slices.Clone(warnPlaceholders), curlVars...)
	for name, table := range map[string][]entry{"certKnowledge": certKnowledge, "slowKnowledge": slowKnowledge} {
		ids := map[string]bool{}
		for _, e := range table {
			if e.id == "" || ids[e.id] {
				t.Errorf("%s: entry id %q is empty or repeated", name, e.id)
			}
			ids[e.id] = true
			_, c := certCases[e.id]
			_, s := slowCases[e.id]
			if !c && !s {
				t.Errorf("%s: entry %s has no case", name, e.id)
			}
			if len(e.when) == 0 || len(e.steps) == 0 || len(e.steps) > MaxSteps {
				t.Errorf("%s: %d conditions, %d steps", e.id, len(e.when), len(e.steps))
			}
			for _, c := range e.when {
				if c.name == "" || c.weight <= 0 || c.test == nil {
					t.Errorf("%s: malformed condition %+v", e.id, c)
				}
			}
			for _, st := range e.steps {
				for _, p := range placeholder.FindAllString(st, -1) {
					if !slices.Contains(places, p[1:len(p)-1]) {
						t.Errorf("%s: unknown placeholder %s in %q", e.id, p, st)
					}
				}
				if strings.TrimSpace(st) != st {
					t.Errorf("%s: stray whitespace in %q", e.id, st)
				}
			}
		}
	}
}

// TestWarningEntrySelectedByItsFacts: each entry's case selects it and its
// first step reaches the operator, whole.
func TestWarningEntrySelectedByItsFacts(t *testing.T) {
	check := func(t *testing.T, id string, k *known, f facts, table []entry, got []string) {
		t.Helper()
		var ids []string
		var e entry
		for _, s := range selectFrom(k, table) {
			ids = append(ids, s.id)
			if s.id == id {
				e = s
			}
		}
		if !slices.Contains(ids, id) {
			t.Fatalf("case does not select %s; selected %v", id, ids)
		}
		want, ok := f.render(e.steps[0])
		if !ok {
			t.Fatalf("first step of %s has an unfilled placeholder for its own case", id)
		}
		if !slices.Contains(got, want) {
			t.Errorf("first step of %s missing:\nwant %q\ngot  %q", id, want, got)
		}
		checkWarnSteps(t, got)
	}
	for id, w := range certCases {
		t.Run(id, func(t *testing.T) {
			k, f := warnFacts(w.Result, &warned{cert: &w})
			check(t, id, k, f, certKnowledge, ForCertificate(w))
		})
	}
	for id, w := range slowCases {
		t.Run(id, func(t *testing.T) {
			k, f := warnFacts(w.Result, &warned{slow: &w})
			check(t, id, k, f, slowKnowledge, ForPerformance(w))
		})
	}
}

// TestCertificateStepsFollowTheIssuer: an ACME certificate's steps are
// about its renewal job, a CDN's about the CDN's dashboard (even when the
// CDN's CA is an ACME one), an intermediate's about the chain file, and a
// certificate served to some vantages only about the place still serving
// it. Every warning ends with the command to see it from the vantage.
func TestCertificateStepsFollowTheIssuer(t *testing.T) {
	cdn := func(issuer, gw string, via bool) CertWarning {
		w := warnCert(issuer, 0)
		if via {
			w.Result.Via = []string{gw}
		} else {
			w.Result.Gateway = gw
		}
		return w
	}
	tests := []struct {
		name     string
		w        CertWarning
		want     []string
		wantNone []string
	}{
		{"Let's Encrypt", certCases["cert-acme"],
			[]string{"R11 issues by ACME: check the renewal timer or cron (systemctl list-timers | grep -i certbot", "certbot renew --dry-run", "/var/log/letsencrypt/letsencrypt.log"},
			[]string{"dashboard", "intermediate", "Renew the certificate"}},
		{"Buypass", warnCert("CN=Buypass Class 2 CA 5,O=Buypass AS-983163327,C=NO", 0),
			[]string{"certbot renew --dry-run"}, []string{"dashboard"}},
		{"Cloudflare edge, Google's ACME CA", certCases["cert-cdn"],
			[]string{"Cloudflare's dashboard manages this certificate: check its edge certificate status there"},
			[]string{"certbot", "ACME", "Renew the certificate"}},
		{"CloudFront as the gateway", cdn(le, gateway.CloudFront, false),
			[]string{"AWS's dashboard manages this certificate"}, []string{"certbot"}},
		{"Fastly in Via", cdn("CN=Certainly Intermediate R1,O=Certainly,C=US", gateway.Fastly, true),
			[]string{"Fastly's dashboard manages this certificate"}, []string{"certbot"}},
		{"Akamai", cdn("CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US", gateway.Akamai, true),
			[]string{"Akamai's dashboard", "(CPS)"}, []string{"certbot"}},
		{"an intermediate expires first", certCases["cert-intermediate"],
			[]string{"The server sends an old intermediate (shop.example.test, expires 2026-12-12): update the chain file (fullchain.pem) and reload"},
			[]string{"certbot", "Renew the certificate"}},
		{"served to some vantages only", certCases["cert-served-to-some"],
			[]string{"Served only to fra1: one edge or backend behind shop.example.test still serves the old certificate"}, nil},
		{"a private CA", certCases["cert-renew"],
			[]string{"Renew the certificate for shop.example.test with its CA (Corp Issuing CA) before 2026-12-12"}, []string{"certbot", "dashboard"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ForCertificate(tc.w)
			for _, w := range tc.want {
				if !containsSub(got, w) {
					t.Errorf("no step says %q:\n%s", w, strings.Join(got, "\n"))
				}
			}
			for _, w := range tc.wantNone {
				if containsSub(got, w) {
					t.Errorf("a step says %q:\n%s", w, strings.Join(got, "\n"))
				}
			}
			const cmd = "From fra1: openssl s_client -connect 198.51.100.7:443 -servername shop.example.test </dev/null 2>/dev/null | openssl x509 -noout -serial -enddate -issuer"
			if len(got) == 0 || got[len(got)-1] != cmd {
				t.Errorf("last step is not the command for fra1:\n%s", strings.Join(got, "\n"))
			}
			checkWarnSteps(t, got)
		})
	}
}

// TestCertificateCommandFromThisHost: for the local vantage the command is
// run here, and without the vantage's address it dials the URL's host.
func TestCertificateCommandFromThisHost(t *testing.T) {
	w := warnCert(le, 0)
	w.From, w.Addr = result.LocalVantage, ""
	w.Result.RemoteAddr = ""
	got := ForCertificate(w)
	if !containsSub(got, "From this host: openssl s_client -connect shop.example.test:443 -servername shop.example.test </dev/null") {
		t.Errorf("no command for this host:\n%s", strings.Join(got, "\n"))
	}
}

// TestSlowStepsFollowThePhase: each phase is told about its own causes,
// not another phase's.
func TestSlowStepsFollowThePhase(t *testing.T) {
	tests := []struct {
		name     string
		w        SlowWarning
		want     []string
		wantNone []string
	}{
		{"DNS: the resolver and TTLs", slowCases["slow-dns"],
			[]string{"dig +stats shop.example.test", "dig +stats @<resolver> shop.example.test", "dig shop.example.test | grep -A1 ANSWER", "raise TTLs"},
			[]string{"mtr", "OCSP", "somaxconn", "slow query"}},
		{"connect: the path and the SYN backlog", slowCases["slow-connect"],
			[]string{"from fra1: mtr -rwc 20 198.51.100.7", "ss -ltn 'sport = :443'", "Recv-Q", "net.core.somaxconn", "listen backlog"},
			[]string{"dig", "OCSP", "slow query"}},
		{"TLS: stapling, chain, CPU", slowCases["slow-tls"],
			[]string{"openssl s_client -connect 198.51.100.7:443 -servername shop.example.test -status", "only the leaf and its intermediates", "ECDSA", "session resumption"},
			[]string{"dig", "mtr", "slow query"}},
		{"TTFB from some: the path from those regions", slowCases["slow-ttfb-path"],
			[]string{"Slow from fra1 and iad1 only, fast from local: the path to the app from those regions", "%{time_starttransfer}"},
			[]string{"Slow from every vantage", "dig", "mtr"}},
		{"TTFB from all: the app", slowCases["slow-ttfb-everywhere"],
			[]string{"Slow from every vantage (fra1 and local): the app itself", "$upstream_response_time", "slow query log"},
			[]string{"from those regions", "The first byte waits"}},
		{"TTFB from the one vantage: the app and its upstreams", slowCases["slow-ttfb"],
			[]string{"slow-request log", "$upstream_response_time", "log_min_duration_statement"},
			[]string{"from those regions", "every vantage"}},
		{"transfer with the body size", slowCases["slow-transfer-body"],
			[]string{"The body is 5242880 bytes", "curl -so /dev/null -w '%{size_download} %{speed_download}\\n' --compressed https://shop.example.test/health", "bandwidth"},
			[]string{"Measure size and speed", "dig", "OCSP"}},
		{"transfer, size unknown", slowCases["slow-transfer-size"],
			[]string{"Measure size and speed: curl -so /dev/null -w '%{size_download} %{speed_download}\\n' --compressed", "bandwidth"},
			[]string{"The body is"}},
		{"total: where the time goes", slowCases["slow-total"],
			[]string{"%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}"},
			[]string{"dig", "OCSP"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ForPerformance(tc.w)
			for _, w := range tc.want {
				if !containsSub(got, w) {
					t.Errorf("no step says %q:\n%s", w, strings.Join(got, "\n"))
				}
			}
			for _, w := range tc.wantNone {
				if containsSub(got, w) {
					t.Errorf("a step says %q:\n%s", w, strings.Join(got, "\n"))
				}
			}
			checkWarnSteps(t, got)
		})
	}
}

// TestSuggestOnAWarningClass: a result with a warning's class that comes
// to Suggest without its warning gets the warning's steps, as seen from
// this host.
func TestSuggestOnAWarningClass(t *testing.T) {
	r := warnResult()
	r.OK, r.Class, r.Detail = false, result.ClassCertExpiring, result.WarnDetail(7)
	r.TLS = &result.TLSInfo{Issuer: le, Subject: "CN=shop.example.test", NotAfter: result.TimeOf(time.Date(2026, 12, 12, 10, 0, 0, 0, time.UTC)),
		Earliest: &result.CertInfo{Issuer: "CN=ISRG Root X1,O=Internet Security Research Group", Subject: "CN=R11,O=Let's Encrypt", Depth: 1,
			NotAfter: result.TimeOf(time.Date(2026, 12, 10, 10, 0, 0, 0, time.UTC))}}
	got := Suggest(r, nil)
	for _, w := range []string{"old intermediate (R11, expires 2026-12-10)", "From this host: openssl s_client -connect 198.51.100.7:443 -servername shop.example.test"} {
		if !containsSub(got, w) {
			t.Errorf("no step says %q:\n%s", w, strings.Join(got, "\n"))
		}
	}
	r = warnResult()
	r.OK, r.Class, r.Detail = false, result.ClassDegraded, result.PhaseConnect
	if got := Suggest(r, nil); !containsSub(got, "from this host: mtr -rwc 20 198.51.100.7") {
		t.Errorf("degraded connect: %q", got)
	}
}

func TestACMEIssuer(t *testing.T) {
	for dn, want := range map[string]bool{
		le:                           true,
		"CN=E6,O=Let's Encrypt,C=US": true,
		"CN=ZeroSSL ECC Domain Secure Site CA,O=ZeroSSL,C=AT":               true,
		"CN=Buypass Class 2 CA 5,O=Buypass AS-983163327,C=NO":               true,
		"CN=WR1,O=Google Trust Services,C=US":                               true,
		"CN=WE2,O=Google Trust Services,C=US":                               true,
		"CN=GTS CA 1C3,O=Google Trust Services LLC,C=US":                    false,
		"CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US": false,
		"CN=Corp Issuing CA,O=Example Corp":                                 false,
	} {
		if got := acmeIssuer(dn); got != want {
			t.Errorf("acmeIssuer(%q) = %v, want %v", dn, got, want)
		}
	}
}

func TestAndList(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""}, {[]string{"fra1"}, "fra1"}, {[]string{"fra1", "iad1"}, "fra1 and iad1"},
		{[]string{"fra1", "iad1", "sgp1"}, "fra1, iad1 and sgp1"},
	} {
		if got := AndList(tc.in); got != tc.want {
			t.Errorf("AndList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
