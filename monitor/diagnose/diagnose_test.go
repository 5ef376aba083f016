package diagnose

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/resolver"
	"github.com/vantage-monitor/vantage/monitor/result"
)

const host = "shop.test"

// startDNS serves A records for host from 127.0.0.1 over UDP; an empty
// answer list makes it say NXDOMAIN. It returns "127.0.0.1:port".
func startDNS(t *testing.T, answers ...string) string {
	t.Helper()
	if len(answers) == 0 {
		return testkit.DNS{}.Start(t)
	}
	var ans testkit.DNSAnswer
	for _, a := range answers {
		ans.A = append(ans.A, netip.MustParseAddr(a))
	}
	return testkit.DNS{Names: map[string]testkit.DNSAnswer{host: ans}}.Start(t)
}

// listen returns a loopback TCP listener's port, accepting and closing.
func listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func newDiagnoser(t *testing.T, system string, extra ...string) *Diagnoser {
	t.Helper()
	d, err := New(Options{System: resolver.At(system), Resolvers: extra, LookupTimeout: 2 * time.Second, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func down(class result.Class) result.Result {
	return result.Result{Class: class}
}

func TestDNSAndConnect(t *testing.T) {
	port := listen(t)
	tests := []struct {
		name      string
		system    []string
		extra     [][]string
		port      string
		findings  []result.Finding
		connected []string // addresses that must connect
	}{
		{"all agree, port open", []string{"127.0.0.1"}, [][]string{{"127.0.0.1"}}, port, []result.Finding{}, []string{"127.0.0.1"}},
		{"overlapping answers are not a disagreement", []string{"127.0.0.1", "127.0.0.2"}, [][]string{{"127.0.0.1"}}, port, []result.Finding{}, []string{"127.0.0.1"}},
		{"different answer", []string{"127.0.0.1"}, [][]string{{"127.0.0.2"}}, port, []result.Finding{result.FindingDNSDisagreement}, []string{"127.0.0.1"}},
		{"one resolver has no answer", []string{"127.0.0.1"}, [][]string{{"127.0.0.1"}, {}}, port, []result.Finding{result.FindingDNSDisagreement}, []string{"127.0.0.1"}},
		{"nobody resolves it", []string{}, [][]string{{}}, port, []result.Finding{result.FindingDNSFailure}, nil},
		{"resolves but refuses", []string{"127.0.0.1"}, nil, closedPort(t), []result.Finding{result.FindingConnectFailed}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var extra []string
			for _, e := range tc.extra {
				extra = append(extra, startDNS(t, e...))
			}
			g := newDiagnoser(t, startDNS(t, tc.system...), extra...)
			spec := probe.Spec{URL: "http://" + host + ":" + tc.port + "/healthz"}
			d := g.Diagnose(context.Background(), down(result.ClassConnectionRefused), spec, nil)
			if !slices.Equal(d.Findings, tc.findings) {
				t.Fatalf("findings %v, want %v; markers:\n%s", d.Findings, tc.findings, strings.Join(d.Markers(), "\n"))
			}
			if len(d.Answers) != 1+len(tc.extra) || d.Answers[0].Resolver != SystemResolver {
				t.Fatalf("answers %+v", d.Answers)
			}
			if !slices.Equal(d.Answers[0].Addrs, tc.system) && len(tc.system) > 0 {
				t.Errorf("system answered %v, want %v", d.Answers[0].Addrs, tc.system)
			}
			var ok []string
			for _, c := range d.Connects {
				if c.OK {
					h, _, _ := net.SplitHostPort(c.Addr)
					ok = append(ok, h)
				} else if c.Error == "" {
					t.Errorf("failed connect to %s without an error", c.Addr)
				}
			}
			if !slices.Equal(ok, tc.connected) {
				t.Errorf("connected to %v, want %v", ok, tc.connected)
			}
			for _, f := range tc.findings {
				if !d.Has(f) {
					t.Errorf("Has(%s) is false", f)
				}
			}
		})
	}
}

func TestIPLiteralSkipsDNS(t *testing.T) {
	port := listen(t)
	g := newDiagnoser(t, startDNS(t))
	d := g.Diagnose(context.Background(), down(result.ClassTimeout), probe.Spec{URL: "http://127.0.0.1:" + port + "/"}, nil)
	if len(d.Answers) != 0 || len(d.Connects) != 1 || !d.Connects[0].OK || len(d.Findings) != 0 {
		t.Fatalf("diagnosis %+v", d)
	}
}

func TestPinnedAddressIsTried(t *testing.T) {
	port := listen(t)
	g := newDiagnoser(t, startDNS(t, "127.0.0.2"))
	spec := probe.Spec{URL: "http://" + host + ":" + port + "/", Resolve: []string{host + ":" + port + ":127.0.0.1"}}
	d := g.Diagnose(context.Background(), down(result.ClassTimeout), spec, nil)
	if len(d.Connects) != 2 || d.Connects[0].Addr != "127.0.0.1:"+port || !d.Connects[0].OK || d.Connects[1].OK {
		t.Fatalf("connects %+v", d.Connects)
	}
	if d.Has(result.FindingConnectFailed) {
		t.Error("connect-failed although the pinned address answers")
	}
}

func TestOrigin(t *testing.T) {
	var hits atomic.Int32
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer healthy.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer failing.Close()
	refused := "http://127.0.0.1:" + closedPort(t) + "/healthz"
	port := listen(t)

	tests := []struct {
		name    string
		class   result.Class
		origin  string
		finding result.Finding // "" means no origin finding
		probed  bool
	}{
		{"bad gateway, origin up", result.ClassBadGateway, healthy.URL, result.FindingGatewayPath, true},
		{"gateway timeout, origin up", result.ClassGatewayTimeout, healthy.URL, result.FindingGatewayPath, true},
		{"bad gateway, origin refuses", result.ClassBadGateway, refused, result.FindingUpstreamDown, true},
		{"unavailable, origin errs", result.ClassServiceUnavailable, failing.URL, result.FindingUpstreamError, true},
		{"not a gateway error", result.ClassConnectionRefused, healthy.URL, "", false},
		{"no origin configured", result.ClassBadGateway, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newDiagnoser(t, startDNS(t, "127.0.0.1"))
			var origin *probe.Spec
			if tc.origin != "" {
				origin = &probe.Spec{URL: tc.origin, Timeout: 2 * time.Second}
			}
			before := hits.Load()
			d := g.Diagnose(context.Background(), down(tc.class), probe.Spec{URL: "http://" + host + ":" + port + "/"}, origin)
			if (d.Origin != nil) != tc.probed {
				t.Fatalf("origin probed = %v, want %v", d.Origin != nil, tc.probed)
			}
			if tc.origin == healthy.URL && (hits.Load() > before) != tc.probed {
				t.Errorf("origin server hits went from %d to %d", before, hits.Load())
			}
			var want []result.Finding
			if tc.finding != "" {
				want = []result.Finding{tc.finding}
			}
			if !slices.Equal(d.Findings, want) && !(len(want) == 0 && len(d.Findings) == 0) {
				t.Fatalf("findings %v, want %v; markers:\n%s", d.Findings, want, strings.Join(d.Markers(), "\n"))
			}
		})
	}
}

func TestOriginTimeoutIsUpstreamDown(t *testing.T) {
	g, err := New(Options{System: resolver.At(startDNS(t, "127.0.0.1")),
		Probe: func(context.Context, probe.Spec) result.Result {
			return result.Result{Class: result.ClassConnectTimeout}
		}})
	if err != nil {
		t.Fatal(err)
	}
	d := g.Diagnose(context.Background(), down(result.ClassGatewayTimeout),
		probe.Spec{URL: "http://" + host + ":" + listen(t) + "/"}, &probe.Spec{URL: "http://origin.test/"})
	if !d.Has(result.FindingUpstreamDown) {
		t.Fatalf("findings %v", d.Findings)
	}
}

func TestApplyAndFindings(t *testing.T) {
	port := listen(t)
	origin := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer origin.Close()
	g := newDiagnoser(t, startDNS(t, "127.0.0.1"), startDNS(t, "127.0.0.2"))
	res := down(result.ClassBadGateway)
	res.Evidence.Markers = []string{`header "Server: nginx"`}
	d := g.Diagnose(context.Background(), res, probe.Spec{URL: "http://" + host + ":" + port + "/"}, &probe.Spec{URL: origin.URL})
	m := strings.Join(append(res.Evidence.Markers, d.Markers()...), "\n")
	for _, want := range []string{
		`header "Server: nginx"`,
		"diagnosis: resolver system answered 127.0.0.1",
		"diagnosis: resolver 127.0.0.1:",
		"diagnosis: tcp 127.0.0.1:" + port + " connected",
		"diagnosis: origin " + origin.URL + ": up (200)",
		"finding: dns-disagreement: resolver system answered 127.0.0.1 but",
		"finding: gateway-path: the gateway says bad gateway but the origin",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("markers lack %q:\n%s", want, m)
		}
	}
	if got := d.Findings; !slices.Equal(got, []result.Finding{result.FindingDNSDisagreement, result.FindingGatewayPath}) {
		t.Errorf("Findings = %v", got)
	}
}

func TestNeeded(t *testing.T) {
	tests := []struct {
		r    result.Outcome
		want bool
	}{
		{result.Outcome{Scope: result.ScopeEveryone}, true},
		{result.Outcome{Scope: result.ScopePartial}, true},
		{result.Outcome{Scope: result.ScopeJustMe}, false},
		{result.Outcome{Scope: result.ScopeUnknown}, false},
		{result.Outcome{Result: result.Result{OK: true}}, false},
		{result.Outcome{}, false},
	}
	for _, tc := range tests {
		if got := Needed(&tc.r); got != tc.want {
			t.Errorf("Needed(scope %q ok %v) = %v", tc.r.Scope, tc.r.OK, got)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, r := range []string{"nonsense", "9.9.9.9", "dns.example:53"} {
		if _, err := New(Options{Resolvers: []string{r}}); err == nil {
			t.Errorf("resolver %q accepted", r)
		}
	}
	g := newDiagnoser(t, startDNS(t))
	d := g.Diagnose(context.Background(), down(result.ClassTimeout), probe.Spec{URL: "::not a url"}, nil)
	if len(d.Findings) != 0 || len(d.Markers()) != 1 || !strings.Contains(d.Markers()[0], "cannot diagnose") {
		t.Fatalf("diagnosis of a bad URL: %+v", d)
	}
}

// Each resolver's failed answer names its own server, in the answer's error
// and so in the markers, not the host's resolv.conf nameserver.
func TestFailedAnswersNameTheirServer(t *testing.T) {
	system, extra := startDNS(t), startDNS(t)
	mute := testkit.DNS{Silent: true}.Start(t)
	g, err := New(Options{System: resolver.At(system), Resolvers: []string{extra, mute}, LookupTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d := g.Diagnose(t.Context(), down(result.ClassDNSError), probe.Spec{URL: "http://" + host + "/"}, nil)
	want := map[string]string{SystemResolver: system, extra: extra, mute: mute}
	if len(d.Answers) != len(want) {
		t.Fatalf("answers %+v, want one of each resolver", d.Answers)
	}
	for _, a := range d.Answers {
		if !strings.Contains(a.Error, " on "+want[a.Resolver]+":") {
			t.Errorf("resolver %s: error %q does not name %s", a.Resolver, a.Error, want[a.Resolver])
		}
	}
	if !slices.ContainsFunc(d.Markers(), func(m string) bool { return strings.Contains(m, " on "+mute+":") }) {
		t.Errorf("markers %q do not name the resolver that timed out, %s", d.Markers(), mute)
	}
}
