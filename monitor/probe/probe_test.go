package probe

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/vantage-monitor/vantage/monitor/gateway"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func statusServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/")
		switch {
		case p == "ok":
			io.WriteString(w, "hello world, all systems nominal")
		case p == "gzip":
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				http.Error(w, "no gzip asked", 400)
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			io.WriteString(gz, "compressed greeting")
			gz.Close()
		case strings.HasPrefix(p, "cf/"):
			code, _ := strconv.Atoi(strings.TrimPrefix(p, "cf/"))
			w.Header().Set("Server", "cloudflare")
			w.Header().Set("CF-RAY", "8a1b2c3d4e5f-AMS")
			w.WriteHeader(code)
			io.WriteString(w, "<html>error code: "+strconv.Itoa(code)+"</html>")
		case p == "retry":
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(503)
			io.WriteString(w, "down for maintenance")
		case p == "moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			code, err := strconv.Atoi(p)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
			io.WriteString(w, "<html><body>status "+p+" \xe2\x82\xac</body></html>")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestStatusClasses(t *testing.T) {
	srv := statusServer(t)
	ok200, _ := ParseStatusSet("200")
	tests := []struct {
		name   string
		spec   Spec
		class  result.Class
		detail string
		status int
	}{
		{"ok", Spec{URL: "/ok"}, result.ClassOK, "", 200},
		{"bad gateway", Spec{URL: "/502"}, result.ClassBadGateway, "", 502},
		{"service unavailable", Spec{URL: "/503"}, result.ClassServiceUnavailable, "", 503},
		{"gateway timeout", Spec{URL: "/504"}, result.ClassGatewayTimeout, "", 504},
		{"server error", Spec{URL: "/500"}, result.ClassServerError, "", 500},
		{"522 without cloudflare", Spec{URL: "/522"}, result.ClassServerError, "", 522},
		{"cloudflare 520", Spec{URL: "/cf/520"}, result.ClassBadGateway, "", 520},
		{"cloudflare 521", Spec{URL: "/cf/521"}, result.ClassBadGateway, "", 521},
		{"cloudflare 522", Spec{URL: "/cf/522"}, result.ClassGatewayTimeout, "", 522},
		{"cloudflare 523", Spec{URL: "/cf/523"}, result.ClassBadGateway, "", 523},
		{"cloudflare 524", Spec{URL: "/cf/524"}, result.ClassGatewayTimeout, "", 524},
		{"cloudflare 525", Spec{URL: "/cf/525"}, result.ClassBadGateway, "", 525},
		{"cloudflare 526", Spec{URL: "/cf/526"}, result.ClassBadGateway, "", 526},
		{"cloudflare 530", Spec{URL: "/cf/530"}, result.ClassBadGateway, "", 530},
		{"cloudflare 527", Spec{URL: "/cf/527"}, result.ClassServerError, "", 527},
		{"client error", Spec{URL: "/404"}, result.ClassClientError, "", 404},
		{"expected 404", Spec{URL: "/404", ExpectStatus: StatusSet{{404, 404}}}, result.ClassOK, "", 404},
		{"3xx not followed and not expected", Spec{URL: "/moved", NoFollow: true, ExpectStatus: ok200}, result.ClassUnexpectedStatus, "", 302},
		{"3xx not followed, in default set", Spec{URL: "/moved", NoFollow: true}, result.ClassOK, "", 302},
		{"200 outside expect set", Spec{URL: "/ok", ExpectStatus: StatusSet{{204, 204}}}, result.ClassUnexpectedStatus, "", 200},
		{"text found", Spec{URL: "/ok", ExpectBody: "nominal"}, result.ClassOK, "", 200},
		{"text missing", Spec{URL: "/ok", ExpectBody: "degraded"}, result.ClassContentMismatch, result.DetailBodyMissingText, 200},
		{"regex matches", Spec{URL: "/ok", ExpectRegex: `^hello \w+`}, result.ClassOK, "", 200},
		{"regex fails", Spec{URL: "/ok", ExpectRegex: `^world`}, result.ClassContentMismatch, result.DetailBodyRegexFailed, 200},
		{"gzip decoded for checks", Spec{URL: "/gzip", ExpectBody: "greeting"}, result.ClassOK, "", 200},
		{"body checks skipped on bad status", Spec{URL: "/502", ExpectBody: "nope"}, result.ClassBadGateway, "", 502},
	}
	// No fingerprints: the class must follow from status and headers alone.
	p := Prober{identify: func(int, http.Header, []byte) gateway.Identification { return gateway.Identification{} }}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.URL = srv.URL + tc.spec.URL
			tc.spec.Timeout = time.Second
			r := p.Run(context.Background(), tc.spec)
			check(t, r, tc.class, tc.detail)
			if r.Status != tc.status {
				t.Errorf("status %d, want %d", r.Status, tc.status)
			}
			if r.RemoteAddr != srv.Listener.Addr().String() {
				t.Errorf("remote_addr %q, want %q", r.RemoteAddr, srv.Listener.Addr())
			}
			if r.Method != "GET" || r.FinalURL != tc.spec.URL {
				t.Errorf("method %q final_url %q", r.Method, r.FinalURL)
			}
			if r.Phases.TotalMs <= 0 || r.Phases.ConnectMs <= 0 || r.Phases.TTFBMs <= 0 || r.Phases.DNSMs != 0 || r.Phases.TLSMs != 0 {
				t.Errorf("phases %+v", r.Phases)
			}
			if r.Phases.ConnectMs+r.Phases.TTFBMs > r.Phases.TotalMs {
				t.Errorf("phases exceed total: %+v", r.Phases)
			}
			if !r.OK && r.Class != result.ClassUnexpectedStatus && r.Evidence.Body == "" {
				t.Errorf("no body excerpt for a failure")
			}
			if r.OK && r.Evidence.Body != "" {
				t.Errorf("body excerpt kept for an ok result")
			}
		})
	}
}

func TestResultDetails(t *testing.T) {
	srv := statusServer(t)
	var p Prober
	r := p.Run(context.Background(), Spec{URL: srv.URL + "/retry", Timeout: time.Second})
	check(t, r, result.ClassServiceUnavailable, "")
	if r.RetryAfter != "120" || r.Evidence.Body != "down for maintenance" || r.BodyBytes != 20 {
		t.Errorf("retry_after %q excerpt %q bytes %d", r.RetryAfter, r.Evidence.Body, r.BodyBytes)
	}
	if !strings.Contains(r.Error, "503 Service Unavailable") || !strings.Contains(r.Error, "200-399") {
		t.Errorf("error sentence %q", r.Error)
	}

	r = p.Run(context.Background(), Spec{URL: srv.URL + "/cf/521", Timeout: time.Second})
	if len(r.Evidence.Markers) == 0 || !strings.Contains(r.Evidence.Body, "error code: 521") {
		t.Errorf("cloudflare evidence missing: %+v", r.Evidence)
	}

	r = p.Run(context.Background(), Spec{URL: srv.URL + "/ok", Method: "head", Timeout: time.Second})
	check(t, r, result.ClassOK, "")
	if r.Method != "HEAD" || r.BodyBytes != 0 {
		t.Errorf("HEAD: method %q body %d", r.Method, r.BodyBytes)
	}
}

func TestGatewayVerdict(t *testing.T) {
	srv := statusServer(t)
	type call struct {
		status int
		body   string
	}
	var calls []call
	verdict := gateway.Identification{Gateway: "nginx", Via: []string{"cloudflare"}, Detail: "upstream-refused",
		Headers: []string{"Server: nginx"}, Markers: []string{"body contains nginx"}}
	p := Prober{identify: func(status int, h http.Header, body []byte) gateway.Identification {
		calls = append(calls, call{status, string(body)})
		return verdict
	}}
	r := p.Run(context.Background(), Spec{URL: srv.URL + "/502", Timeout: time.Second})
	check(t, r, result.ClassBadGateway, "upstream-refused")
	if r.Gateway != "nginx" || len(r.Via) != 1 || r.Via[0] != "cloudflare" || r.Evidence.Headers[0] != "Server: nginx" || r.Evidence.Markers[0] != "body contains nginx" {
		t.Errorf("verdict not copied: %+v", r)
	}
	if len(calls) != 1 || calls[0].status != 502 || !strings.Contains(calls[0].body, "status 502") {
		t.Errorf("Identify calls %+v", calls)
	}
	if r.Headline() != "502 from nginx (behind cloudflare), upstream refused" {
		t.Errorf("headline %q", r.Headline())
	}

	r = p.Run(context.Background(), Spec{URL: srv.URL + "/ok", ExpectBody: "maintenance", Timeout: time.Second})
	check(t, r, result.ClassContentMismatch, result.DetailBodyMissingText)
	if r.Gateway != "nginx" || r.Evidence.Body == "" {
		t.Errorf("content mismatch without gateway verdict or excerpt: %+v", r)
	}

	calls = nil
	r = p.Run(context.Background(), Spec{URL: srv.URL + "/ok", Timeout: time.Second})
	check(t, r, result.ClassOK, "")
	if len(calls) != 0 || r.Gateway != "" {
		t.Errorf("Identify called for an ok response")
	}

	// A 522 that the gateway package names Cloudflare is Cloudflare's 522
	// even without the headers this package recognises itself.
	p.identify = func(int, http.Header, []byte) gateway.Identification {
		return gateway.Identification{Gateway: gateway.Cloudflare}
	}
	r = p.Run(context.Background(), Spec{URL: srv.URL + "/522", Timeout: time.Second})
	check(t, r, result.ClassGatewayTimeout, "")

	// The real fingerprints, end to end.
	r = (&Prober{}).Run(context.Background(), Spec{URL: srv.URL + "/cf/521", Timeout: time.Second})
	if r.Class != result.ClassBadGateway || r.Gateway != gateway.Cloudflare {
		t.Errorf("cloudflare 521: class %q gateway %q", r.Class, r.Gateway)
	}
}

func TestExcerptIsValidUTF8(t *testing.T) {
	body := strings.Repeat("a", excerptBytes-1) + "€ and more"
	got := validUTF8Prefix([]byte(body)[:excerptBytes])
	if string(got) != strings.Repeat("a", excerptBytes-1) {
		t.Errorf("cut rune kept: % x", got[len(got)-3:])
	}
}

func TestInvalidSpec(t *testing.T) {
	var p Prober
	r := p.Run(context.Background(), Spec{URL: "ftp://example.test/", ExpectRegex: "("})
	if r.OK || r.Class != result.ClassProtocolError || !strings.Contains(r.Error, "scheme") || !strings.Contains(r.Error, "expect_regex") {
		t.Fatalf("invalid spec: %+v", r)
	}
	if r.Via == nil || r.Fixes == nil {
		t.Errorf("not normalised")
	}
	if _, err := Compile(Spec{URL: "http://127.0.0.1/", Resolve: []string{"bad"}}); err == nil {
		t.Errorf("Compile accepted a bad pin")
	}
}

func TestExpectBodyAcrossReads(t *testing.T) {
	body := strings.Repeat("x", 5000) + "needle-in-haystack" + strings.Repeat("y", 5000)
	for _, tc := range []struct {
		expect string
		found  bool
	}{
		{"needle-in-haystack", true},
		{"xneedle", true},
		{"stacky", true},
		{"n", true},
		{"needle-in-hayfork", false},
		{"xxxxy", false},
	} {
		b := bodyReader{src: iotest.OneByteReader(strings.NewReader(body)), max: 1 << 20, expect: []byte(tc.expect)}
		if _, err := b.run(nil); err != nil {
			t.Fatal(err)
		}
		if b.found != tc.found || b.n != int64(len(body)) {
			t.Errorf("expect %q: found %v (want %v), read %d", tc.expect, b.found, tc.found, b.n)
		}
		b = bodyReader{src: iotest.HalfReader(strings.NewReader(body)), max: 1 << 20, expect: []byte(tc.expect)}
		b.run(nil)
		if b.found != tc.found {
			t.Errorf("expect %q with half reads: found %v", tc.expect, b.found)
		}
	}
}

func TestRegexpCacheBounded(t *testing.T) {
	var p Prober
	for i := range regexpCacheSize + 10 {
		if _, err := p.compileRegexp(fmt.Sprintf("a%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := p.compileRegexp("same")
	b, _ := p.compileRegexp("same")
	if a != b {
		t.Errorf("regexp compiled twice")
	}
	if len(p.regexps) > regexpCacheSize {
		t.Errorf("cache holds %d", len(p.regexps))
	}
}

func TestRedirects(t *testing.T) {
	var authSeen atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authSeen.Store(r.Header.Get("Authorization"))
		io.WriteString(w, "other origin")
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop2", http.StatusFound) })
	mux.HandleFunc("/loop2", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/chain/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			fmt.Fprintf(w, "end of chain, method %s", r.Method)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/app", func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("session"); err != nil {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		io.WriteString(w, "welcome back")
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
		http.Redirect(w, r, "/app", http.StatusFound)
	})
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.test/", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var p Prober
	r := p.Run(context.Background(), Spec{URL: srv.URL + "/chain/3", Method: "POST", Body: "x=1", ExpectBody: "method GET", Timeout: time.Second})
	check(t, r, result.ClassOK, "")
	if r.Redirects != 3 || r.FinalURL != srv.URL+"/chain/0" || r.Method != "POST" {
		t.Errorf("chain: redirects %d final %q method %q", r.Redirects, r.FinalURL, r.Method)
	}

	r, el := runTimed(&p, Spec{URL: srv.URL + "/loop", MaxRedirects: 5, Timeout: time.Second})
	check(t, r, result.ClassTooManyRedirects, result.DetailRedirectLoop)
	if r.Redirects != 5 || r.Status != 302 {
		t.Errorf("loop: redirects %d status %d", r.Redirects, r.Status)
	}
	within(t, el, time.Second)

	r = p.Run(context.Background(), Spec{URL: srv.URL + "/chain/20", MaxRedirects: 4, Timeout: time.Second})
	check(t, r, result.ClassTooManyRedirects, result.DetailRedirectLimit)
	if r.Redirects != 4 {
		t.Errorf("limit: redirects %d", r.Redirects)
	}

	r = p.Run(context.Background(), Spec{URL: srv.URL + "/away", Headers: map[string]string{"Authorization": "Bearer secret"}, Timeout: time.Second})
	check(t, r, result.ClassOK, "")
	if got := authSeen.Load(); got != "" {
		t.Errorf("Authorization %q leaked to another origin", got)
	}
	if r.RemoteAddr != other.Listener.Addr().String() {
		t.Errorf("remote_addr %q is not the final hop's", r.RemoteAddr)
	}

	r = p.Run(context.Background(), Spec{URL: srv.URL + "/app", ExpectBody: "welcome", Timeout: time.Second})
	check(t, r, result.ClassOK, "")
	if r.Redirects != 2 {
		t.Errorf("cookie redirect: %d redirects", r.Redirects)
	}

	r = p.Run(context.Background(), Spec{URL: srv.URL + "/ftp", Timeout: time.Second})
	check(t, r, result.ClassProtocolError, result.DetailMalformedResponse)
}

func TestResolvePinsAndDialControl(t *testing.T) {
	var hosts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/end", http.StatusFound)
			return
		}
		io.WriteString(w, "pinned")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	var dials atomic.Int32
	p := Prober{DialControl: func(network, address string, c syscall.RawConn) error {
		dials.Add(1)
		if !strings.HasPrefix(address, "127.0.0.1:") {
			return fmt.Errorf("destination %s refused by policy", address)
		}
		return nil
	}}
	// Pinned hosts never reach DNS, so no resolver is needed.
	spec := Spec{URL: "http://app.example.test:" + port + "/start", Resolve: []string{"app.example.test:" + port + ":127.0.0.1"}, ExpectBody: "pinned", Timeout: time.Second}
	r := p.Run(context.Background(), spec)
	check(t, r, result.ClassOK, "")
	if dials.Load() != 2 || r.Redirects != 1 {
		t.Errorf("dials %d redirects %d: DialControl must see every hop", dials.Load(), r.Redirects)
	}
	if len(hosts) != 2 || hosts[0] != "app.example.test:"+port || hosts[1] != hosts[0] {
		t.Errorf("Host headers %q", hosts)
	}

	spec.Resolve = []string{"app.example.test:" + port + ":::1"}
	spec.IPVersion = 4
	r = p.Run(context.Background(), spec)
	check(t, r, result.ClassNetworkUnreachable, result.DetailNetUnreachable)

	spec.IPVersion = 0
	r = p.Run(context.Background(), spec)
	check(t, r, result.ClassNetworkUnreachable, "")
	if !strings.Contains(r.Error, "refused by policy") {
		t.Errorf("policy refusal not explained: %q", r.Error)
	}
}

func TestIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatalf("loopback IPv6 is needed for this test: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "v6") }))
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	var p Prober
	r := p.Run(context.Background(), Spec{URL: srv.URL, IPVersion: 6, Timeout: time.Second})
	check(t, r, result.ClassOK, "")
	if !strings.HasPrefix(r.RemoteAddr, "[::1]:") {
		t.Errorf("remote_addr %q", r.RemoteAddr)
	}
	r = p.Run(context.Background(), Spec{URL: srv.URL, IPVersion: 4, Timeout: time.Second})
	check(t, r, result.ClassNetworkUnreachable, result.DetailNetUnreachable)
}

func TestConnectionFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	rst := func(c net.Conn) { c.(*net.TCPConn).SetLinger(0); c.Close() }
	tests := []struct {
		name   string
		addr   string
		p      *Prober
		class  result.Class
		detail string
		body   string
	}{
		{name: "refused", addr: closed, class: result.ClassConnectionRefused},
		{name: "reset before response", addr: rawServer(t, func(c net.Conn) { readRequest(c); rst(c) }),
			class: result.ClassConnectionReset, detail: result.DetailResetBeforeResponse},
		{name: "reset while sending", addr: rawServer(t, rst), body: strings.Repeat("b", 32<<20),
			class: result.ClassConnectionReset, detail: result.DetailResetBeforeResponse},
		{name: "closed before response", addr: rawServer(t, func(c net.Conn) { readRequest(c); c.Close() }),
			class: result.ClassConnectionReset, detail: result.DetailClosedBeforeResp},
		{name: "reset reading body", addr: rawServer(t, func(c net.Conn) {
			readRequest(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
			time.Sleep(100 * time.Millisecond)
			rst(c)
		}), class: result.ClassConnectionReset, detail: result.DetailResetReadingBody},
		{name: "host unreachable", addr: closed, class: result.ClassNetworkUnreachable, detail: result.DetailHostUnreachable,
			p: &Prober{DialControl: func(string, string, syscall.RawConn) error { return syscall.EHOSTUNREACH }}},
		{name: "net unreachable", addr: closed, class: result.ClassNetworkUnreachable, detail: result.DetailNetUnreachable,
			p: &Prober{DialControl: func(string, string, syscall.RawConn) error { return syscall.ENETUNREACH }}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.p == nil {
				tc.p = &Prober{}
			}
			method := ""
			if tc.body != "" {
				method = "PUT"
			}
			r, el := runTimed(tc.p, Spec{URL: "http://" + tc.addr + "/", Method: method, Body: tc.body, Timeout: time.Second})
			check(t, r, tc.class, tc.detail)
			within(t, el, time.Second)
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	reply := func(s string) func(net.Conn) {
		return func(c net.Conn) { readRequest(c); io.WriteString(c, s); c.Close() }
	}
	var bad bytes.Buffer
	gz := gzip.NewWriter(&bad)
	io.WriteString(gz, strings.Repeat("valid start ", 100))
	gz.Flush()
	badGzip := bad.Bytes()[:bad.Len()-4]
	tests := []struct {
		name   string
		serve  func(net.Conn)
		detail string
	}{
		{"garbage", reply("SSH-2.0-OpenSSH_9.2p1\r\n"), result.DetailMalformedResponse},
		{"garbage without newline", reply("\x00\x01\x02\x03binary"), result.DetailMalformedResponse},
		{"truncated headers", reply("HTTP/1.1 200 OK\r\nContent-Type: text/ht"), result.DetailMalformedResponse},
		{"huge header", reply("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 100<<10) + "\r\n\r\n"), result.DetailHeadersTooLarge},
		{"endless headers", func(c net.Conn) {
			readRequest(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(c, "X-H%d: v\r\n", i); err != nil {
					return
				}
			}
		}, result.DetailHeadersTooLarge},
		{"broken chunking", reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"), result.DetailBadBody},
		{"short body", reply("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"), result.DetailBadBody},
		{"bad gzip", func(c net.Conn) {
			readRequest(c)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(badGzip))
			c.Write(badGzip)
			c.Close()
		}, result.DetailBadBody},
		{"not gzip at all", reply("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nplain"), result.DetailBadBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, tc.serve)
			r, el := runTimed(&Prober{}, Spec{URL: "http://" + addr + "/", Timeout: time.Second})
			check(t, r, result.ClassProtocolError, tc.detail)
			within(t, el, time.Second)
		})
	}
}

func TestInformationalResponses(t *testing.T) {
	skip := rawServer(t, func(c net.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close()
	})
	var p Prober
	r := p.Run(context.Background(), Spec{URL: "http://" + skip + "/", ExpectBody: "ok", Timeout: time.Second})
	check(t, r, result.ClassOK, "")
	if r.Status != 200 {
		t.Errorf("status %d", r.Status)
	}
	upgrade := rawServer(t, func(c net.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		c.Close()
	})
	r = p.Run(context.Background(), Spec{URL: "http://" + upgrade + "/", Timeout: time.Second})
	check(t, r, result.ClassUnexpectedStatus, "")
	if r.Status != 101 {
		t.Errorf("status %d", r.Status)
	}
}

func TestTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	hold := func(c net.Conn) { io.Copy(io.Discard, c) }
	tests := []struct {
		name   string
		serve  func(net.Conn)
		https  bool
		body   string
		detail string
	}{
		{"never answers", func(c net.Conn) { readRequest(c); hold(c) }, false, "", result.DetailWaitingHeaders},
		{"headers then stall", func(c net.Conn) {
			readRequest(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart")
			hold(c)
		}, false, "", result.DetailReadingBody},
		{"slow body", func(c net.Conn) {
			readRequest(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			for {
				if _, err := io.WriteString(c, "1\r\nx\r\n"); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}, false, "", result.DetailReadingBody},
		{"TLS never completes", hold, true, "", result.DetailTLSHandshake},
		{"request never read", nil, false, strings.Repeat("b", 32<<20), result.DetailSendingRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			serve := tc.serve
			if serve == nil {
				// Hold the connection without reading until the test ends.
				stop := make(chan struct{})
				serve = func(net.Conn) { <-stop }
				defer close(stop)
			}
			addr := rawServer(t, serve)
			scheme := "http"
			if tc.https {
				scheme = "https"
			}
			method := ""
			if tc.body != "" {
				method = "POST"
			}
			r, el := runTimed(&Prober{}, Spec{URL: scheme + "://" + addr + "/", Method: method, Body: tc.body, Timeout: timeout})
			check(t, r, result.ClassTimeout, tc.detail)
			within(t, el, timeout)
			if el < timeout-20*time.Millisecond {
				t.Errorf("gave up after %s, before the %s timeout", el, timeout)
			}
		})
	}

	t.Run("context deadline earlier than spec timeout", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn) { readRequest(c); hold(c) })
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		r := (&Prober{}).Run(ctx, Spec{URL: "http://" + addr + "/", Timeout: 5 * time.Second})
		check(t, r, result.ClassTimeout, result.DetailWaitingHeaders)
		within(t, time.Since(t0), 200*time.Millisecond)
	})
}

func TestHostileBodies(t *testing.T) {
	var zeros bytes.Buffer
	gz := gzip.NewWriter(&zeros)
	chunk := make([]byte, 1<<20)
	for range 8 { // 8 MiB inflated from about 8 KiB
		gz.Write(chunk)
	}
	gz.Close()
	bomb := zeros.Bytes()

	endless := func(c net.Conn) {
		readRequest(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
		buf := bytes.Repeat([]byte("endless "), 4096)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}
	tests := []struct {
		name  string
		serve func(net.Conn)
	}{
		{"endless body", endless},
		{"gzip bomb", func(c net.Conn) {
			readRequest(c)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(bomb))
			c.Write(bomb)
			c.Close()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, tc.serve)
			const max = 256 << 10
			r, el := runTimed(&Prober{}, Spec{URL: "http://" + addr + "/", MaxBody: max, ExpectBody: "never there", Timeout: time.Second})
			check(t, r, result.ClassContentMismatch, result.DetailBodyMissingText)
			if !r.Truncated || r.BodyBytes != max {
				t.Errorf("truncated %v body_bytes %d, want true %d", r.Truncated, r.BodyBytes, max)
			}
			if len(r.Evidence.Body) > excerptBytes {
				t.Errorf("excerpt of %d bytes", len(r.Evidence.Body))
			}
			within(t, el, 300*time.Millisecond) // stops at max, far before the timeout
		})
	}
}

func TestMemoryStaysFlat(t *testing.T) {
	const size = 50 << 20
	buf := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for left := size; left > 0; left -= len(buf) {
			if _, err := w.Write(buf[:min(left, len(buf))]); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	var p Prober
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"whole body, text search", Spec{URL: srv.URL, MaxBody: 64 << 20, ExpectBody: "f0123"}},
		{"regex over the first 512 KiB", Spec{URL: srv.URL, MaxBody: 512 << 10, ExpectRegex: `f0123x`}},
		{"capped at 1 MiB", Spec{URL: srv.URL, MaxBody: 1 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Timeout = 10 * time.Second
			var before, after runtimeMem
			before.read()
			r := p.Run(context.Background(), tc.spec)
			after.read()
			if r.Class == result.ClassTimeout || r.Class == result.ClassProtocolError {
				t.Fatalf("probe failed: %s", r.Error)
			}
			if tc.spec.MaxBody > size && (r.BodyBytes != size || r.Truncated) {
				t.Errorf("read %d bytes (truncated %v), want all %d", r.BodyBytes, r.Truncated, size)
			}
			// Far below what was read: nothing holds the body, and nothing
			// is sized by MaxBody up front.
			limit := min(tc.spec.MaxBody, size) / 4
			if raceEnabled {
				limit *= 2
			}
			grow := after.total - before.total
			t.Logf("allocated %d bytes to read %d bytes", grow, r.BodyBytes)
			if grow > uint64(limit) {
				t.Errorf("allocated more than %d bytes", limit)
			}
		})
	}
}

func TestErrorsWrapPhase(t *testing.T) {
	// The error sentence says what was being done.
	addr := rawServer(t, func(c net.Conn) { readRequest(c); c.Close() })
	r := (&Prober{}).Run(context.Background(), Spec{URL: "http://" + addr + "/", Timeout: time.Second})
	if !strings.Contains(r.Error, "waiting for the response from "+addr) {
		t.Errorf("error %q", r.Error)
	}
}

type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}

// TestPinnedIsRecorded: a result says whether a resolve pin chose the
// address, so that advice about the host's DNS records is left out
// (monitor/fixes).
func TestPinnedIsRecorded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close() // nothing listens there now: refused, after the address is chosen
	var p Prober
	pinned := p.Run(context.Background(), Spec{URL: "http://app.example.test:" + port + "/", Resolve: []string{"app.example.test:" + port + ":127.0.0.1"}, Timeout: time.Second})
	check(t, pinned, result.ClassConnectionRefused, "")
	if !pinned.Pinned {
		t.Error("a pinned check's result does not say it was pinned")
	}
	literal := p.Run(context.Background(), Spec{URL: "http://127.0.0.1:" + port + "/", Timeout: time.Second})
	check(t, literal, result.ClassConnectionRefused, "")
	if literal.Pinned {
		t.Error("an IP literal check's result says it was pinned")
	}
}
