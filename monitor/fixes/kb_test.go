package fixes

import (
	"slices"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/gateway"
	"github.com/vantage-monitor/vantage/monitor/result"
)

const testURL = "https://shop.example.test/health"

// res builds a failing result for testURL; the cases below then set the
// facts that select each entry, so each line reads as "these facts → entry".
func res(c result.Class, status int, gw, detail string) *known {
	return &known{Result: &result.Result{URL: testURL, Class: c, Status: status, Gateway: gw, Detail: detail}}
}

func with(r *known, f func(*known)) *known {
	f(r)
	return r
}

// diagnosed gives r the diagnosis of a round: its direct probe of the
// origin ended in origin (no probe when ""), and it found fs.
func diagnosed(r *known, origin result.Class, fs ...result.Finding) *known {
	r.diag = &result.Diagnosis{Findings: fs}
	if origin != "" {
		r.diag.Origin = &result.OriginCheck{URL: "http://10.0.0.5:8080/health", Result: result.Result{Class: origin}}
	}
	return r
}

var (
	expiry   = time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	leafCert = &result.TLSInfo{
		Issuer:    "CN=R11,O=Let's Encrypt,C=US",
		Subject:   "CN=shop.example.test",
		NotBefore: result.TimeOf(expiry.AddDate(0, -3, 0)),
		NotAfter:  result.TimeOf(expiry),
		DaysLeft:  -18,
		DNSNames:  []string{"example.test", "www.example.test"},
	}
)

// entryCases holds, for every entry in the knowledge base, a result whose
// facts select it. TestEveryEntryHasASelectingCase keeps it complete.
var entryCases = map[string]*known{
	"relayed-by-cdn": with(res(result.ClassBadGateway, 502, gateway.Nginx, ""), func(r *known) { r.Via = []string{gateway.Cloudflare} }),

	"nginx-502": res(result.ClassBadGateway, 502, gateway.Nginx, ""),
	"nginx-504": res(result.ClassGatewayTimeout, 504, gateway.Nginx, ""),
	"nginx-503": res(result.ClassServiceUnavailable, 503, gateway.Nginx, ""),

	"cloudflare-520": res(result.ClassBadGateway, 520, gateway.Cloudflare, "cloudflare-520"),
	"cloudflare-521": res(result.ClassBadGateway, 521, gateway.Cloudflare, "cloudflare-521"),
	"cloudflare-522": res(result.ClassGatewayTimeout, 522, gateway.Cloudflare, "cloudflare-522"),
	"cloudflare-523": res(result.ClassBadGateway, 523, gateway.Cloudflare, "cloudflare-523"),
	"cloudflare-524": res(result.ClassGatewayTimeout, 524, gateway.Cloudflare, "cloudflare-524"),
	"cloudflare-525": res(result.ClassBadGateway, 525, gateway.Cloudflare, "cloudflare-525"),
	"cloudflare-526": res(result.ClassBadGateway, 526, gateway.Cloudflare, "cloudflare-526"),
	"cloudflare-527": res(result.ClassBadGateway, 527, gateway.Cloudflare, "cloudflare-527"),
	"cloudflare-530": res(result.ClassBadGateway, 530, gateway.Cloudflare, "cloudflare-530"),
	"cloudflare-branded-origin-error": with(res(result.ClassGatewayTimeout, 504, "", ""), func(r *known) {
		r.Via = []string{gateway.Cloudflare}
	}),
	"cloudflare-503": res(result.ClassServiceUnavailable, 503, gateway.Cloudflare, ""),
	"cloudflare":     res(result.ClassBadGateway, 502, gateway.Cloudflare, ""),

	"aws-alb-502":    res(result.ClassBadGateway, 502, gateway.AWSALB, ""),
	"aws-alb-503":    res(result.ClassServiceUnavailable, 503, gateway.AWSALB, ""),
	"aws-alb-504":    res(result.ClassGatewayTimeout, 504, gateway.AWSALB, ""),
	"aws-alb":        res(result.ClassServerError, 500, gateway.AWSALB, ""),
	"cloudfront-502": res(result.ClassBadGateway, 502, gateway.CloudFront, ""),
	"cloudfront-504": res(result.ClassGatewayTimeout, 504, gateway.CloudFront, ""),
	"cloudfront":     res(result.ClassServiceUnavailable, 503, gateway.CloudFront, ""),

	"gcp-lb-502":          res(result.ClassBadGateway, 502, gateway.GCPLB, ""),
	"gcp-lb-504":          res(result.ClassGatewayTimeout, 504, gateway.GCPLB, ""),
	"gcp-lb":              res(result.ClassServiceUnavailable, 503, gateway.GCPLB, ""),
	"azure-appgw":         res(result.ClassBadGateway, 502, gateway.AzureAppGW, ""),
	"azure-frontdoor-504": res(result.ClassGatewayTimeout, 504, gateway.AzureFrontDoor, ""),
	"azure-frontdoor":     res(result.ClassServiceUnavailable, 503, gateway.AzureFrontDoor, ""),

	"envoy-passthrough": with(res(result.ClassServiceUnavailable, 503, "", ""), func(r *known) {
		r.Via = []string{gateway.Envoy}
		r.Evidence.Headers = []string{"Server: envoy", "X-Envoy-Upstream-Service-Time: 12"}
	}),
	"envoy-protocol-error": with(res(result.ClassBadGateway, 502, gateway.Envoy, "upstream-connect-error"), func(r *known) {
		r.Evidence.Body = "upstream connect error or disconnect/reset before headers. reset reason: protocol error"
	}),
	"envoy-transport-failure": with(res(result.ClassServiceUnavailable, 503, gateway.Envoy, "upstream-connect-error"), func(r *known) {
		r.Evidence.Body = "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS error: CERTIFICATE_VERIFY_FAILED"
	}),
	// Identification quotes the reset reason in a marker; the body may not be kept.
	"envoy-overflow": with(res(result.ClassServiceUnavailable, 503, gateway.Envoy, "upstream-connect-error"), func(r *known) {
		r.Evidence.Markers = []string{`envoy reset reason "overflow"`}
	}),
	"envoy-connection-failure": with(res(result.ClassServiceUnavailable, 503, gateway.Envoy, "upstream-connect-error"), func(r *known) {
		r.Evidence.Body = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	}),
	"envoy-upstream-connect-error": with(res(result.ClassServiceUnavailable, 503, gateway.Envoy, "upstream-connect-error"), func(r *known) {
		r.Evidence.Body = "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote reset"
	}),
	"envoy-no-healthy-upstream":      res(result.ClassServiceUnavailable, 503, gateway.Envoy, "no-healthy-upstream"),
	"envoy-upstream-request-timeout": res(result.ClassGatewayTimeout, 504, gateway.Envoy, "upstream-request-timeout"),
	"envoy-maintenance-mode":         res(result.ClassServiceUnavailable, 503, gateway.Envoy, "maintenance-mode"),
	"envoy-generated":                res(result.ClassServiceUnavailable, 503, gateway.Envoy, ""),

	"haproxy-no-server":        res(result.ClassServiceUnavailable, 503, gateway.HAProxy, "no-server-available"),
	"haproxy-server-timeout":   res(result.ClassGatewayTimeout, 504, gateway.HAProxy, "server-timeout"),
	"haproxy-invalid-response": res(result.ClassBadGateway, 502, gateway.HAProxy, "invalid-response"),
	"haproxy":                  res(result.ClassBadGateway, 502, gateway.HAProxy, ""),
	"traefik-no-server":        res(result.ClassServiceUnavailable, 503, gateway.Traefik, "no-available-server"),
	"traefik":                  res(result.ClassBadGateway, 502, gateway.Traefik, ""),
	"caddy-no-upstreams":       res(result.ClassServiceUnavailable, 503, gateway.Caddy, "no-upstreams"),
	"caddy":                    res(result.ClassBadGateway, 502, gateway.Caddy, ""),
	"apache-503":               res(result.ClassServiceUnavailable, 503, gateway.Apache, ""),
	"apache-502":               res(result.ClassBadGateway, 502, gateway.Apache, ""),
	"apache-504":               res(result.ClassGatewayTimeout, 504, gateway.Apache, ""),

	"varnish-backend-fetch-failed": with(res(result.ClassServiceUnavailable, 503, gateway.Varnish, "backend-fetch-failed"), func(r *known) { r.RetryAfter = "5" }),
	"fastly-first-byte-timeout":    res(result.ClassServiceUnavailable, 503, gateway.Fastly, "first-byte-timeout"),
	"fastly-backend-read-error":    res(result.ClassServiceUnavailable, 503, gateway.Fastly, "backend-read-error"),
	"fastly-max-conn":              res(result.ClassServiceUnavailable, 503, gateway.Fastly, "max-conn-reached"),
	"fastly-connection-refused":    res(result.ClassServiceUnavailable, 503, gateway.Fastly, "connection-refused"),
	"fastly-all-backends-failed":   res(result.ClassServiceUnavailable, 503, gateway.Fastly, "all-backends-failed"),
	"fastly":                       res(result.ClassServiceUnavailable, 503, gateway.Fastly, ""),
	"akamai-504":                   res(result.ClassGatewayTimeout, 504, gateway.Akamai, ""),
	"akamai":                       res(result.ClassServiceUnavailable, 503, gateway.Akamai, ""),

	"heroku":                  res(result.ClassServiceUnavailable, 503, gateway.Heroku, ""),
	"vercel-function-timeout": res(result.ClassGatewayTimeout, 504, gateway.Vercel, "function-invocation-timeout"),
	"vercel-other-timeout":    res(result.ClassGatewayTimeout, 504, gateway.Vercel, "middleware-invocation-timeout"),
	"vercel-function-failed":  res(result.ClassServerError, 500, gateway.Vercel, "function-invocation-failed"),
	"vercel-throttled-paused": res(result.ClassServiceUnavailable, 503, gateway.Vercel, "deployment-paused"),
	"vercel-origin-dns":       res(result.ClassBadGateway, 502, gateway.Vercel, "dns-hostname-not-found"),
	"vercel":                  res(result.ClassBadGateway, 502, gateway.Vercel, ""),
	"fly":                     res(result.ClassBadGateway, 502, gateway.Fly, ""),

	"dns-nxdomain":         res(result.ClassDNSError, 0, "", result.DetailNXDomain),
	"dns-servfail":         res(result.ClassDNSError, 0, "", result.DetailServFail),
	"dns-no-answer":        res(result.ClassDNSError, 0, "", result.DetailNoAnswer),
	"dns-resolver-timeout": res(result.ClassDNSError, 0, "", result.DetailResolverTimeout),
	"dns-servfail-at":      with(res(result.ClassDNSError, 0, "", result.DetailServFail), func(r *known) { r.DNSServer = "127.0.0.1:5353" }),
	"dns-resolver-timeout-at": with(res(result.ClassDNSError, 0, "", result.DetailResolverTimeout), func(r *known) {
		r.DNSServer = "127.0.0.1:5353"
	}),
	"dns": res(result.ClassDNSError, 0, "", ""),

	"tls-cert-expired-dated": with(res(result.ClassTLSError, 0, "", result.DetailCertExpired), func(r *known) { r.TLS = leafCert }),
	"tls-cert-expired":       res(result.ClassTLSError, 0, "", result.DetailCertExpired),
	"tls-not-yet-valid-dated": with(res(result.ClassTLSError, 0, "", result.DetailCertNotYetValid), func(r *known) {
		r.TLS = leafCert
	}),
	"tls-not-yet-valid": res(result.ClassTLSError, 0, "", result.DetailCertNotYetValid),
	"tls-unknown-authority-issuer": with(res(result.ClassTLSError, 0, "", result.DetailUnknownAuthority), func(r *known) {
		r.TLS = leafCert
	}),
	"tls-unknown-authority": res(result.ClassTLSError, 0, "", result.DetailUnknownAuthority),
	"tls-hostname-mismatch-names": with(res(result.ClassTLSError, 0, "", result.DetailHostnameMismatch), func(r *known) {
		r.TLS = leafCert
	}),
	"tls-hostname-mismatch": res(result.ClassTLSError, 0, "", result.DetailHostnameMismatch),
	"tls-handshake-failure": res(result.ClassTLSError, 0, "", result.DetailHandshakeFailure),
	"tls":                   res(result.ClassTLSError, 0, "", ""),

	"connection-refused":                with(res(result.ClassConnectionRefused, 0, "", ""), func(r *known) { r.RemoteAddr = "127.0.0.1:8443" }),
	"connection-reset-before-response":  res(result.ClassConnectionReset, 0, "", result.DetailResetBeforeResponse),
	"connection-reset-reading-body":     res(result.ClassConnectionReset, 200, "", result.DetailResetReadingBody),
	"connection-closed-before-response": res(result.ClassConnectionReset, 0, "", result.DetailClosedBeforeResp),
	"connection-reset":                  res(result.ClassConnectionReset, 0, "", ""),
	"connect-timeout":                   res(result.ClassConnectTimeout, 0, "", result.DetailConnect),
	"network-host-unreachable":          res(result.ClassNetworkUnreachable, 0, "", result.DetailHostUnreachable),
	"network-net-unreachable":           with(res(result.ClassNetworkUnreachable, 0, "", result.DetailNetUnreachable), func(r *known) { r.RemoteAddr = "[::1]:443" }),
	"network-unreachable":               res(result.ClassNetworkUnreachable, 0, "", ""),

	"timeout-waiting-headers": res(result.ClassTimeout, 0, "", result.DetailWaitingHeaders),
	"timeout-reading-body":    res(result.ClassTimeout, 200, "", result.DetailReadingBody),
	"timeout-tls-handshake":   res(result.ClassTimeout, 0, "", result.DetailTLSHandshake),
	"timeout-sending-request": res(result.ClassTimeout, 0, "", result.DetailSendingRequest),
	"timeout":                 res(result.ClassTimeout, 0, "", ""),

	"protocol-malformed":         res(result.ClassProtocolError, 0, "", result.DetailMalformedResponse),
	"protocol-headers-too-large": res(result.ClassProtocolError, 0, "", result.DetailHeadersTooLarge),
	"protocol-bad-body":          res(result.ClassProtocolError, 200, "", result.DetailBadBody),
	"protocol":                   res(result.ClassProtocolError, 0, "", ""),

	"redirects-cloudflare-flexible": with(res(result.ClassTooManyRedirects, 301, "", result.DetailRedirectLoop), func(r *known) {
		r.Via = []string{gateway.Cloudflare}
	}),
	"redirects-limit": res(result.ClassTooManyRedirects, 302, "", result.DetailRedirectLimit),
	"redirects":       res(result.ClassTooManyRedirects, 301, "", result.DetailRedirectLoop),

	"content-login-redirect": with(res(result.ClassContentMismatch, 200, "", result.DetailBodyMissingText), func(r *known) {
		r.FinalURL = "https://shop.example.test/login?next=/health"
	}),
	"content-maintenance": with(res(result.ClassContentMismatch, 200, "", result.DetailBodyMissingText), func(r *known) {
		r.Evidence.Body = "<h1>Down for Maintenance</h1>"
	}),
	"content-json-path": res(result.ClassContentMismatch, 200, "", result.DetailJSONPath),
	"content-header":    res(result.ClassContentMismatch, 200, "", result.DetailHeader),
	"content-mismatch":  res(result.ClassContentMismatch, 200, "", result.DetailBodyRegexFailed),

	"client-401":   res(result.ClassClientError, 401, "", ""),
	"client-403":   res(result.ClassClientError, 403, "", ""),
	"client-404":   res(result.ClassClientError, 404, "", ""),
	"client-429":   res(result.ClassClientError, 429, "", ""),
	"client-error": res(result.ClassClientError, 410, "", ""),

	"unexpected-status":               res(result.ClassUnexpectedStatus, 204, "", ""),
	"service-unavailable-retry-after": with(res(result.ClassServiceUnavailable, 503, "", ""), func(r *known) { r.RetryAfter = "120" }),
	"bad-gateway":                     res(result.ClassBadGateway, 502, "", ""),
	"gateway-timeout":                 res(result.ClassGatewayTimeout, 504, "", ""),
	"service-unavailable":             res(result.ClassServiceUnavailable, 503, "", ""),
	"server-error":                    res(result.ClassServerError, 500, "", ""),

	"nginx-502-upstream-refuses":     diagnosed(res(result.ClassBadGateway, 502, gateway.Nginx, ""), result.ClassConnectionRefused, result.FindingUpstreamDown),
	"nginx-502-upstream-resets":      diagnosed(res(result.ClassBadGateway, 502, gateway.Nginx, ""), result.ClassConnectionReset, result.FindingUpstreamDown),
	"nginx-502-gateway-path":         diagnosed(res(result.ClassBadGateway, 502, gateway.Nginx, ""), result.ClassOK, result.FindingGatewayPath),
	"nginx-504-upstream-unreachable": diagnosed(res(result.ClassGatewayTimeout, 504, gateway.Nginx, ""), result.ClassConnectTimeout, result.FindingUpstreamDown),
	"dns-nxdomain-disagreement":      diagnosed(res(result.ClassDNSError, 0, "", result.DetailNXDomain), "", result.FindingDNSDisagreement),
	"upstream-refuses":               diagnosed(res(result.ClassBadGateway, 502, "", ""), result.ClassConnectionRefused, result.FindingUpstreamDown),
	"upstream-resets":                diagnosed(res(result.ClassServiceUnavailable, 503, "", ""), result.ClassConnectionReset, result.FindingUpstreamDown),
	"upstream-times-out":             diagnosed(res(result.ClassGatewayTimeout, 504, "", ""), result.ClassConnectTimeout, result.FindingUpstreamDown),
	"gateway-path":                   diagnosed(res(result.ClassBadGateway, 502, "", ""), result.ClassOK, result.FindingGatewayPath),
	"dns-disagreement":               diagnosed(res(result.ClassConnectTimeout, 0, "", result.DetailConnect), "", result.FindingDNSDisagreement),
}

func entryByID(t *testing.T, id string) entry {
	t.Helper()
	for _, e := range knowledge {
		if e.id == id {
			return e
		}
	}
	t.Fatalf("no entry %q in the knowledge base", id)
	return entry{}
}

// firstStep renders e's first step for r, failing if it cannot be filled.
func firstStep(t *testing.T, id string, r *known) string {
	t.Helper()
	step, ok := newFacts(r).render(entryByID(t, id).steps[0])
	if !ok {
		t.Fatalf("entry %s: first step has an unfilled placeholder for its own case", id)
	}
	return step
}

func TestEveryEntryHasASelectingCase(t *testing.T) {
	for _, e := range knowledge {
		if _, ok := entryCases[e.id]; !ok {
			t.Errorf("entry %s has no case in entryCases showing which facts select it", e.id)
		}
	}
	for id := range entryCases {
		entryByID(t, id)
	}
}

// TestEntrySelectedByItsFacts is the per-entry test: its case selects it, and
// its first step reaches the operator despite the MaxSteps bound.
func TestEntrySelectedByItsFacts(t *testing.T) {
	for _, e := range knowledge {
		r, ok := entryCases[e.id]
		if !ok {
			continue // reported by TestEveryEntryHasASelectingCase
		}
		t.Run(e.id, func(t *testing.T) {
			var ids []string
			for _, s := range selectEntries(r) {
				ids = append(ids, s.id)
			}
			if !slices.Contains(ids, e.id) {
				t.Fatalf("case does not select %s; selected %v", e.id, ids)
			}
			want := firstStep(t, e.id, r)
			got := Suggest(r.Result, r.diag)
			if !slices.Contains(got, want) {
				t.Errorf("first step of %s missing from Suggest:\nwant %q\ngot  %q", e.id, want, got)
			}
			checkBounded(t, got)
		})
	}
}

// TestNearMisses pins the distinctions that matter: the facts that differ
// between two similar failures must change which side the operator looks at.
func TestNearMisses(t *testing.T) {
	tests := []struct {
		name     string
		r        *known
		want     []string // entries whose first step must be present
		wantNot  []string // entries whose first step must be absent
		contains string   // a substring some step must contain
	}{
		{"cloudflare 521 is origin refusing", entryCases["cloudflare-521"], []string{"cloudflare-521"}, []string{"cloudflare-522", "cloudflare-524"}, "refused"},
		{"cloudflare 522 is SYN unanswered", entryCases["cloudflare-522"], []string{"cloudflare-522"}, []string{"cloudflare-521", "cloudflare-524"}, "SYN+ACK"},
		{"cloudflare 524 is origin too slow", entryCases["cloudflare-524"], []string{"cloudflare-524"}, []string{"cloudflare-521", "cloudflare-522"}, "too slow"},
		{"nxdomain is a missing name", entryCases["dns-nxdomain"], []string{"dns-nxdomain"}, []string{"dns-servfail", "dns-resolver-timeout"}, "dig +trace"},
		{"servfail is DNSSEC or broken NS", entryCases["dns-servfail"], []string{"dns-servfail"}, []string{"dns-nxdomain", "dns-resolver-timeout"}, "dig +cd"},
		{"nginx 502 reads error.log", entryCases["nginx-502"], []string{"nginx-502"}, []string{"aws-alb-502"}, "/var/log/nginx/error.log"},
		{"ALB 502 is keep-alive and target health", entryCases["aws-alb-502"], []string{"aws-alb-502"}, []string{"nginx-502"}, "describe-target-health"},
		{"envoy generated", entryCases["envoy-generated"], []string{"envoy-generated"}, []string{"envoy-passthrough"}, "%RESPONSE_FLAGS%"},
		{"envoy passed through", entryCases["envoy-passthrough"], []string{"envoy-passthrough"}, []string{"envoy-generated"}, "app container's logs"},
		{"envoy protocol error is UPE", entryCases["envoy-protocol-error"], []string{"envoy-protocol-error", "envoy-upstream-connect-error"}, []string{"envoy-overflow", "envoy-connection-failure"}, "appProtocol"},
		{"nginx 502 direct is not relayed", entryCases["nginx-502"], nil, []string{"relayed-by-cdn"}, "upstream{}"},
		{"cert expired with cert seen", entryCases["tls-cert-expired-dated"], []string{"tls-cert-expired-dated", "tls-cert-expired"}, nil, "2026-11-03"},
		{"connect timeout is not refused", entryCases["connect-timeout"], []string{"connect-timeout"}, []string{"connection-refused"}, "DROP"},
		{"429 without Retry-After", entryCases["client-429"], []string{"client-429"}, nil, "rate-limited"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Suggest(tc.r.Result, tc.r.diag)
			for _, id := range tc.want {
				if s := firstStep(t, id, tc.r); !slices.Contains(got, s) {
					t.Errorf("want first step of %s, got %q", id, got)
				}
			}
			for _, id := range tc.wantNot {
				step, ok := newFacts(tc.r).render(entryByID(t, id).steps[0])
				if ok && slices.Contains(got, step) {
					t.Errorf("first step of %s must not apply, got %q", id, got)
				}
			}
			if !containsSub(got, tc.contains) {
				t.Errorf("no step mentions %q: %q", tc.contains, got)
			}
		})
	}
}

// TestMostSpecificFirst checks the ordering that decides what an alert shows
// first when several entries apply.
func TestMostSpecificFirst(t *testing.T) {
	tests := []struct {
		name  string
		r     *known
		first string // entry whose first step must come first
	}{
		{"vendor detail before gateway and class", entryCases["cloudflare-521"], "cloudflare-521"},
		{"relayed note before the gateway's steps", entryCases["relayed-by-cdn"], "relayed-by-cdn"},
		{"gateway before class", entryCases["nginx-504"], "nginx-504"},
		{"detail plus body before detail alone", entryCases["envoy-protocol-error"], "envoy-protocol-error"},
		{"dated expiry before undated", entryCases["tls-cert-expired-dated"], "tls-cert-expired-dated"},
		{"status before class", entryCases["client-403"], "client-403"},
		{"passthrough before gateway", entryCases["envoy-passthrough"], "envoy-passthrough"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Suggest(tc.r.Result, tc.r.diag)
			if want := firstStep(t, tc.first, tc.r); len(got) == 0 || got[0] != want {
				t.Errorf("first step:\nwant %q\ngot  %q", want, got)
			}
		})
	}
}

// TestDiagnosisNarrows: what the diagnosis saw puts the step it points at
// first and drops the steps it rules out. Without the diagnosis (the facts
// of the response alone) every one of these cases lists the dropped steps.
func TestDiagnosisNarrows(t *testing.T) {
	tests := []struct {
		name    string
		r       *known
		first   string   // the step that must come first
		dropped []string // steps the facts rule out
	}{
		{"nginx 502, origin refuses: refused upstream, not a too big header or php-fpm", entryCases["nginx-502-upstream-refuses"],
			stepNginxRefused, []string{stepNginxBadHeader, stepNginxSocket, stepNginxPremature, stepNginxReset}},
		{"nginx 502, origin resets: the reset, not a refused port or a too big header", entryCases["nginx-502-upstream-resets"],
			stepNginxReset, []string{stepNginxRefused, stepNginxBadHeader, stepNginxSocket}},
		{"nginx 504, origin does not answer: its host, not a slow app", entryCases["nginx-504-upstream-unreachable"],
			stepOriginTimesOut, []string{stepNginx504Slow, stepNginx504Workers}},
		{"nginx 502, origin answers fine: the path, not a crashing app", entryCases["nginx-502-gateway-path"],
			stepGatewayPath, []string{stepNginxPremature, stepNginxReset, stepNginxBadHeader}},
		{"nxdomain while other resolvers answer: the resolvers, not the registration", entryCases["dns-nxdomain-disagreement"],
			stepDNSDisagree, []string{entryByID(t, "dns-nxdomain").steps[0], entryByID(t, "dns-nxdomain").steps[2]}},
		{"any gateway, origin refuses: the origin first", diagnosed(res(result.ClassServiceUnavailable, 503, gateway.HAProxy, gateway.DetailNoServerAvailable), result.ClassConnectionRefused, result.FindingUpstreamDown),
			stepOriginRefuses, nil},
		{"any gateway, origin answers fine: the path first", diagnosed(res(result.ClassGatewayTimeout, 504, gateway.AWSALB, ""), result.ClassOK, result.FindingGatewayPath),
			stepGatewayPath, nil},
		{"connect timeout while resolvers disagree: the resolvers first", entryCases["dns-disagreement"],
			stepDNSDisagree, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFacts(tc.r)
			render := func(tmpl string) string {
				s, ok := f.render(tmpl)
				if !ok {
					t.Fatalf("step not renderable for its case: %q", tmpl)
				}
				return s
			}
			got := Suggest(tc.r.Result, tc.r.diag)
			if want := render(tc.first); len(got) == 0 || got[0] != want {
				t.Errorf("first step:\nwant %q\ngot  %q", want, got)
			}
			for _, d := range tc.dropped {
				if slices.Contains(got, render(d)) {
					t.Errorf("step the diagnosis rules out is listed: %q", d)
				}
			}
			checkBounded(t, got)
		})
	}
}

// TestStepsFitTheTarget: a step about DNS is left out when no name was
// looked up (an IP literal host, a pinned address), binding advice fits the
// address dialled, and TLS name advice fits a check of an IP address, which
// sends no SNI and can only match an IP SAN.
func TestStepsFitTheTarget(t *testing.T) {
	refused := func(url, remote string, pinned bool) *known {
		return &known{Result: &result.Result{URL: url, RemoteAddr: remote, Pinned: pinned, Class: result.ClassConnectionRefused}}
	}
	mismatch := func(url string) *known {
		r := res(result.ClassTLSError, 0, "", result.DetailHostnameMismatch)
		r.URL, r.TLS = url, leafCert
		return r
	}
	tests := []struct {
		name     string
		r        *known
		want     []string // substrings some step must contain
		wantNone []string // substrings no step may contain
	}{
		{"refused at a public address by name: DNS and public binding", refused("https://shop.example.test/", "203.0.113.7:443", false),
			[]string{"fix its DNS record", "binds the public address (0.0.0.0)"}, []string{"loopback"}},
		{"refused at 127.0.0.1: the service listens on loopback, no DNS, no 0.0.0.0", refused("http://127.0.0.1:8080/", "", false),
			[]string{"127.0.0.1 is the loopback of the host the check ran on", "loopback port 8080"}, []string{"DNS", "0.0.0.0", "not 127.0.0.1"}},
		{"refused at localhost: loopback, and its DNS is not the fault", refused("http://localhost:8080/", "[::1]:8080", false),
			[]string{"::1 is the loopback"}, []string{"DNS", "0.0.0.0"}},
		{"refused at a private IP: that interface, no DNS", refused("http://10.0.0.5:8080/", "10.0.0.5:8080", false),
			[]string{"listens on 10.0.0.5 (that interface) or 0.0.0.0", "10.0.0.5:8080 is a load balancer"}, []string{"DNS", "public address"}},
		{"refused at a public IP literal: no DNS", refused("https://203.0.113.7/", "", false),
			[]string{"binds the public address", "203.0.113.7:443 is a load balancer"}, []string{"DNS"}},
		{"refused at a pinned address: no DNS", refused("https://shop.example.test/", "203.0.113.7:443", true),
			[]string{"binds the public address"}, []string{"DNS"}},
		{"connect timeout to a name: the record may be stale", &known{Result: &result.Result{URL: "https://shop.example.test/", RemoteAddr: "203.0.113.7:443", Class: result.ClassConnectTimeout}},
			[]string{"its DNS record"}, nil},
		{"connect timeout to an IP: no DNS", &known{Result: &result.Result{URL: "https://203.0.113.7/", RemoteAddr: "203.0.113.7:443", Class: result.ClassConnectTimeout}},
			[]string{"mtr -T -P 443 203.0.113.7"}, []string{"DNS"}},
		{"name mismatch by name: vhost and SAN", mismatch("https://shop.example.test/"),
			[]string{"add shop.example.test to its SAN list", "check the vhost and SNI"}, []string{"IP SAN"}},
		{"name mismatch at an IP: no SNI, IP SAN", mismatch("https://203.0.113.7/"),
			[]string{"sends no SNI", "no IP: check by one of those names"}, []string{"add 203.0.113.7 to its SAN list", "check the vhost and SNI", "-servername"}},
		{"unknown authority at an IP: no -servername", with(res(result.ClassTLSError, 0, "", result.DetailUnknownAuthority), func(r *known) { r.URL = "https://203.0.113.7:8443/" }),
			[]string{"openssl s_client -connect 203.0.113.7:8443 -showcerts"}, []string{"-servername"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Suggest(tc.r.Result, tc.r.diag)
			for _, w := range tc.want {
				if !containsSub(got, w) {
					t.Errorf("no step says %q: %q", w, got)
				}
			}
			for _, w := range tc.wantNone {
				if containsSub(got, w) {
					t.Errorf("a step says %q, which does not fit: %q", w, got)
				}
			}
			checkBounded(t, got)
		})
	}
}
