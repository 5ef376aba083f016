package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/round"
)

// probeTimeout is far above the proxies' 1s upstream timeouts, so every
// verdict below is the proxy's, never the probe giving up.
const probeTimeout = 5 * time.Second

// Markers the real servers put in their own error pages (nginx 1.22.1 and
// HAProxy 2.6.12, Debian 12). The raw check in each case confirms them before
// the probe's verdict is judged, so a proxy upgrade that changes a page fails
// with the page in the message instead of a puzzling gateway mismatch.
const (
	nginxFooter     = "<hr><center>nginx" // then "/1.22.1</center>" with server_tokens on
	haproxy502Text  = "The server returned an invalid or incomplete response."
	haproxy503Text  = "No server is available to handle this request."
	haproxy504Text  = "The server didn't respond in time."
	appErrorBody    = "upstream app says: database is down\n"
	nginxServerLine = "server: nginx"
)

type e2eCase struct {
	name  string
	proxy *proxy
	path  string

	// What the proxy really answers, checked with a plain net/http GET.
	// rawStatus 0 means no parseable HTTP response at all.
	rawStatus int
	rawBody   string // a substring of the real body
	rawHeader string // a header line, lowercase name, prefix of the value
	// The proxy's own account: a substring of its log line for the
	// request (nginx error.log, HAProxy's termination state), which pins
	// the mechanism the comment names and the line the fixes point to.
	logHas string
	// A phrase one of the suggested fixes must contain: the log line or
	// directive the proxy itself names, so the operator can grep for it.
	fixHas string

	// The probe's verdict.
	class   result.Class
	status  int
	gateway string
}

func TestProbeBehindRealProxies(t *testing.T) {
	t.Parallel()
	optOut(t)
	u := startUpstreams(t)
	ngx := startNginx(t, u)
	hap := startHAProxy(t, u)

	cases := []e2eCase{
		// nginx 1.22 (ngx_http_upstream.c): connect refused, reset and
		// premature close are NGX_HTTP_UPSTREAM_FT_ERROR → 502; an invalid
		// header is FT_INVALID_HEADER → 502; proxy_read_timeout → 504. Its
		// own pages carry "Server: nginx/1.22.1" and the <hr><center> footer.
		{name: "nginx/healthy", proxy: ngx, path: "/healthy/",
			logHas:    "\" 200 ",
			rawStatus: 200, rawBody: healthyBody,
			class: result.ClassOK, status: 200},
		{name: "nginx/dead", proxy: ngx, path: "/dead/",
			logHas: "connect() failed (111: Connection refused) while connecting to upstream", fixHas: "connect() failed (111: Connection refused)",
			rawStatus: 502, rawBody: nginxFooter, rawHeader: nginxServerLine,
			class: result.ClassBadGateway, status: 502, gateway: "nginx"},
		{name: "nginx/slow", proxy: ngx, path: "/slow/",
			logHas: "upstream timed out (110: Connection timed out) while reading response header from upstream", fixHas: "upstream timed out",
			rawStatus: 504, rawBody: nginxFooter, rawHeader: nginxServerLine,
			class: result.ClassGatewayTimeout, status: 504, gateway: "nginx"},
		{name: "nginx/crash-reset", proxy: ngx, path: "/reset/",
			logHas: "recv() failed (104: Connection reset by peer) while reading response header from upstream", fixHas: "recv() failed (104: Connection reset by peer)",
			rawStatus: 502, rawBody: nginxFooter, rawHeader: nginxServerLine,
			class: result.ClassBadGateway, status: 502, gateway: "nginx"},
		{name: "nginx/crash-hangup", proxy: ngx, path: "/hangup/",
			logHas: "upstream prematurely closed connection while reading response header from upstream", fixHas: "upstream prematurely closed connection",
			rawStatus: 502, rawBody: nginxFooter, rawHeader: nginxServerLine,
			class: result.ClassBadGateway, status: 502, gateway: "nginx"},
		{name: "nginx/crash-half-headers", proxy: ngx, path: "/half/",
			logHas: "recv() failed (104: Connection reset by peer) while reading response header from upstream", fixHas: "recv() failed (104: Connection reset by peer)",
			rawStatus: 502, rawBody: nginxFooter, rawHeader: nginxServerLine,
			class: result.ClassBadGateway, status: 502, gateway: "nginx"},
		{name: "nginx/broken-header", proxy: ngx, path: "/bad-header/",
			logHas: "upstream sent invalid header", fixHas: "upstream sent invalid header",
			rawStatus: 502, rawBody: nginxFooter, rawHeader: nginxServerLine,
			class: result.ClassBadGateway, status: 502, gateway: "nginx"},
		// A reply that does not start with "HTTP/" is NOT a 502 in nginx:
		// ngx_http_proxy_process_status_line logs "upstream sent no valid
		// HTTP/1.0 header" and passes the bytes on as an HTTP/0.9 response,
		// with no status line (the access log shows status 009). So the
		// client sees the upstream's garbage, and nothing names nginx.
		{name: "nginx/broken-garbage", proxy: ngx, path: "/garbage/",
			logHas:    "upstream sent no valid HTTP/1.0 header",
			rawStatus: 0,
			class:     result.ClassProtocolError, status: 0, gateway: ""},
		// An error the application itself returns passes through nginx
		// unchanged (no proxy_intercept_errors), except that nginx puts its
		// own Server header on it. The body is the app's, so nginx did not
		// generate this 502 and must not be named as the gateway.
		{name: "nginx/app-502-passed-through", proxy: ngx, path: "/app-error/",
			logHas:    "\" 502 ",
			rawStatus: 502, rawBody: appErrorBody, rawHeader: nginxServerLine,
			class: result.ClassBadGateway, status: 502, gateway: ""},

		// HAProxy 2.6: its built-in pages (http_err_msgs in src/http.c) have
		// no Server header, only Cache-Control: no-cache, so the body text
		// is the fingerprint.
		{name: "haproxy/healthy", proxy: hap, path: "/healthy/",
			logHas:    " 200 ",
			rawStatus: 200, rawBody: healthyBody,
			class: result.ClassOK, status: 200},
		// A refused connect is termination state SC: HAProxy retries
		// (retries 1) and then answers 503 "No server is available", not
		// 502; the log line reads "be/s 0/0/-1/-1/502 503 ... SC--".
		{name: "haproxy/dead", proxy: hap, path: "/dead/",
			logHas:    " SC-- ",
			rawStatus: 503, rawBody: haproxy503Text,
			class: result.ClassServiceUnavailable, status: 503, gateway: "haproxy"},
		// A backend with no usable server: <NOSRV>, 503.
		{name: "haproxy/no-server", proxy: hap, path: noServerPath,
			logHas:    "be_no_server/<NOSRV> ",
			rawStatus: 503, rawBody: haproxy503Text,
			class: result.ClassServiceUnavailable, status: 503, gateway: "haproxy"},
		// timeout server expired before the headers: sH, 504.
		{name: "haproxy/slow", proxy: hap, path: "/slow/",
			logHas: " sH-- ", fixHas: "timeout server",
			rawStatus: 504, rawBody: haproxy504Text,
			class: result.ClassGatewayTimeout, status: 504, gateway: "haproxy"},
		// The server aborted before full headers: SH, 502.
		{name: "haproxy/crash-reset", proxy: hap, path: "/reset/",
			logHas:    " SH-- ",
			rawStatus: 502, rawBody: haproxy502Text,
			class: result.ClassBadGateway, status: 502, gateway: "haproxy"},
		{name: "haproxy/crash-hangup", proxy: hap, path: "/hangup/",
			logHas:    " SH-- ",
			rawStatus: 502, rawBody: haproxy502Text,
			class: result.ClassBadGateway, status: 502, gateway: "haproxy"},
		{name: "haproxy/crash-half-headers", proxy: hap, path: "/half/",
			logHas:    " SH-- ",
			rawStatus: 502, rawBody: haproxy502Text,
			class: result.ClassBadGateway, status: 502, gateway: "haproxy"},
		// HAProxy's parser rejects both broken replies: PH, 502. Unlike
		// nginx it never passes non-HTTP bytes on.
		{name: "haproxy/broken-garbage", proxy: hap, path: "/garbage/",
			logHas:    " PH-- ",
			rawStatus: 502, rawBody: haproxy502Text,
			class: result.ClassBadGateway, status: 502, gateway: "haproxy"},
		{name: "haproxy/broken-header", proxy: hap, path: "/bad-header/",
			logHas:    " PH-- ",
			rawStatus: 502, rawBody: haproxy502Text,
			class: result.ClassBadGateway, status: 502, gateway: "haproxy"},
		// The app's own 502 passes through HAProxy untouched.
		{name: "haproxy/app-502-passed-through", proxy: hap, path: "/app-error/",
			logHas:    " 502 ",
			rawStatus: 502, rawBody: appErrorBody,
			class: result.ClassBadGateway, status: 502, gateway: ""},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := tc.proxy.base + tc.path
			ctx, cancel := context.WithTimeout(context.Background(), 2*probeTimeout)
			defer cancel()
			// The round (a probe from this host, then its fixes) and the
			// plain GET run side by side: the slow cases then cost one
			// proxy timeout, not two.
			single, err := round.Single(nil, round.Options{})
			if err != nil {
				t.Fatal(err)
			}
			probed := make(chan result.Result, 1)
			go func() {
				probed <- single.Run(ctx, round.SpecTarget(probe.Spec{URL: url, Timeout: probeTimeout})).Result
			}()
			raw := fetchRaw(t, url)
			r := <-probed
			checkRaw(t, tc, raw)
			checkVerdict(t, tc, raw, r)
			checkLog(t, tc)
			if t.Failed() {
				t.Logf("real response: %s", raw)
				t.Logf("%s logs about %s:\n%s", tc.proxy.name, tc.path, tc.proxy.LogsAbout(tc.path))
			}
		})
	}
}

// checkLog waits for the proxy to log the request (HAProxy logs when the
// stream ends, which can be just after the client has its answer).
func checkLog(t *testing.T, tc e2eCase) {
	t.Helper()
	var logs string
	if !testkit.Eventually(3*time.Second, func() bool {
		logs = tc.proxy.LogsAbout(tc.path)
		return strings.Contains(logs, tc.logHas)
	}) {
		t.Errorf("%s did not log %q for %s; its lines about it:\n%s", tc.proxy.name, tc.logHas, tc.path, logs)
	}
}

// rawResponse is what a plain net/http client saw, independent of the probe.
type rawResponse struct {
	status int
	header http.Header
	body   string
	err    error
}

func (r rawResponse) String() string {
	if r.err != nil {
		return fmt.Sprintf("no HTTP response: %v", r.err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", r.status)
	_ = r.header.Write(&b)
	fmt.Fprintf(&b, "\n%q", r.body)
	return b.String()
}

func fetchRaw(t *testing.T, url string) rawResponse {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: probeTimeout}
	resp, err := c.Get(url)
	if err != nil {
		return rawResponse{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: string(body), err: err}
}

// checkRaw confirms the proxy really behaves as the case says, so that a
// verdict mismatch below is the probe's, not the harness's.
func checkRaw(t *testing.T, tc e2eCase, raw rawResponse) {
	t.Helper()
	if tc.rawStatus == 0 {
		if raw.err == nil {
			t.Fatalf("%s: expected no valid HTTP response, got %s", tc.proxy.name, raw)
		}
		return
	}
	if raw.err != nil || raw.status != tc.rawStatus {
		t.Fatalf("%s really answered %s; the case expects %d\n%s logs:\n%s",
			tc.proxy.name, raw, tc.rawStatus, tc.proxy.name, tc.proxy.Logs())
	}
	if !strings.Contains(raw.body, tc.rawBody) {
		t.Fatalf("%s's real body lacks %q:\n%s", tc.proxy.name, tc.rawBody, raw)
	}
	if tc.rawHeader != "" && findHeaderLine(headerLines(raw.header), tc.rawHeader) == "" {
		t.Fatalf("%s's real headers lack %q:\n%s", tc.proxy.name, tc.rawHeader, raw)
	}
}

func checkVerdict(t *testing.T, tc e2eCase, raw rawResponse, r result.Result) {
	t.Helper()
	if r.Class != tc.class || r.Status != tc.status || r.Gateway != tc.gateway {
		t.Errorf("verdict: class %q status %d gateway %q; want class %q status %d gateway %q\n"+
			"detail %q, via %q, error %q\nevidence headers %q\nevidence markers %q\nevidence body %q",
			r.Class, r.Status, r.Gateway, tc.class, tc.status, tc.gateway,
			r.Detail, r.Via, r.Error, r.Evidence.Headers, r.Evidence.Markers, r.Evidence.Body)
	}
	if r.OK != (tc.class == result.ClassOK) {
		t.Errorf("OK = %v for class %q", r.OK, r.Class)
	}
	if r.URL != tc.proxy.base+tc.path {
		t.Errorf("URL = %q, want %q", r.URL, tc.proxy.base+tc.path)
	}
	if want := strings.TrimPrefix(tc.proxy.base, "http://"); r.RemoteAddr != want {
		t.Errorf("RemoteAddr = %q, want %q", r.RemoteAddr, want)
	}
	if r.Phases.TotalMs <= 0 {
		t.Errorf("Phases.TotalMs = %v, want > 0 (phases %+v)", r.Phases.TotalMs, r.Phases)
	}
	if tc.class == result.ClassOK {
		if r.Error != "" {
			t.Errorf("Error = %q on a passing check", r.Error)
		}
		return
	}
	if r.Error == "" {
		t.Errorf("failed check with an empty Error")
	}
	if len(r.Fixes) == 0 {
		t.Errorf("failed check with no Fixes")
	}
	if tc.fixHas != "" && !anyContains(r.Fixes, tc.fixHas) {
		t.Errorf("no fix names %q, which is what %s logged for this failure; fixes:\n%s",
			tc.fixHas, tc.proxy.name, strings.Join(r.Fixes, "\n"))
	}
	if tc.rawStatus == 0 {
		return // no response: no headers or body to show
	}
	// The evidence is what a person checks the verdict against: the body
	// excerpt must hold the text that marks the page, and a gateway verdict
	// must say which fact it rests on.
	if !strings.Contains(r.Evidence.Body, tc.rawBody) {
		t.Errorf("Evidence.Body lacks %q from the real body:\nevidence %q\nreal %q", tc.rawBody, r.Evidence.Body, raw.body)
	}
	if tc.gateway == "" {
		return
	}
	if len(r.Evidence.Markers) == 0 {
		t.Errorf("gateway %q with no Evidence.Markers", r.Gateway)
	}
	if tc.rawHeader != "" {
		line := findHeaderLine(r.Evidence.Headers, tc.rawHeader)
		if line == "" {
			t.Errorf("Evidence.Headers %q lack the %q line; real headers:\n%s", r.Evidence.Headers, tc.rawHeader, raw)
		} else if real := findHeaderLine(headerLines(raw.header), tc.rawHeader); !strings.EqualFold(line, real) {
			t.Errorf("Evidence header %q differs from the real %q", line, real)
		}
	}
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// headerLines writes h as "Name: value" lines, the form of Evidence.Headers.
func headerLines(h http.Header) []string {
	var out []string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, k+": "+v)
		}
	}
	return out
}

// findHeaderLine returns the first line that starts with prefix, ignoring case.
func findHeaderLine(lines []string, prefix string) string {
	for _, l := range lines {
		if len(l) >= len(prefix) && strings.EqualFold(l[:len(prefix)], prefix) {
			return l
		}
	}
	return ""
}
