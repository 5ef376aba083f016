package daemon

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/resolver"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// nginxBadGateway is a loopback nginx that cannot reach its upstream.
func nginxBadGateway(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Server", "nginx/1.25.3")
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// openedIncident runs rounds of name until its incident opens and returns
// it as the store has it.
func (f *fixture) openedIncident(name string) incident.Incident {
	f.t.Helper()
	for range 2 { // confirm = 2
		f.round(name)
	}
	incs := f.incidents(name)
	if len(incs) != 1 || !incs[0].Open() {
		f.t.Fatalf("incidents %+v, want one open", incs)
	}
	if incs[0].Last == nil || incs[0].Last.Diagnosis == nil {
		f.t.Fatalf("the incident's round %+v has no diagnosis", incs[0].Last)
	}
	return incs[0]
}

// A monitor of a single host (no [[vantage]]) with an origin behind a
// failing gateway gets an incident whose diagnosis probed the origin.
func TestSingleHostIncidentIsDiagnosedWithItsOrigin(t *testing.T) {
	gw := nginxBadGateway(t)
	for _, tc := range []struct {
		name   string
		origin func(t *testing.T) string
		want   result.Finding
	}{
		{"origin down", func(t *testing.T) string {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln.Close() // nothing listens: the upstream is down
			return "http://" + ln.Addr().String() + "/"
		}, result.FindingUpstreamDown},
		{"origin fine", func(t *testing.T) string { return newTarget(t).URL }, result.FindingGatewayPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			origin := tc.origin(t)
			f := newFixture(t, monitorTOML("shop", gw.URL)+fmt.Sprintf("origin = %q\n", origin), nil)
			inc := f.openedIncident("shop")
			d := inc.Last.Diagnosis
			if inc.Class != result.ClassBadGateway || inc.Gateway != "nginx" {
				t.Errorf("incident class %s gateway %q, want bad_gateway from nginx", inc.Class, inc.Gateway)
			}
			if d.Origin == nil || d.Origin.URL != origin || !d.Has(tc.want) {
				t.Errorf("diagnosis %+v, want the origin %s probed and %s found", d, origin, tc.want)
			}
			if len(d.Connects) != 1 || !d.Connects[0].OK {
				t.Errorf("connects %+v, want the gateway's address accepting", d.Connects)
			}
		})
	}
}

// Without an origin, a single host's failing round still compares the
// resolvers (the host's and the configured ones) and tries the addresses.
func TestSingleHostIncidentIsDiagnosedWithoutOrigin(t *testing.T) {
	gw := nginxBadGateway(t)
	_, port, _ := net.SplitHostPort(gw.Listener.Addr().String())
	hosts := map[string]netip.Addr{"shop.test": netip.MustParseAddr("127.0.0.1")}
	system, extra := testkit.DNS{Hosts: hosts}.Start(t), testkit.DNS{Hosts: hosts}.Start(t)
	body := fmt.Sprintf("resolvers = [%q]\n", extra) + monitorTOML("shop", "http://shop.test:"+port+"/")
	f := newFixture(t, body, func(o *Options) {
		o.Resolver = resolver.At(system)
		o.Prober.(*probe.Prober).Resolver = resolver.At(system)
	})
	inc := f.openedIncident("shop")
	d := inc.Last.Diagnosis
	if d.Origin != nil || len(d.Findings) != 0 {
		t.Errorf("origin %+v findings %v, want none without an origin", d.Origin, d.Findings)
	}
	var asked []string
	for _, a := range d.Answers {
		asked = append(asked, a.Resolver)
		if !slices.Equal(a.Addrs, []string{"127.0.0.1"}) {
			t.Errorf("resolver %s answered %v (%s), want 127.0.0.1", a.Resolver, a.Addrs, a.Error)
		}
	}
	if !slices.Equal(asked, []string{"system", extra}) {
		t.Errorf("asked %v, want the host's resolver and %s", asked, extra)
	}
	if len(d.Connects) != 1 || d.Connects[0].Addr != "127.0.0.1:"+port || !d.Connects[0].OK {
		t.Errorf("connects %+v, want 127.0.0.1:%s accepting", d.Connects, port)
	}
}

// A passing round is not diagnosed.
func TestSingleHostPassingRoundIsNotDiagnosed(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL)+fmt.Sprintf("origin = %q\n", tg.URL), nil)
	f.round("web")
	m := f.d.lookup("web")
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil || !m.last.OK || m.last.Diagnosis != nil {
		t.Errorf("last round %+v, want a pass without a diagnosis", m.last)
	}
}

// A reload that changes the resolvers changes what a single host's
// diagnosis asks.
func TestReloadChangesTheSingleHostResolvers(t *testing.T) {
	gw := nginxBadGateway(t)
	_, port, _ := net.SplitHostPort(gw.Listener.Addr().String())
	hosts := map[string]netip.Addr{"shop.test": netip.MustParseAddr("127.0.0.1")}
	system, before, after := testkit.DNS{Hosts: hosts}.Start(t), testkit.DNS{Hosts: hosts}.Start(t), testkit.DNS{Hosts: hosts}.Start(t)
	mon := monitorTOML("shop", "http://shop.test:"+port+"/")
	f := newFixture(t, fmt.Sprintf("resolvers = [%q]\n", before)+mon, func(o *Options) {
		o.Resolver = resolver.At(system)
		o.Prober.(*probe.Prober).Resolver = resolver.At(system)
	})
	writeConfig(t, f.dir, fmt.Sprintf("resolvers = [%q]\n", after)+mon)
	if err := f.d.ReloadFile(t.Context(), f.file); err != nil {
		t.Fatal(err)
	}
	f.round("shop")
	m := f.d.lookup("shop")
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.last.Diagnosis
	if d == nil || len(d.Answers) != 2 || d.Answers[1].Resolver != after {
		t.Errorf("diagnosis %+v, want the host's resolver and %s, the reloaded config's", d, after)
	}
}
