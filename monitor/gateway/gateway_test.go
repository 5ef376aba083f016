package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readFixture parses a raw HTTP response saved as testdata/<dir>/<name>.
func readFixture(t *testing.T, path string) (int, http.Header, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("parsing fixture %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading fixture body %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header, body
}

type want struct {
	gateway string
	via     []string
	detail  string
	reason  string // substring expected in Reason, when set
	header  string // prefix of a header evidence line expected, when set
	marker  string // substring expected in some marker, when set
}

var fixtures = map[string]want{
	// Real captures (testdata/real/README.md).
	"real/nginx-1.22.1-502-refused.http":           {gateway: Nginx, header: "Server: nginx/1.22.1", marker: `<hr><center>nginx/1.22.1</center>`},
	"real/nginx-1.22.1-502-closed.http":            {gateway: Nginx},
	"real/nginx-1.22.1-504-timeout.http":           {gateway: Nginx},
	"real/nginx-1.22.1-503-limit-req.http":         {gateway: Nginx},
	"real/nginx-1.22.1-502-server-tokens-off.http": {gateway: Nginx, header: "Server: nginx"},
	"real/nginx-1.22.1-502-chrome-ua.http":         {gateway: Nginx},
	"real/haproxy-2.6.12-503-refused.http":         {gateway: HAProxy, detail: DetailNoServerAvailable},
	"real/haproxy-2.6.12-503-no-servers.http":      {gateway: HAProxy, detail: DetailNoServerAvailable},
	"real/haproxy-2.6.12-504-timeout.http":         {gateway: HAProxy, detail: DetailServerTimeout},
	"real/haproxy-2.6.12-502-garbage.http":         {gateway: HAProxy, detail: DetailInvalidResponse},
	"real/haproxy-2.6.12-502-closed.http":          {gateway: HAProxy, detail: DetailInvalidResponse},
	// HAProxy relays nginx's page and leaves no trace of itself.
	"real/haproxy-2.6.12-front-nginx-1.22.1-502.http": {gateway: Nginx},
	"real/apache-2.4.71-503-refused.http":             {gateway: Apache, header: "Server: Apache/2.4.71"},
	"real/apache-2.4.71-502-timeout.http":             {gateway: Apache, reason: "Error reading from remote server"},
	"real/apache-2.4.71-502-closed.http":              {gateway: Apache, reason: "Error reading from remote server"},
	"real/apache-2.4.71-504-builtin-page.http":        {gateway: Apache},
	// A non-HTTP upstream is relayed as HTTP/0.9 with 200: nothing to name.
	"real/apache-2.4.71-200-http09-passthrough.http": {},
	"real/varnish-7.1.1-503-refused.http":            {gateway: Varnish, detail: DetailBackendFetchFailed, header: "X-Varnish: "},
	"real/varnish-7.1.1-503-first-byte-timeout.http": {gateway: Varnish, detail: DetailBackendFetchFailed},
	"real/varnish-7.1.1-503-garbage.http":            {gateway: Varnish, detail: DetailBackendFetchFailed},
	"real/varnish-7.1.1-503-closed.http":             {gateway: Varnish, detail: DetailBackendFetchFailed},
	"real/varnish-7.1.1-front-nginx-1.22.1-502.http": {gateway: Nginx, via: []string{Varnish}},

	// Synthetic, from docs/gateways.md (testdata/synthetic/README.md).
	"synthetic/cloudflare-521-branded.http":             {gateway: Cloudflare, detail: DetailCloudflare521, header: "Cf-Ray: 230b030023ae2822-SJC"},
	"synthetic/cloudflare-520-branded.http":             {gateway: Cloudflare, detail: DetailCloudflare520},
	"synthetic/cloudflare-524-branded.http":             {gateway: Cloudflare, detail: DetailCloudflare524},
	"synthetic/cloudflare-522-head.http":                {gateway: Cloudflare, detail: DetailCloudflare522},
	"synthetic/cloudflare-530-1016.http":                {gateway: Cloudflare, detail: DetailCloudflare530, reason: "1016"},
	"synthetic/cloudflare-502-branded-origin.http":      {via: []string{Cloudflare}, marker: "origin returned 502"},
	"synthetic/cloudflare-503-unbranded.http":           {gateway: Cloudflare},
	"synthetic/cloudflare-front-nginx-502.http":         {gateway: Nginx, via: []string{Cloudflare}, header: "Server: cloudflare"},
	"synthetic/cloudflare-front-alb-502.http":           {gateway: AWSALB, via: []string{Cloudflare}},
	"synthetic/aws-alb-502.http":                        {gateway: AWSALB, header: "Server: awselb/2.0", marker: "without the <hr><center> footer"},
	"synthetic/aws-alb-503.http":                        {gateway: AWSALB},
	"synthetic/aws-alb-504.http":                        {gateway: AWSALB},
	"synthetic/cloudfront-502-generated.http":           {gateway: CloudFront, header: "X-Amz-Cf-Id: "},
	"synthetic/cloudfront-front-alb-502.http":           {gateway: AWSALB, via: []string{CloudFront}},
	"synthetic/fastly-503-first-byte-timeout.http":      {gateway: Fastly, detail: DetailFirstByteTimeout, header: "X-Served-By: cache-iad2150-IAD"},
	"synthetic/fastly-503-backend-read-error.http":      {gateway: Fastly, detail: DetailBackendReadError},
	"synthetic/fastly-503-max-conn.http":                {gateway: Fastly, detail: DetailMaxConnReached},
	"synthetic/fastly-front-nginx-502.http":             {gateway: Nginx, via: []string{Fastly}},
	"synthetic/gcp-lb-502.http":                         {gateway: GCPLB, header: "Via: 1.1 google"},
	"synthetic/gcp-lb-front-nginx-504.http":             {gateway: Nginx, via: []string{GCPLB}},
	"synthetic/azure-appgw-502.http":                    {gateway: AzureAppGW},
	"synthetic/azure-frontdoor-503.http":                {gateway: AzureFrontDoor, header: "X-Azure-Ref: "},
	"synthetic/akamai-504.http":                         {gateway: Akamai, reason: "Reference #1.8f2b1002.1700000000.4a1b2c3"},
	"synthetic/heroku-503.http":                         {gateway: Heroku, reason: "application-error", header: "Via: 1.1 vegur"},
	"synthetic/vercel-504-function-timeout.http":        {gateway: Vercel, detail: DetailFunctionInvocationTimeout},
	"synthetic/fly-502-head.http":                       {gateway: Fly, marker: "headers only"},
	"synthetic/envoy-503-connect-error.http":            {gateway: Envoy, detail: DetailUpstreamConnectError, reason: "connection failure", marker: `envoy reset reason "connection failure"`},
	"synthetic/envoy-503-retried-remote-reset.http":     {gateway: Envoy, detail: DetailUpstreamConnectError, reason: "remote connection failure", marker: "transport failure reason"},
	"synthetic/envoy-502-protocol-error.http":           {gateway: Envoy, detail: DetailUpstreamConnectError, reason: "protocol error"},
	"synthetic/envoy-503-no-healthy-upstream.http":      {gateway: Envoy, detail: DetailNoHealthyUpstream, marker: "without x-envoy-upstream-service-time"},
	"synthetic/envoy-504-upstream-request-timeout.http": {gateway: Envoy, detail: DetailUpstreamRequestTimeout},
	"synthetic/envoy-503-maintenance-mode.http":         {gateway: Envoy, detail: DetailMaintenanceMode, header: "X-Envoy-Overloaded: true"},
	"synthetic/envoy-passthrough-502.http":              {via: []string{Envoy}, header: "X-Envoy-Upstream-Service-Time: 12"},
	"synthetic/traefik-502.http":                        {gateway: Traefik},
	"synthetic/traefik-504.http":                        {gateway: Traefik},
	"synthetic/traefik-503-no-available-server.http":    {gateway: Traefik, detail: DetailNoAvailableServer},
	"synthetic/caddy-502.http":                          {gateway: Caddy, header: "Server: Caddy"},
	"synthetic/caddy-503-no-upstreams.http":             {gateway: Caddy, detail: DetailNoUpstreams},
	"synthetic/nginx-1.14-502-bgcolor.http":             {gateway: Nginx},
}

func TestIdentifyFixtures(t *testing.T) {
	for name, w := range fixtures {
		t.Run(name, func(t *testing.T) {
			status, h, body := readFixture(t, filepath.Join("testdata", name))
			id := Identify(status, h, body)
			check(t, id, w)
		})
	}
}

// Every fixture on disk must be in the table, so a capture cannot be
// added without saying what it should give.
func TestEveryFixtureIsTested(t *testing.T) {
	for _, dir := range []string{"real", "synthetic"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.http"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no fixtures in testdata/%s", dir)
		}
		for _, f := range files {
			key := dir + "/" + filepath.Base(f)
			if _, ok := fixtures[key]; !ok {
				t.Errorf("fixture %s has no expectation in the table", key)
			}
		}
	}
	for key := range fixtures {
		if _, err := os.Stat(filepath.Join("testdata", key)); err != nil {
			t.Errorf("table names a missing fixture: %v", err)
		}
	}
}

func check(t *testing.T, id Identification, w want) {
	t.Helper()
	if id.Gateway != w.gateway {
		t.Errorf("Gateway = %q, want %q (markers %q)", id.Gateway, w.gateway, id.Markers)
	}
	if !slices.Equal(id.Via, w.via) {
		t.Errorf("Via = %q, want %q", id.Via, w.via)
	}
	if id.Detail != w.detail {
		t.Errorf("Detail = %q, want %q", id.Detail, w.detail)
	}
	if w.reason != "" && !strings.Contains(id.Reason, w.reason) {
		t.Errorf("Reason = %q, want it to contain %q", id.Reason, w.reason)
	}
	if w.header != "" && !slices.ContainsFunc(id.Headers, func(l string) bool { return strings.HasPrefix(l, w.header) }) {
		t.Errorf("Headers = %q, want a line starting %q", id.Headers, w.header)
	}
	if w.marker != "" && !slices.ContainsFunc(id.Markers, func(m string) bool { return strings.Contains(m, w.marker) }) {
		t.Errorf("Markers = %q, want one containing %q", id.Markers, w.marker)
	}
	if id.Gateway != "" && len(id.Markers) == 0 {
		t.Errorf("Gateway %q with no marker saying why", id.Gateway)
	}
}

// Application errors with no gateway markers must not be pinned on a gateway,
// even when a web server's Server header is present: that server may be the
// application's own.
func TestApplicationErrorsHaveNoGateway(t *testing.T) {
	cases := []struct {
		name   string
		status int
		h      http.Header
		body   string
	}{
		{"go http.Error 500", 500, http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}}, "Internal Server Error\n"},
		{"go http.Error 502", 502, http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}}, "Bad Gateway\n"},
		{"json 500", 500, http.Header{"Content-Type": {"application/json"}}, `{"error":"database is down","code":500}`},
		{"json 503 behind nginx", 503, http.Header{"Server": {"nginx/1.22.1"}, "Content-Type": {"application/json"}}, `{"status":"maintenance"}`},
		{"html 500 behind apache", 500, http.Header{"Server": {"Apache/2.4.71 (Debian)"}}, "<html><body><h1>Oops</h1></body></html>"},
		{"app page quoting Code:", 500, nil, "<p>Error Code: INTERNAL_ERROR</p>"},
		{"no headers no body", 500, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := Identify(c.status, c.h, []byte(c.body))
			check(t, id, want{})
		})
	}
}

// An nginx error page served with 200 (a custom page, a blog post quoting
// one) says nothing about a gateway failure.
func TestNginxPageOn200IsNotAnError(t *testing.T) {
	status, h, body := readFixture(t, filepath.Join("testdata", "real", "nginx-1.22.1-502-refused.http"))
	if status != 502 {
		t.Fatalf("fixture status %d", status)
	}
	id := Identify(200, h, body)
	check(t, id, want{})
	// And a page for another error status does not count either.
	id = Identify(503, h, body)
	check(t, id, want{marker: "another status"})
}

// Via lists every outer hop, outermost first, and a web server named by
// Server is an outer hop once the body names another generator.
func TestViaOrder(t *testing.T) {
	nginxPage := []byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
	haproxyPage := []byte("<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n")
	herokuPage := []byte(`<iframe src="//www.herokucdn.com/error-pages/application-error.html"></iframe>`)
	cases := []struct {
		name   string
		status int
		h      http.Header
		body   []byte
		want   want
	}{
		{"cloudflare, google LB, nginx", 502, http.Header{"Cf-Ray": {"8a1b2c3d4e5f6a7b-AMS"}, "Server": {"cloudflare"}, "Via": {"1.1 google"}}, nginxPage,
			want{gateway: Nginx, via: []string{Cloudflare, GCPLB}}},
		{"nginx in front of haproxy", 503, http.Header{"Server": {"nginx/1.22.1"}}, haproxyPage,
			want{gateway: HAProxy, via: []string{Nginx}, detail: DetailNoServerAvailable}},
		{"fastly in front of heroku", 503, http.Header{"Via": {"1.1 vegur, 1.1 varnish, 1.1 varnish"}, "X-Served-By": {"cache-lhr7321-LHR"}}, herokuPage,
			want{gateway: Heroku, via: []string{Fastly}}},
		{"envoy relaying an envoy local reply", 503, http.Header{"Server": {"istio-envoy"}, "X-Envoy-Upstream-Service-Time": {"4"}}, []byte("no healthy upstream"),
			want{gateway: Envoy, via: []string{Envoy}, detail: DetailNoHealthyUpstream}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, Identify(c.status, c.h, c.body), c.want)
		})
	}
}

// A HEAD request to nginx gets no body: the Server header alone names it.
func TestEmptyBodyFallsBackToHeaders(t *testing.T) {
	id := Identify(502, http.Header{"Server": {"nginx/1.22.1"}}, nil)
	check(t, id, want{gateway: Nginx, marker: "headers only"})
	id = Identify(502, http.Header{"Server": {"nginx"}, "Cf-Ray": {"8a1b2c3d4e5f6a7b-AMS"}}, nil)
	check(t, id, want{gateway: Nginx, via: []string{Cloudflare}})
	// Envoy says it relayed an upstream answer: the empty body is the app's.
	id = Identify(503, http.Header{"Server": {"envoy"}, "X-Envoy-Upstream-Service-Time": {"7"}}, nil)
	check(t, id, want{via: []string{Envoy}})
}

// A gateway page inside a large application page is still found as long as
// it is within the scanned prefix, and the scan is bounded.
func TestLargeBodyIsBounded(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 1<<20)
	id := Identify(502, http.Header{"Server": {"nginx"}}, big)
	check(t, id, want{})
	page := append([]byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"), big...)
	check(t, Identify(502, nil, page), want{gateway: Nginx})
}

func TestEvidenceLinesAreBounded(t *testing.T) {
	long := strings.Repeat("é", 500)
	id := Identify(521, http.Header{"Cf-Ray": {long}, "Server": {"cloudflare"}}, nil)
	for _, l := range id.Headers {
		if len(l) > maxEvidence+len("…") {
			t.Errorf("header evidence %d bytes long", len(l))
		}
		if !strings.HasSuffix(l, "…") && strings.HasPrefix(l, "Cf-Ray") {
			t.Errorf("long line not clipped: %q", l[:20])
		}
	}
	if id.Detail != DetailCloudflare521 {
		t.Errorf("Detail = %q", id.Detail)
	}
}

func FuzzIdentify(f *testing.F) {
	for key := range fixtures {
		raw, err := os.ReadFile(filepath.Join("testdata", key))
		if err != nil {
			f.Fatal(err)
		}
		head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
		f.Add(502, string(head), body)
	}
	f.Add(503, "Server: envoy", []byte("upstream connect error or disconnect/reset before headers. reset reason: "))
	f.Add(502, "Via: google", []byte("<center><h1>50"))
	f.Fuzz(func(t *testing.T, status int, head string, body []byte) {
		h := http.Header{}
		for _, line := range strings.Split(head, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok {
				h.Add(k, v)
			}
		}
		for _, st := range []int{status, 502, 503, 504, 521} {
			id := Identify(st, h, body)
			if id.Gateway == "" && id.Detail != "" && !strings.HasPrefix(id.Detail, "cloudflare-") {
				t.Errorf("Detail %q without a Gateway", id.Detail)
			}
			for _, v := range id.Via {
				if v == "" {
					t.Error("empty Via entry")
				}
			}
		}
	})
}

func BenchmarkIdentify(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "synthetic", "cloudflare-521-branded.http"))
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	appBody := bytes.Repeat([]byte("<p>application page</p>\n"), 40000)
	appHeader := http.Header{"Server": {"nginx"}, "Content-Type": {"text/html"}}
	b.Run("cloudflare-521", func(b *testing.B) {
		for b.Loop() {
			Identify(resp.StatusCode, resp.Header, body)
		}
	})
	b.Run("1MiB-app-page", func(b *testing.B) {
		for b.Loop() {
			Identify(500, appHeader, appBody)
		}
	})
}
