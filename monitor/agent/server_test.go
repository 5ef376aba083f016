package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func TestSignedProbe(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.Header().Set("Server", "nginx/1.22.1")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx/1.22.1</center>" + big + "</body></html>"))
			return
		}
		w.Write([]byte("all good"))
	})
	a := newAgent(t, Options{})
	c := a.client(testKey)

	r, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL + "/", ExpectBody: "all good"})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if !r.OK || r.Class != result.ClassOK || r.Status != 200 {
		t.Fatalf("result = ok %v class %q status %d, want an ok 200", r.OK, r.Class, r.Status)
	}
	if r.RemoteAddr == "" || r.Phases.TotalMs <= 0 {
		t.Errorf("result lacks remote address or timings: %+v", r)
	}

	r, err = c.Probe(context.Background(), probe.Spec{URL: tg.URL + "/bad"})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if r.OK || r.Class != result.ClassBadGateway || r.Status != http.StatusBadGateway {
		t.Fatalf("result = class %q status %d, want bad_gateway 502", r.Class, r.Status)
	}
	if len(r.Evidence.Body) == 0 || len(r.Evidence.Body) > maxExcerpt {
		t.Errorf("excerpt has %d bytes, want 1..%d", len(r.Evidence.Body), maxExcerpt)
	}
	if len(r.Fixes) == 0 {
		t.Errorf("a 502 result carries no fixes")
	}
	if tg.hits.Load() != 2 {
		t.Errorf("target hit %d times, want 2", tg.hits.Load())
	}
}

func TestUnauthenticatedRunsNoProbe(t *testing.T) {
	tg := newTarget(t, nil)
	a := newAgent(t, Options{})
	body := specJSON(t, probe.Spec{URL: tg.URL})
	now := a.clock.Now()
	tests := []struct {
		name string
		rr   rawRequest
		want string
	}{
		{"wrong key", rawRequest{key: otherKey, body: body}, "bad signature"},
		{"no headers", rawRequest{body: body, noAuth: true}, "missing"},
		{"timestamp 31s old", rawRequest{ts: now.Add(-31 * time.Second), body: body}, "timestamp"},
		{"timestamp 31s ahead", rawRequest{ts: now.Add(31 * time.Second), body: body}, "timestamp"},
		{"body tampered", rawRequest{body: body, sendBody: specJSON(t, probe.Spec{URL: tg.URL + "/other"})}, "bad signature"},
		{"short nonce", rawRequest{nonce: "abcd", body: body}, "Nonce"},
		{"nonce not hex", rawRequest{nonce: strings.Repeat("zz", 16), body: body}, "Nonce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, msg := a.do(t, tt.rr)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d (%s), want 401", resp.StatusCode, msg)
			}
			if resp.Header.Get("WWW-Authenticate") != AuthScheme {
				t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
		})
	}
	t.Run("target not signed", func(t *testing.T) {
		// Signed for /v1/probe, sent to /v1/probe?x=1.
		resp, msg := a.doMismatchedPath(t, body)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d (%s), want 401", resp.StatusCode, msg)
		}
	})
	if n := tg.hits.Load(); n != 0 {
		t.Fatalf("the target was hit %d times by unauthenticated requests", n)
	}
	if n := a.srv.replay.len(); n != 0 {
		t.Errorf("unauthenticated requests left %d nonces in the replay cache", n)
	}

	// The edges of the window are accepted.
	for _, d := range []time.Duration{-30 * time.Second, 30 * time.Second} {
		if resp, msg := a.do(t, rawRequest{ts: now.Add(d), body: body}); resp.StatusCode != http.StatusOK {
			t.Errorf("timestamp %v off: status %d (%s), want 200", d, resp.StatusCode, msg)
		}
	}
}

func (a *agentUnderTest) doMismatchedPath(t *testing.T, body []byte) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.URL+ProbePath+"?x=1", strings.NewReader(string(body)))
	ts := fmt.Sprint(a.clock.Now().Unix())
	nonce := NewNonce()
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set("Authorization", Sign(testKey, http.MethodPost, ProbePath, ts, nonce, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	sb.Write(buf[:n])
	return resp, sb.String()
}

func TestReplayRejected(t *testing.T) {
	tg := newTarget(t, nil)
	a := newAgent(t, Options{})
	body := specJSON(t, probe.Spec{URL: tg.URL})
	rr := rawRequest{ts: a.clock.Now(), nonce: NewNonce(), body: body}
	if resp, msg := a.do(t, rr); resp.StatusCode != http.StatusOK {
		t.Fatalf("first request: status %d (%s)", resp.StatusCode, msg)
	}
	a.clock.Advance(20 * time.Second) // still inside the window
	resp, msg := a.do(t, rr)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(msg, "replay") {
		t.Fatalf("replay: status %d (%s), want 401 naming the replay", resp.StatusCode, msg)
	}
	// A fresh timestamp with the used nonce is a replay too.
	rr2 := rr
	rr2.ts = a.clock.Now()
	resp, msg = a.do(t, rr2)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(msg, "replay") {
		t.Fatalf("replay: status %d (%s), want 401 naming the replay", resp.StatusCode, msg)
	}
	if n := tg.hits.Load(); n != 1 {
		t.Fatalf("target hit %d times, want 1: the replay ran a probe", n)
	}
	// Once the timestamp is out of the window the nonce is forgotten, and
	// the old request is still refused, now for its timestamp.
	a.clock.Advance(20 * time.Second)
	resp, msg = a.do(t, rr)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(msg, "timestamp") {
		t.Fatalf("late replay: status %d (%s), want 401 for the timestamp", resp.StatusCode, msg)
	}
}

func TestKeyRotation(t *testing.T) {
	tg := newTarget(t, nil)
	third := []byte(strings.Repeat("k", 32))
	a := newAgent(t, Options{Keys: [][]byte{testKey, otherKey}})
	for _, k := range [][]byte{testKey, otherKey} {
		if _, err := a.client(k).Probe(context.Background(), probe.Spec{URL: tg.URL}); err != nil {
			t.Errorf("key %s: %v", KeyID(k), err)
		}
	}
	if _, err := a.client(third).Probe(context.Background(), probe.Spec{URL: tg.URL}); !IsKind(err, KindAuth) {
		t.Errorf("unknown key: err %v, want KindAuth", err)
	}
	if n := tg.hits.Load(); n != 2 {
		t.Errorf("target hit %d times, want 2", n)
	}
}

func TestBadRequests(t *testing.T) {
	tg := newTarget(t, nil)
	a := newAgent(t, Options{})
	tests := []struct {
		name string
		body string
		code int
		want string
	}{
		{"ftp scheme", `{"url":"ftp://127.0.0.1/x"}`, 400, "scheme"},
		{"file scheme", `{"url":"file:///etc/passwd"}`, 400, "scheme"},
		{"unknown field", `{"url":"` + tg.URL + `","proxy":"x"}`, 400, "unknown field"},
		{"trailing data", `{"url":"` + tg.URL + `"} {}`, 400, "after the spec"},
		{"not json", `url=x`, 400, "JSON"},
		{"bad regexp", `{"url":"` + tg.URL + `","expect_regex":"("}`, 400, "expect_regex"},
		{"too large", `{"url":"` + tg.URL + `","body":"` + strings.Repeat("a", MaxRequestBytes) + `"}`, 413, "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, msg := a.do(t, rawRequest{body: []byte(tt.body)})
			if resp.StatusCode != tt.code || !strings.Contains(msg, tt.want) {
				t.Fatalf("status %d (%s), want %d containing %q", resp.StatusCode, msg, tt.code, tt.want)
			}
		})
	}
	if n := tg.hits.Load(); n != 0 {
		t.Fatalf("target hit %d times by refused specs", n)
	}
	_, err := a.client(testKey).Probe(context.Background(), probe.Spec{URL: "gopher://127.0.0.1/"})
	if !IsKind(err, KindRejected) {
		t.Fatalf("client: err %v, want KindRejected", err)
	}
}

func TestCapsClamp(t *testing.T) {
	s, err := NewServer(Options{Keys: [][]byte{testKey}, MaxTimeout: 5 * time.Second, MaxBody: 1000, MaxRedirects: 2})
	if err != nil {
		t.Fatal(err)
	}
	spec, clamped, err := s.decodeSpec([]byte(`{"url":"http://127.0.0.1/","timeout":3600000000000,"max_body":1073741824,"max_redirects":1000}`))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Timeout != 5*time.Second || spec.MaxBody != 1000 || spec.MaxRedirects != 2 {
		t.Errorf("clamped spec: timeout %s max_body %d max_redirects %d", spec.Timeout, spec.MaxBody, spec.MaxRedirects)
	}
	if strings.Join(clamped, ",") != "timeout,max_body,max_redirects" {
		t.Errorf("clamped = %v", clamped)
	}
	spec, clamped, _ = s.decodeSpec([]byte(`{"url":"http://127.0.0.1/","timeout":1000000000}`))
	if spec.Timeout != time.Second || spec.MaxBody != 1000 || strings.Join(clamped, ",") != "max_body,max_redirects" {
		t.Errorf("within caps: timeout %s max_body %d clamped %v", spec.Timeout, spec.MaxBody, clamped)
	}
}

func TestCapsEndToEnd(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/hop":
			http.Redirect(w, r, "/hop", http.StatusFound)
		}
	})
	a := newAgent(t, Options{MaxTimeout: 300 * time.Millisecond, MaxRedirects: 2})
	c := a.client(testKey)
	start := time.Now()
	r, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL + "/slow", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if r.Class != result.ClassTimeout || time.Since(start) > 10*time.Second {
		t.Errorf("slow target: class %q after %s, want timeout within the 300ms cap", r.Class, time.Since(start))
	}
	r, err = c.Probe(context.Background(), probe.Spec{URL: tg.URL + "/hop", MaxRedirects: 50})
	if err != nil {
		t.Fatal(err)
	}
	if r.Class != result.ClassTooManyRedirects || r.Redirects > 2 {
		t.Errorf("redirect loop: class %q after %d redirects, want too_many_redirects at most 2", r.Class, r.Redirects)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	})
	a := newAgent(t, Options{MaxConcurrency: 1})
	c := a.client(testKey)
	var wg sync.WaitGroup
	wg.Add(1)
	var firstErr error
	go func() {
		defer wg.Done()
		_, firstErr = c.Probe(context.Background(), probe.Spec{URL: tg.URL})
	}()
	<-started
	_, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL})
	var e *Error
	if !IsKind(err, KindBusy) || !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 {
		t.Errorf("second probe: err %v, want KindBusy 503 with Retry-After", err)
	}
	close(release)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("first probe: %v", firstErr)
	}
	if _, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL}); err != nil {
		t.Fatalf("after the slot is free: %v", err)
	}
	if n := tg.hits.Load(); n != 2 {
		t.Errorf("target hit %d times, want 2", n)
	}
}

func TestRateLimit(t *testing.T) {
	tg := newTarget(t, nil)
	a := newAgent(t, Options{Rate: 1, Burst: 2})
	c := a.client(testKey)
	for i := range 2 {
		if _, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL}); err != nil {
			t.Fatalf("probe %d within the burst: %v", i+1, err)
		}
	}
	_, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindBusy || e.Status != http.StatusTooManyRequests || e.RetryAfter != time.Second {
		t.Fatalf("third probe: err %v, want KindBusy 429 Retry-After 1s", err)
	}
	a.clock.Advance(time.Second)
	if _, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL}); err != nil {
		t.Fatalf("a second later: %v", err)
	}
	if n := tg.hits.Load(); n != 3 {
		t.Errorf("target hit %d times, want 3", n)
	}
}

func TestRefusePrivateEndToEnd(t *testing.T) {
	tg := newTarget(t, nil)
	a := newAgent(t, Options{RefusePrivate: true})
	r, err := a.client(testKey).Probe(context.Background(), probe.Spec{URL: tg.URL})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || r.Class != result.ClassNetworkUnreachable || !strings.Contains(r.Error, "destination 127.0.0.1 refused: loopback addresses are not allowed on this agent") {
		t.Fatalf("result: class %q error %q, want network_unreachable naming the refusal", r.Class, r.Error)
	}
	// A pin is no way around it either: the check is on the dialled address.
	r, _ = a.client(testKey).Probe(context.Background(), probe.Spec{URL: "http://public.example:80/", Resolve: []string{"public.example:80:127.0.0.1"}})
	if r.Class != result.ClassNetworkUnreachable || !strings.Contains(r.Error, "refused") {
		t.Fatalf("pinned: class %q error %q", r.Class, r.Error)
	}
	if n := tg.hits.Load(); n != 0 {
		t.Fatalf("the refused target was hit %d times", n)
	}
}

// TestRefuseOnRedirect shows the refusal runs on every dial: the first hop
// is allowed, the redirect to a refused destination is not. On loopback
// everything is loopback, so "refused" here means the second server's port.
func TestRefuseOnRedirect(t *testing.T) {
	inner := newTarget(t, nil)
	outer := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL+"/secret", http.StatusFound)
	})
	_, innerPort, _ := net.SplitHostPort(inner.Listener.Addr().String())
	a := newAgent(t, Options{})
	a.srv.prober.DialControl = func(network, address string, c syscall.RawConn) error {
		if _, port, _ := net.SplitHostPort(address); port == innerPort {
			return RefusePrivate(network, address, c)
		}
		return nil
	}
	r, err := a.client(testKey).Probe(context.Background(), probe.Spec{URL: outer.URL})
	if err != nil {
		t.Fatal(err)
	}
	if r.Class != result.ClassNetworkUnreachable || !strings.Contains(r.Error, "refused: loopback") {
		t.Fatalf("redirect: class %q error %q", r.Class, r.Error)
	}
	if outer.hits.Load() != 1 || inner.hits.Load() != 0 {
		t.Fatalf("hits: outer %d inner %d, want 1 and 0", outer.hits.Load(), inner.hits.Load())
	}
}

func TestHealthzAndRoutes(t *testing.T) {
	a := newAgent(t, Options{})
	tests := []struct {
		method, path string
		code         int
	}{
		{"GET", "/healthz", 200},
		{"HEAD", "/healthz", 200},
		{"POST", "/healthz", 405},
		{"GET", ProbePath, 405},
		{"PUT", ProbePath, 405},
		{"GET", "/", 404},
		{"GET", "/debug/pprof/", 404},
		{"GET", "/metrics", 404},
		{"POST", "/v1/probe/x", 404},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, a.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body strings.Builder
		buf := make([]byte, 256)
		n, _ := resp.Body.Read(buf)
		body.Write(buf[:n])
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.code)
		}
		if tt.path == "/healthz" && tt.code == 200 {
			if tt.method == "GET" && body.String() != "ok\n" {
				t.Errorf("healthz body %q, want \"ok\\n\"", body.String())
			}
			for k := range resp.Header {
				switch k {
				case "Content-Type", "Cache-Control", "Date", "Content-Length":
				default:
					t.Errorf("healthz reveals header %s: %v", k, resp.Header[k])
				}
			}
		}
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(100 * time.Millisecond)
		w.Write([]byte("late but fine"))
	})
	srv, err := NewServer(Options{Keys: [][]byte{testKey}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	c := &Client{URL: "http://" + ln.Addr().String(), Key: testKey}
	got := make(chan error, 1)
	go func() {
		r, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL})
		if err == nil && !r.OK {
			err = fmt.Errorf("result %s", r.Headline())
		}
		got <- err
	}()
	<-started
	cancel()
	if err := <-got; err != nil {
		t.Fatalf("the probe in flight during shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL}); !IsKind(err, KindUnreachable) {
		t.Fatalf("after shutdown: err %v, want KindUnreachable", err)
	}
}

func TestResultJSONRoundTrip(t *testing.T) {
	// The agent's answer decodes to what `vantage check --json` prints:
	// the same type, with arrays never null.
	tg := newTarget(t, nil)
	a := newAgent(t, Options{})
	resp, body := a.do(t, rawRequest{body: specJSON(t, probe.Spec{URL: tg.URL})})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"url", "ok", "class", "status", "phases", "evidence", "fixes", "via"} {
		if _, ok := m[k]; !ok {
			t.Errorf("answer lacks %q", k)
		}
	}
	if m["fixes"] == nil || m["via"] == nil {
		t.Errorf("null arrays in %s", body)
	}
}
