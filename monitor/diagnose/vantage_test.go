package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/resolver"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// resolveErr stands for agent.ResolveError: a vantage's resolver failing.
type resolveErr struct{ kind string }

func (e resolveErr) Error() string   { return "the agent's resolver: " + e.kind }
func (e resolveErr) DNSKind() string { return e.kind }

// answers returns a vantage Lookup that gives addrs.
func answers(addrs ...string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, h string) ([]netip.Addr, error) {
		if h != host {
			return nil, fmt.Errorf("asked for %q", h)
		}
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

// fails returns a vantage Lookup that fails with err.
func fails(err error) func(context.Context, string) ([]netip.Addr, error) {
	return func(context.Context, string) ([]netip.Addr, error) { return nil, err }
}

var errAgentDown = fmt.Errorf("agent unreachable: asking http://fra1.test:9208: %w", errors.New("dial tcp: connection refused"))

func TestVantageResolvers(t *testing.T) {
	port := listen(t)
	type v = VantageResolver
	tests := []struct {
		name     string
		system   []string
		extra    [][]string
		vantages []VantageResolver
		findings []result.Finding
		markers  []string // each must be among the markers
		tried    []string // addresses the TCP step must have tried
	}{
		{
			name:     "all agree",
			system:   []string{"127.0.0.1"},
			vantages: []v{{"fra1", answers("127.0.0.1")}, {"sfo", answers("127.0.0.1", "127.0.0.2")}},
			findings: []result.Finding{},
			markers:  []string{"diagnosis: resolver fra1 answered 127.0.0.1", "diagnosis: resolver sfo answered 127.0.0.1, 127.0.0.2"},
			tried:    []string{"127.0.0.1", "127.0.0.2"},
		},
		{
			name:     "one vantage disagrees",
			system:   []string{"127.0.0.1"},
			extra:    [][]string{{"127.0.0.1"}},
			vantages: []v{{"fra1", answers("127.0.0.3")}, {"sfo", answers("127.0.0.1")}},
			findings: []result.Finding{result.FindingDNSDisagreement},
			markers:  []string{"finding: dns-disagreement: resolver fra1 answered 127.0.0.3 for shop.test (others: 127.0.0.1)"},
			// What only fra1 sees is tried from here too.
			tried: []string{"127.0.0.1", "127.0.0.3"},
		},
		{
			name:     "a vantage alone against the system",
			system:   []string{"127.0.0.1"},
			vantages: []v{{"fra1", answers("127.0.0.3")}},
			findings: []result.Finding{result.FindingDNSDisagreement},
			markers:  []string{"finding: dns-disagreement: resolver system answered 127.0.0.1 but fra1 answered 127.0.0.3 for shop.test"},
		},
		{
			name:     "one vantage NXDOMAIN",
			system:   []string{"127.0.0.1"},
			vantages: []v{{"fra1", fails(resolveErr{"nxdomain"})}, {"sfo", answers("127.0.0.1")}},
			findings: []result.Finding{result.FindingDNSDisagreement},
			markers: []string{
				"diagnosis: resolver fra1: nxdomain (looking up shop.test: the agent's resolver: nxdomain)",
				"finding: dns-disagreement: fra1 (nxdomain) gave no address for shop.test while system, sfo did",
			},
		},
		{
			name:     "a vantage's net.DNSError is an answer",
			system:   []string{"127.0.0.1"},
			vantages: []v{{"fra1", fails(&net.DNSError{Err: "no such host", Name: host, IsNotFound: true})}},
			findings: []result.Finding{result.FindingDNSDisagreement},
			markers:  []string{"diagnosis: resolver fra1: nxdomain"},
		},
		{
			name:     "a vantage answers nothing",
			system:   []string{"127.0.0.1"},
			vantages: []v{{"fra1", answers()}},
			findings: []result.Finding{result.FindingDNSDisagreement},
			markers:  []string{"diagnosis: resolver fra1: nodata"},
		},
		{
			name:     "all fail",
			system:   []string{},
			vantages: []v{{"fra1", fails(resolveErr{"servfail"})}, {"sfo", fails(resolveErr{"timeout"})}},
			findings: []result.Finding{result.FindingDNSFailure},
			markers:  []string{"finding: dns-failure: no resolver gave an address for shop.test (system: nxdomain, fra1: servfail, sfo: timeout)"},
		},
		{
			name:     "vantage unreachable is not a disagreement",
			system:   []string{"127.0.0.1"},
			vantages: []v{{"fra1", fails(errAgentDown)}, {"sfo", answers("127.0.0.1")}},
			findings: []result.Finding{},
			markers:  []string{"diagnosis: resolver fra1: unreachable, left out of the comparison (looking up shop.test: agent unreachable"},
		},
		{
			name:     "unreachable vantage, nobody else resolves",
			system:   []string{},
			vantages: []v{{"fra1", fails(errAgentDown)}},
			findings: []result.Finding{result.FindingDNSFailure},
			markers:  []string{"finding: dns-failure: no resolver gave an address for shop.test (system: nxdomain)"},
		},
		{
			name:     "unreachable vantage, another disagrees",
			system:   []string{"127.0.0.1"},
			vantages: []v{{"fra1", fails(errAgentDown)}, {"sfo", fails(resolveErr{"refused"})}},
			findings: []result.Finding{result.FindingDNSDisagreement},
			markers:  []string{"finding: dns-disagreement: sfo (refused) gave no address for shop.test while system did"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var extra []string
			for _, e := range tc.extra {
				extra = append(extra, startDNS(t, e...))
			}
			g, err := New(Options{System: resolver.At(startDNS(t, tc.system...)), Resolvers: extra, Vantages: tc.vantages,
				LookupTimeout: 2 * time.Second, ConnectTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			d := g.Diagnose(context.Background(), down(result.ClassConnectionRefused), probe.Spec{URL: "http://" + host + ":" + port + "/"}, nil)
			markers := d.Markers()
			if !slices.Equal(d.Findings, tc.findings) {
				t.Fatalf("findings %v, want %v; markers:\n%s", d.Findings, tc.findings, strings.Join(markers, "\n"))
			}
			if len(d.Answers) != 1+len(tc.extra)+len(tc.vantages) {
				t.Fatalf("%d answers, want one per resolver: %+v", len(d.Answers), d.Answers)
			}
			for i, vr := range tc.vantages {
				if got := d.Answers[1+len(tc.extra)+i].Resolver; got != vr.Name {
					t.Errorf("answer %d is from %s, want %s", 1+len(tc.extra)+i, got, vr.Name)
				}
			}
			for _, want := range tc.markers {
				if !slices.ContainsFunc(markers, func(m string) bool { return strings.HasPrefix(m, want) }) {
					t.Errorf("no marker starts with %q:\n%s", want, strings.Join(markers, "\n"))
				}
			}
			var tried []string
			for _, c := range d.Connects {
				h, _, _ := net.SplitHostPort(c.Addr)
				tried = append(tried, h)
			}
			slices.Sort(tried)
			if tc.tried != nil && !slices.Equal(tried, tc.tried) {
				t.Errorf("tried %v, want %v", tried, tc.tried)
			}
			for _, f := range d.Findings {
				if !slices.ContainsFunc(markers, func(m string) bool { return strings.HasPrefix(m, result.FindingPrefix+string(f)+": ") }) {
					t.Errorf("no marker gives finding %s:\n%s", f, strings.Join(markers, "\n"))
				}
			}
		})
	}
}

func TestVantageLookupIsBoundedAndFiltered(t *testing.T) {
	var left time.Duration
	var asked string
	lookup := func(ctx context.Context, h string) ([]netip.Addr, error) {
		asked = h
		dl, ok := ctx.Deadline()
		if ok {
			left = time.Until(dl)
		}
		return []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("::ffff:127.0.0.1")}, nil
	}
	g, err := New(Options{System: resolver.At(startDNS(t, "127.0.0.1")), LookupTimeout: time.Second,
		Vantages: []VantageResolver{{"fra1", lookup}}})
	if err != nil {
		t.Fatal(err)
	}
	d := g.Diagnose(context.Background(), down(result.ClassTimeout), probe.Spec{URL: "http://" + host + ":" + listen(t) + "/", IPVersion: 4}, nil)
	if asked != host {
		t.Errorf("the vantage was asked for %q", asked)
	}
	if left <= 0 || left > time.Second+vantageSlack {
		t.Errorf("the vantage's lookup had %s, want a deadline within LookupTimeout plus %s", left, vantageSlack)
	}
	if a := d.Answers[1]; !slices.Equal(a.Addrs, []string{"127.0.0.1"}) {
		t.Errorf("IPv4 check: fra1 answered %v, want only its IPv4 address, unmapped", a.Addrs)
	}
	if len(d.Findings) != 0 {
		t.Errorf("findings %v", d.Findings)
	}
}

func TestVantageAddressesKeepTheConnectBound(t *testing.T) {
	port := closedPort(t)
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf("127.0.1.%d", i+1))
	}
	g, err := New(Options{System: resolver.At(startDNS(t, "127.0.0.1")), ConnectTimeout: time.Second,
		Vantages: []VantageResolver{{"fra1", answers(append([]string{"127.0.0.1"}, many...)...)}}})
	if err != nil {
		t.Fatal(err)
	}
	d := g.Diagnose(context.Background(), down(result.ClassTimeout), probe.Spec{URL: "http://" + host + ":" + port + "/"}, nil)
	if len(d.Connects) != maxConnects {
		t.Fatalf("%d connects, want %d", len(d.Connects), maxConnects)
	}
	if d.Connects[0].Addr != "127.0.0.1:"+port {
		t.Errorf("first connect to %s, want the system resolver's address first", d.Connects[0].Addr)
	}
}

func TestVantageOptionsErrors(t *testing.T) {
	ok := answers("127.0.0.1")
	tests := []struct {
		name string
		v    []VantageResolver
		want string
	}{
		{"no name", []VantageResolver{{"", ok}}, "no name"},
		{"no lookup", []VantageResolver{{"fra1", nil}}, "no Lookup"},
		{"named like the system resolver", []VantageResolver{{SystemResolver, ok}}, "name of another resolver"},
		{"twice", []VantageResolver{{"fra1", ok}, {"fra1", ok}}, "name of another resolver"},
	}
	for _, tc := range tests {
		if _, err := New(Options{Vantages: tc.v}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestWithAgentClients wires real agent clients as the daemon does: an
// agent whose resolver says NXDOMAIN is a disagreement, an agent that is
// not there is left out.
func TestWithAgentClients(t *testing.T) {
	key := []byte(strings.Repeat("k", agent.MinKeyBytes))
	srv, err := agent.NewServer(agent.Options{Keys: [][]byte{key}, Resolver: resolver.At(startDNS(t))})
	if err != nil {
		t.Fatal(err)
	}
	fra1 := httptest.NewServer(srv)
	t.Cleanup(fra1.Close)
	fraClient := &agent.Client{URL: fra1.URL, Key: key}
	sfoClient := &agent.Client{URL: "http://127.0.0.1:" + closedPort(t), Key: key}
	g, err := New(Options{System: resolver.At(startDNS(t, "127.0.0.1")), LookupTimeout: time.Second,
		Vantages: []VantageResolver{{"fra1", fraClient.Resolve}, {"sfo", sfoClient.Resolve}}})
	if err != nil {
		t.Fatal(err)
	}
	d := g.Diagnose(context.Background(), down(result.ClassTimeout), probe.Spec{URL: "http://" + host + ":" + listen(t) + "/"}, nil)
	m := strings.Join(d.Markers(), "\n")
	t.Log(m)
	if !slices.Equal(d.Findings, []result.Finding{result.FindingDNSDisagreement}) {
		t.Fatalf("findings %v; markers:\n%s", d.Findings, m)
	}
	for _, want := range []string{
		"diagnosis: resolver fra1: nxdomain (",
		"diagnosis: resolver sfo: unreachable, left out of the comparison (",
		"finding: dns-disagreement: fra1 (nxdomain) gave no address for shop.test while system did",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("markers lack %q:\n%s", want, m)
		}
	}
}
