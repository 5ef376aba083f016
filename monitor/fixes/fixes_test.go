package fixes

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/gateway"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func containsSub(steps []string, sub string) bool {
	for _, s := range steps {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func checkBounded(t *testing.T, steps []string) {
	t.Helper()
	if len(steps) > MaxSteps {
		t.Errorf("%d steps, want at most %d", len(steps), MaxSteps)
	}
	seen := map[string]bool{}
	for _, s := range steps {
		if seen[s] {
			t.Errorf("duplicate step %q", s)
		}
		seen[s] = true
		if n := utf8.RuneCountInString(s); n > MaxStepLen {
			t.Errorf("step is %d runes, want at most %d: %q", n, MaxStepLen, s)
		}
		if strings.TrimSpace(s) == "" {
			t.Error("empty step")
		}
		if p := placeholder.FindString(s); p != "" {
			t.Errorf("unfilled placeholder %s in %q", p, s)
		}
	}
}

// knownPlaceholders are the fields newFacts can fill.
var knownPlaceholders = []string{
	"url", "final_url", "gateway", "via", "detail", "retry_after", "status",
	"host", "port", "ip", "target", "not_after", "not_before", "issuer", "dns_names",
	"origin", "dns_server", "dns_ip", "dns_port",
}

// fullFacts has every fact a template can use, the diagnosis's included.
func fullFacts() *known {
	return &known{Result: fullResult(), diag: &result.Diagnosis{
		Origin: &result.OriginCheck{URL: "http://10.20.30.40:8080/api/v2/health", Result: result.Result{Class: result.ClassConnectionRefused}}}}
}

// fullResult has every fact a template can use, with realistic lengths.
func fullResult() *result.Result {
	return &result.Result{
		URL:        "https://checkout.eu-west-1.shop.example.test:8443/api/v2/health",
		FinalURL:   "https://checkout.eu-west-1.shop.example.test:8443/login?next=/api/v2/health",
		Class:      result.ClassBadGateway,
		Status:     502,
		Gateway:    gateway.AzureFrontDoor,
		Via:        []string{gateway.Cloudflare, gateway.Akamai},
		Detail:     "upstream-connect-error",
		RetryAfter: "Wed, 21 Oct 2026 07:28:00 GMT",
		RemoteAddr: "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:8443",
		DNSServer:  "[2001:db8:4860::8888]:5353",
		TLS: &result.TLSInfo{
			Issuer:    "CN=Example Corporate Issuing CA 02,OU=PKI,O=Example Corporation,C=US",
			NotBefore: result.TimeOf(time.Date(2026, 8, 5, 0, 0, 0, 0, time.UTC)),
			NotAfter:  result.TimeOf(time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)),
			DNSNames:  []string{"checkout.example.test", "www.checkout.example.test", "api.checkout.example.test", "a.example.test", "b.example.test", "c.example.test"},
		},
	}
}

// TestTableIsWellFormed is the review gate for new entries.
func TestTableIsWellFormed(t *testing.T) {
	ids := map[string]bool{}
	full := newFacts(fullFacts())
	for _, e := range knowledge {
		if e.id == "" || ids[e.id] {
			t.Errorf("entry id %q is empty or repeated", e.id)
		}
		ids[e.id] = true
		if len(e.when) == 0 {
			t.Errorf("%s: no conditions: it would apply to every failure", e.id)
		}
		for _, c := range e.when {
			if c.name == "" || c.weight <= 0 || c.test == nil {
				t.Errorf("%s: malformed condition %+v", e.id, c)
			}
		}
		if len(e.steps) == 0 || len(e.steps) > MaxSteps {
			t.Errorf("%s: %d steps, want 1..%d", e.id, len(e.steps), MaxSteps)
		}
		for _, s := range e.steps {
			for _, p := range placeholder.FindAllString(s, -1) {
				if !slices.Contains(knownPlaceholders, p[1:len(p)-1]) {
					t.Errorf("%s: unknown placeholder %s in %q", e.id, p, s)
				}
			}
			out, ok := full.fill(s)
			if !ok {
				t.Errorf("%s: step not renderable with every fact set: %q", e.id, s)
				continue
			}
			// Judge the template, not the clipping safety net.
			if n := utf8.RuneCountInString(out); n > MaxStepLen {
				t.Errorf("%s: step is %d runes with realistic facts, want <= %d: %q", e.id, n, MaxStepLen, out)
			}
			if strings.TrimSpace(s) != s || !strings.ContainsAny(s, " ") {
				t.Errorf("%s: step has stray whitespace or is a single word: %q", e.id, s)
			}
		}
	}
}

func TestKnownPlaceholdersAreFilled(t *testing.T) {
	f := newFacts(fullFacts())
	for _, p := range knownPlaceholders {
		if f[p] == "" {
			t.Errorf("placeholder {%s} is not filled from a full result", p)
		}
	}
	if len(f) != len(knownPlaceholders) {
		t.Errorf("newFacts fills %d fields, test knows %d: update knownPlaceholders", len(f), len(knownPlaceholders))
	}
}

func TestEveryFailureClassGetsSteps(t *testing.T) {
	for _, c := range result.AllClasses() {
		if c == result.ClassOK {
			continue
		}
		t.Run(string(c), func(t *testing.T) {
			got := Suggest(&result.Result{URL: testURL, Class: c}, nil)
			if len(got) == 0 {
				t.Fatalf("no steps for class %s", c)
			}
			checkBounded(t, got)
		})
	}
}

func TestPassingResultsGetNoFixes(t *testing.T) {
	for name, r := range map[string]*result.Result{
		"nil":                    nil,
		"ok":                     {URL: testURL, OK: true, Class: result.ClassOK, Status: 200},
		"ok flag wins":           {URL: testURL, OK: true, Class: result.ClassBadGateway, Status: 502, Gateway: gateway.Nginx},
		"ok class without flag":  {URL: testURL, Class: result.ClassOK, Status: 200, Gateway: gateway.Cloudflare},
		"unknown class, no fact": {URL: testURL, Class: "brand_new_class"},
	} {
		if got := Suggest(r, nil); got != nil {
			t.Errorf("%s: want no fixes, got %q", name, got)
		}
	}
}

func TestCertExpiredNamesTheDate(t *testing.T) {
	// 01:00 on Nov 4 at UTC+5 is Nov 3 in UTC: the date is reported in UTC.
	notAfter := time.Date(2026, 11, 4, 1, 0, 0, 0, time.FixedZone("UTC+5", 5*3600))
	r := &result.Result{
		URL: testURL, Class: result.ClassTLSError, Detail: result.DetailCertExpired,
		TLS: &result.TLSInfo{NotAfter: result.TimeOf(notAfter), DaysLeft: -3},
	}
	got := Suggest(r, nil)
	if len(got) == 0 || got[0] != "The certificate for shop.example.test expired on 2026-11-03: renewal failed or never ran." {
		t.Errorf("first step should name host and UTC expiry date, got %q", got)
	}
	// Without the certificate the date step is left out, not shown half-filled.
	r.TLS = nil
	got = Suggest(r, nil)
	if containsSub(got, "expired on") || len(got) == 0 {
		t.Errorf("without a certificate: want undated steps only, got %q", got)
	}
	checkBounded(t, got)
}

func TestHostnameMismatchListsNames(t *testing.T) {
	r := fullResult()
	r.Class, r.Detail, r.Gateway, r.Via = result.ClassTLSError, result.DetailHostnameMismatch, "", nil
	got := Suggest(r, nil)
	// Names are listed up to a length budget, then counted.
	want := "covers only checkout.example.test, www.checkout.example.test, api.checkout.example.test and 3 more: add checkout.eu-west-1.shop.example.test to its SAN list"
	if len(got) == 0 || !strings.Contains(got[0], want) {
		t.Errorf("want first step to contain %q, got %q", want, got)
	}
}

func TestMissingFactDropsOnlyThatStep(t *testing.T) {
	r := res(result.ClassClientError, 429, "", "").Result
	if containsSub(Suggest(r, nil), "Retry-After") {
		t.Errorf("no Retry-After in the result, but a step mentions it: %q", Suggest(r, nil))
	}
	r.RetryAfter = "120"
	if got := Suggest(r, nil); !slices.Contains(got, "The server asked to wait 120 before retrying (Retry-After).") {
		t.Errorf("want the Retry-After value in a step, got %q", got)
	}
}

func TestTargetFallsBackToHostAndPort(t *testing.T) {
	tests := []struct {
		url, remote, want string
	}{
		{"https://shop.example.test/health", "127.0.0.1:8443", "127.0.0.1:8443 refused the connection: nothing listens on port 8443"},
		{"https://shop.example.test/health", "", "shop.example.test:443 refused the connection: nothing listens on port 443"},
		{"http://shop.example.test/health", "", "shop.example.test:80 refused the connection: nothing listens on port 80"},
		{"http://[::1]:8080/", "", "[::1]:8080 refused the connection: nothing listens on port 8080"},
	}
	for _, tc := range tests {
		got := Suggest(&result.Result{URL: tc.url, RemoteAddr: tc.remote, Class: result.ClassConnectionRefused}, nil)
		if len(got) == 0 || !strings.HasPrefix(got[0], tc.want) {
			t.Errorf("url %s remote %q: want prefix %q, got %q", tc.url, tc.remote, tc.want, got)
		}
	}
}

func TestSharedStepsAreDeduplicated(t *testing.T) {
	r := entryCases["tls-unknown-authority-issuer"]
	chain, _ := newFacts(r).render(stepShowChain)
	got := Suggest(r.Result, r.diag)
	n := 0
	for _, s := range got {
		if s == chain {
			n++
		}
	}
	if n != 1 {
		t.Errorf("shared chain step appears %d times, want once: %q", n, got)
	}
	var ids []string
	for _, e := range selectEntries(r) {
		ids = append(ids, e.id)
	}
	if !slices.Contains(ids, "tls-unknown-authority") || !slices.Contains(ids, "tls") {
		t.Fatalf("test premise: both entries sharing the step should apply, got %v", ids)
	}
}

func TestBoundedUnderManyMatches(t *testing.T) {
	// nginx behind Cloudflare matches the relayed note, seven nginx and
	// generic steps: the output stops at MaxSteps with the most specific kept.
	r := entryCases["relayed-by-cdn"]
	got := Suggest(r.Result, r.diag)
	if len(got) != MaxSteps {
		t.Fatalf("want exactly %d steps, got %d: %q", MaxSteps, len(got), got)
	}
	if !strings.HasPrefix(got[0], "nginx generated this error and cloudflare only relayed it") {
		t.Errorf("first step: %q", got[0])
	}
	checkBounded(t, got)
}

func TestPathologicalInputStaysBounded(t *testing.T) {
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + ".example.test"
	names := make([]string, 40)
	for i := range names {
		names[i] = long
	}
	for _, c := range result.AllClasses() {
		for _, d := range []string{"", result.DetailHostnameMismatch, result.DetailCertExpired, "cloudflare-526"} {
			r := &result.Result{
				URL: "https://" + long + ":8443/x", Class: c, Detail: d, Status: 502,
				Gateway: gateway.Nginx, Via: []string{gateway.Cloudflare, gateway.Fastly},
				RemoteAddr: "[2001:db8::1]:8443", RetryAfter: strings.Repeat("9", 300),
				TLS:      &result.TLSInfo{NotAfter: result.TimeOf(time.Unix(0, 0)), DNSNames: names, Issuer: long},
				Evidence: result.Evidence{Headers: []string{"", ":", "no colon"}, Body: strings.Repeat("ü", 500)},
			}
			checkBounded(t, Suggest(r, nil))
		}
	}
	// Garbage URLs and empty results must not panic, and still help.
	for _, u := range []string{"", "::not a url", "https://", "http://[::1"} {
		got := Suggest(&result.Result{URL: u, Class: result.ClassConnectionRefused}, nil)
		if len(got) == 0 {
			t.Errorf("url %q: want steps without placeholders, got none", u)
		}
		checkBounded(t, got)
	}
}

func TestClip(t *testing.T) {
	s := strings.Repeat("é", MaxStepLen+10)
	got := clip(s)
	if n := utf8.RuneCountInString(got); n != MaxStepLen || !strings.HasSuffix(got, "…") {
		t.Errorf("clip gave %d runes, suffix %q", n, got[len(got)-3:])
	}
	short := strings.Repeat("é", MaxStepLen) // 400 bytes, 200 runes: not cut
	if clip(short) != short {
		t.Error("clip cut a string at the limit")
	}
}

func TestPlaceholderSyntaxLeavesConfigBracesAlone(t *testing.T) {
	for _, s := range []string{"upstream{}", "server {", "{Host}", "{ host }", "{host-name}"} {
		if placeholder.MatchString(s) {
			t.Errorf("%q would be taken for a placeholder", s)
		}
	}
	out, ok := facts{}.render("the upstream{} block")
	if !ok || out != "the upstream{} block" {
		t.Errorf("render changed literal braces: %q %v", out, ok)
	}
}

// TestVendorDetailTokensHaveEntries keeps the knowledge base in step with
// the tokens gateway identification emits: each must select an entry keyed
// on it, not only the generic class advice.
func TestVendorDetailTokensHaveEntries(t *testing.T) {
	tokens := []string{
		"cloudflare-520", "cloudflare-521", "cloudflare-522", "cloudflare-523", "cloudflare-524",
		"cloudflare-525", "cloudflare-526", "cloudflare-527", "cloudflare-530",
		"no-healthy-upstream", "upstream-connect-error", "upstream-request-timeout", "maintenance-mode",
		"no-server-available", "invalid-response", "server-timeout",
		"backend-fetch-failed", "first-byte-timeout", "backend-read-error", "max-conn-reached",
		"connection-refused", "all-backends-failed",
		"no-available-server", "no-upstreams",
		"function-invocation-timeout", "edge-function-invocation-timeout", "middleware-invocation-timeout",
		"function-invocation-failed", "no-response-from-function", "body-not-a-string-from-function",
		"function-throttled", "deployment-paused", "dns-hostname-not-found", "dns-hostname-resolve-failed",
		"dns-hostname-server-error", "dns-hostname-empty",
	}
	for _, tok := range tokens {
		r := &result.Result{URL: testURL, Class: result.ClassServiceUnavailable, Status: 503, Detail: tok}
		found := false
		for _, e := range selectEntries(&known{Result: r}) {
			for _, c := range e.when {
				if strings.HasPrefix(c.name, "detail=") {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("detail token %q selects no entry keyed on it", tok)
		}
	}
}

func TestSuggestDoesNotModifyResult(t *testing.T) {
	r := fullResult()
	r.Evidence = result.Evidence{Headers: []string{"Server: envoy"}, Markers: []string{"m"}, Body: "b"}
	before := *r
	tlsBefore := *r.TLS
	Suggest(r, nil)
	if !reflect.DeepEqual(before, *r) || !reflect.DeepEqual(tlsBefore, *r.TLS) {
		t.Error("Suggest changed its input")
	}
}
