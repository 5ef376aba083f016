package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer answers DNS queries on 127.0.0.1 over UDP: for the name "ok.test"
// the A records in addrs, for anything else rcode; silent drops every query.
type dnsServer struct {
	addr    string
	queries atomic.Int64
}

func startDNS(t *testing.T, rcode dnsmessage.RCode, silent bool, addrs ...string) *dnsServer {
	t.Helper()
	ok := testkit.DNSAnswer{Silent: silent}
	for _, a := range addrs {
		ok.A = append(ok.A, netip.MustParseAddr(a))
	}
	s := &dnsServer{}
	s.addr = testkit.DNS{RCode: rcode, Silent: silent, Names: map[string]testkit.DNSAnswer{"ok.test": ok}, Queries: &s.queries}.Start(t)
	return s
}

// loopbackResolver is a Go resolver whose DNS traffic goes only to addr on
// loopback; /etc/hosts still answers first.
func loopbackResolver(addr string) *net.Resolver { return testkit.Resolver(addr) }

// countingLookup is an Options.Lookup that counts its calls and answers
// with addrs.
type countingLookup struct {
	calls atomic.Int64
	addrs []netip.Addr
}

func (l *countingLookup) Lookup(_ context.Context, network, host string) ([]netip.Addr, error) {
	l.calls.Add(1)
	return l.addrs, nil
}

func TestSignedResolve(t *testing.T) {
	dns := startDNS(t, dnsmessage.RCodeNameError, false, "127.0.0.9")
	a := newAgent(t, Options{Resolver: loopbackResolver(dns.addr)})
	c := a.client(testKey)
	tests := []struct {
		host string
		want []string // nil: any non-empty set of loopback addresses
	}{
		{"localhost", nil},
		{"127.0.0.1", []string{"127.0.0.1"}},
		{"::1", []string{"::1"}},
		{"ok.test", []string{"127.0.0.9"}},
		{"OK.test.", []string{"127.0.0.9"}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			addrs, err := c.Resolve(context.Background(), tt.host)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if len(addrs) == 0 {
				t.Fatal("no address")
			}
			var got []string
			for _, ad := range addrs {
				if tt.want == nil && !ad.IsLoopback() {
					t.Errorf("%s resolved to %s, not a loopback address", tt.host, ad)
				}
				got = append(got, ad.String())
			}
			if tt.want != nil && !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResolveFailureKinds(t *testing.T) {
	tests := []struct {
		name   string
		rcode  dnsmessage.RCode
		silent bool
		want   ResolveKind
	}{
		{"nxdomain", dnsmessage.RCodeNameError, false, ResolveNXDomain},
		{"servfail", dnsmessage.RCodeServerFailure, false, ResolveServFail},
		{"refused", dnsmessage.RCodeRefused, false, ResolveRefused},
		{"silent server", 0, true, ResolveTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dns := startDNS(t, tt.rcode, tt.silent)
			a := newAgent(t, Options{Resolver: loopbackResolver(dns.addr), MaxTimeout: 300 * time.Millisecond})
			start := time.Now()
			addrs, err := a.client(testKey).Resolve(context.Background(), "missing.test")
			var re *ResolveError
			if !errors.As(err, &re) || re.Kind != tt.want || re.Host != "missing.test" {
				t.Fatalf("Resolve = %v, %v; want a *ResolveError of kind %s", addrs, err, tt.want)
			}
			if re.DNSKind() != string(tt.want) || !strings.Contains(err.Error(), string(tt.want)) {
				t.Errorf("DNSKind %q, Error %q", re.DNSKind(), err)
			}
			if IsKind(err, KindUnreachable) || IsKind(err, KindProtocol) {
				t.Errorf("a DNS failure reads as an agent failure: %v", err)
			}
			if dns.queries.Load() == 0 {
				t.Error("the agent's resolver was never asked")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s with a 300ms cap", d)
			}
		})
	}
}

func TestResolveUnauthenticatedDoesNoLookup(t *testing.T) {
	look := &countingLookup{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	a := newAgent(t, Options{Lookup: look.Lookup})
	body := []byte(`{"host":"example.test"}`)
	for _, rr := range []rawRequest{
		{path: ResolvePath, key: otherKey, body: body},
		{path: ResolvePath, body: body, noAuth: true},
		{path: ResolvePath, ts: a.clock.Now().Add(-time.Minute), body: body},
		{path: ResolvePath, body: body, sendBody: []byte(`{"host":"other.test"}`)},
	} {
		resp, msg := a.do(t, rr)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != AuthScheme {
			t.Errorf("status %d (%s), want 401", resp.StatusCode, msg)
		}
	}
	resp, msg := a.doSignedFor(t, ProbePath, ResolvePath, body)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed for %s, sent to %s: status %d (%s), want 401", ProbePath, ResolvePath, resp.StatusCode, msg)
	}
	if _, err := a.client(otherKey).Resolve(context.Background(), "example.test"); !IsKind(err, KindAuth) {
		t.Errorf("client with the wrong key: err %v, want KindAuth", err)
	}
	if n := look.calls.Load(); n != 0 {
		t.Fatalf("unauthenticated requests made %d lookups", n)
	}
	if n := a.srv.replay.len(); n != 0 {
		t.Errorf("unauthenticated requests left %d nonces in the replay cache", n)
	}
	if _, err := a.client(testKey).Resolve(context.Background(), "example.test"); err != nil || look.calls.Load() != 1 {
		t.Fatalf("the right key: err %v after %d lookups, want one lookup", err, look.calls.Load())
	}
}

// doSignedFor signs a request for one path and sends it to another.
func (a *agentUnderTest) doSignedFor(t *testing.T, signed, sent string, body []byte) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.URL+sent, strings.NewReader(string(body)))
	ts := strconv.FormatInt(a.clock.Now().Unix(), 10)
	nonce := NewNonce()
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set("Authorization", Sign(testKey, http.MethodPost, signed, ts, nonce, body))
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

func TestResolveReplayRejected(t *testing.T) {
	look := &countingLookup{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	a := newAgent(t, Options{Lookup: look.Lookup})
	rr := rawRequest{path: ResolvePath, nonce: NewNonce(), body: []byte(`{"host":"example.test"}`)}
	if resp, msg := a.do(t, rr); resp.StatusCode != http.StatusOK {
		t.Fatalf("first request: status %d (%s)", resp.StatusCode, msg)
	}
	a.clock.Advance(10 * time.Second)
	resp, msg := a.do(t, rr)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(msg, "replay") {
		t.Fatalf("replay: status %d (%s), want 401 naming the replay", resp.StatusCode, msg)
	}
	// A fresh timestamp does not make the used nonce new.
	rr.ts = a.clock.Now()
	if resp, _ := a.do(t, rr); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replay with a fresh timestamp: status %d, want 401", resp.StatusCode)
	}
	if n := look.calls.Load(); n != 1 {
		t.Fatalf("%d lookups, want 1: a replay reached the resolver", n)
	}
}

func TestResolveBadHost(t *testing.T) {
	look := &countingLookup{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	a := newAgent(t, Options{Lookup: look.Lookup, Rate: 100, Burst: 100}) // the fake clock refills nothing
	long := strings.Repeat("a.", 127) + "ab"                              // 256 bytes
	tests := []struct {
		name, body, want string
	}{
		{"empty", `{"host":""}`, "empty"},
		{"missing", `{}`, "empty"},
		{"port", `{"host":"example.test:80"}`, "without port"},
		{"bracketed", `{"host":"[::1]"}`, "without port or brackets"},
		{"url", `{"host":"http://example.test/"}`, "without port"},
		{"path", `{"host":"example.test/x"}`, "not a URL"},
		{"too long", `{"host":"` + long + `"}`, "at most 253"},
		{"long label", `{"host":"` + strings.Repeat("a", 64) + `.test"}`, "at most 63"},
		{"empty label", `{"host":"a..test"}`, "empty label"},
		{"space", `{"host":"a b.test"}`, "character"},
		{"hyphen edge", `{"host":"-a.test"}`, "'-'"},
		{"unicode", `{"host":"bücher.test"}`, "punycode"},
		{"zone", `{"host":"fe80::1%eth0"}`, "zone"},
		{"negative timeout", `{"host":"a.test","timeout_ms":-1}`, "negative"},
		{"unknown field", `{"host":"a.test","server":"1.1.1.1"}`, "unknown field"},
		{"trailing data", `{"host":"a.test"} {}`, "after the request"},
		{"not json", `host=a.test`, "JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, msg := a.do(t, rawRequest{path: ResolvePath, body: []byte(tt.body)})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg, "bad resolve request") || !strings.Contains(msg, tt.want) {
				t.Fatalf("status %d (%s), want 400 containing %q", resp.StatusCode, msg, tt.want)
			}
		})
	}
	for _, h := range []string{"", "a.test:443", "bücher.test"} {
		if _, err := a.client(testKey).Resolve(context.Background(), h); !IsKind(err, KindRejected) {
			t.Errorf("client, host %q: err %v, want KindRejected", h, err)
		}
	}
	if n := look.calls.Load(); n != 0 {
		t.Fatalf("bad requests made %d lookups", n)
	}
	// The edges that are fine.
	for _, h := range []string{strings.Repeat("a.", 126) + "a", "_dmarc.example.test", "xn--bcher-kva.test", "2001:db8::1"} {
		if err := ValidHost(h); err != nil {
			t.Errorf("ValidHost(%q): %v", h, err)
		}
	}
}

func TestResolveTimeoutBound(t *testing.T) {
	var deadline atomic.Int64 // ns from the call to the lookup's deadline
	slow := func(ctx context.Context, _, _ string) ([]netip.Addr, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return nil, errors.New("no deadline")
		}
		deadline.Store(int64(time.Until(dl)))
		<-ctx.Done()
		return nil, ctx.Err()
	}
	a := newAgent(t, Options{Lookup: slow, MaxTimeout: 200 * time.Millisecond})
	start := time.Now()
	// No deadline on ctx: the client asks for DefaultResolveTimeout and the
	// agent lowers it to its cap.
	_, err := a.client(testKey).Resolve(context.Background(), "slow.test")
	var re *ResolveError
	if !errors.As(err, &re) || re.Kind != ResolveTimeout {
		t.Fatalf("err %v, want a timeout *ResolveError", err)
	}
	if d := time.Duration(deadline.Load()); d <= 0 || d > 200*time.Millisecond {
		t.Errorf("the lookup had %s, want at most the 200ms cap", d)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}

	// With a deadline on ctx the agent gets part of it, and answers first.
	b := newAgent(t, Options{Lookup: slow})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	_, err = b.client(testKey).Resolve(ctx, "slow.test")
	if !errors.As(err, &re) || re.Kind != ResolveTimeout {
		t.Fatalf("with a 400ms deadline: err %v, want a timeout *ResolveError, not an unreachable agent", err)
	}
	if d := time.Duration(deadline.Load()); d <= 0 || d > 300*time.Millisecond {
		t.Errorf("the lookup had %s of a 400ms deadline, want at most three quarters", d)
	}

	s, _ := NewServer(Options{Keys: [][]byte{testKey}, MaxTimeout: 2 * time.Second})
	for body, want := range map[string]time.Duration{
		`{"host":"a.test"}`:                                  2 * time.Second,
		`{"host":"a.test","timeout_ms":1500}`:                1500 * time.Millisecond,
		`{"host":"a.test","timeout_ms":9223372036854775807}`: 2 * time.Second,
	} {
		if _, d, _, err := s.decodeResolve([]byte(body)); err != nil || d != want {
			t.Errorf("%s: timeout %s, err %v; want %s", body, d, err, want)
		}
	}
}

func TestResolveSharesLimits(t *testing.T) {
	look := &countingLookup{addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}
	a := newAgent(t, Options{Lookup: look.Lookup, Rate: 1, Burst: 1})
	c := a.client(testKey)
	if _, err := c.Resolve(context.Background(), "a.test"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Resolve(context.Background(), "a.test")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindBusy || e.Status != http.StatusTooManyRequests {
		t.Fatalf("second lookup: err %v, want KindBusy 429", err)
	}
	if n := look.calls.Load(); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
}

func TestResolveWithRefusePrivate(t *testing.T) {
	// Documented choice: resolution is answered in full, private addresses
	// included; only probes are refused.
	look := &countingLookup{addrs: []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("::ffff:192.0.2.1")}}
	a := newAgent(t, Options{Lookup: look.Lookup, RefusePrivate: true})
	addrs, err := a.client(testKey).Resolve(context.Background(), "intranet.test")
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.1")}; !slices.Equal(addrs, want) {
		t.Fatalf("addrs %v, want %v (unmapped)", addrs, want)
	}
}

func TestResolveForgedOrBadAnswer(t *testing.T) {
	tests := []struct {
		name string
		body string
		key  []byte
	}{
		{"signed with another key", `{"addrs":["127.0.0.1"]}`, otherKey},
		{"not an address", `{"addrs":["evil"]}`, testKey},
		{"not json", `addrs`, testKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(HeaderResponseSignature, responseMAC(tt.key, r.Header.Get(HeaderNonce), 200, []byte(tt.body)))
				w.Write([]byte(tt.body))
			}))
			t.Cleanup(srv.Close)
			_, err := (&Client{URL: srv.URL, Key: testKey}).Resolve(context.Background(), "a.test")
			if !IsKind(err, KindProtocol) {
				t.Fatalf("err %v, want KindProtocol", err)
			}
		})
	}
	// An agent that is not there is unreachable, not a DNS answer.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := (&Client{URL: url, Key: testKey}).Resolve(context.Background(), "a.test")
	var re *ResolveError
	if !IsKind(err, KindUnreachable) || errors.As(err, &re) {
		t.Fatalf("closed agent: err %v, want KindUnreachable", err)
	}
}

func TestResolveRoutes(t *testing.T) {
	a := newAgent(t, Options{})
	for _, m := range []string{http.MethodGet, http.MethodPut} {
		req, _ := http.NewRequest(m, a.URL+ResolvePath, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d, want 405", m, ResolvePath, resp.StatusCode)
		}
	}
}

// The agent's answer names its own resolver's server, not the nameserver
// of its host's resolv.conf, which its resolver's Dial never asked.
func TestResolveFailureNamesTheServerAsked(t *testing.T) {
	for _, tt := range []struct {
		name   string
		rcode  dnsmessage.RCode
		silent bool
	}{
		{"nxdomain", dnsmessage.RCodeNameError, false},
		{"servfail", dnsmessage.RCodeServerFailure, false},
		{"silent server", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dns := startDNS(t, tt.rcode, tt.silent)
			a := newAgent(t, Options{Resolver: loopbackResolver(dns.addr), MaxTimeout: 300 * time.Millisecond})
			_, err := a.client(testKey).Resolve(context.Background(), "missing.test")
			var re *ResolveError
			if !errors.As(err, &re) {
				t.Fatalf("Resolve: %v, want a *ResolveError", err)
			}
			if !strings.Contains(re.Msg, " on "+dns.addr+":") {
				t.Errorf("the agent's answer %q does not name its resolver's server %s", re.Msg, dns.addr)
			}
		})
	}
}
