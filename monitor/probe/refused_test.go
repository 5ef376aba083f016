package probe

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// refuse127002 refuses 127.0.0.2 by policy, as an agent's refuse_private
// refuses a private address.
func refuse127002(_, address string, _ syscall.RawConn) error {
	if host, _, _ := net.SplitHostPort(address); host == "127.0.0.2" {
		return &RefusedError{Refusal: result.Refusal{Policy: "test", Destination: host, Reason: "refused by the test"}}
	}
	return nil
}

// TestRefusalOnlyWhenEveryAddressRefused: a refused address is not the
// outcome of a probe that tried another address: a name whose addresses
// are one refused and one really down is down (a vote), and a refusal is
// reported only when every address was refused.
func TestRefusalOnlyWhenEveryAddressRefused(t *testing.T) {
	res := dnsServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()

	p := &Prober{Resolver: res, DialControl: refuse127002}
	r := p.Run(t.Context(), Spec{URL: "http://two.example.test:" + closedPort + "/"})
	check(t, r, result.ClassConnectionRefused, "")
	if r.Refusal != nil {
		t.Errorf("refusal %+v beside a real connection_refused", r.Refusal)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	if r := p.Run(t.Context(), Spec{URL: "http://two.example.test:" + port + "/"}); !r.OK || r.Refusal != nil {
		t.Errorf("one address refused, the other up: ok %v refusal %+v error %q", r.OK, r.Refusal, r.Error)
	}

	all := &Prober{Resolver: res, DialControl: func(n, a string, c syscall.RawConn) error {
		return refuse127002(n, strings.Replace(a, "127.0.0.1", "127.0.0.2", 1), c)
	}}
	r = all.Run(t.Context(), Spec{URL: "http://two.example.test:" + port + "/"})
	check(t, r, result.ClassNetworkUnreachable, "")
	if r.Refusal == nil || r.Refusal.Policy != "test" || !strings.Contains(r.Error, "refused by the test") {
		t.Errorf("every address refused: refusal %+v error %q", r.Refusal, r.Error)
	}
}
