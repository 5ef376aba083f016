package demo

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/resolver"
)

func TestDNSServer(t *testing.T) {
	good, err := startDNS(map[string]netip.Addr{"canary.demo.test": netip.MustParseAddr("127.0.0.1")}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	broken, err := startDNS(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer broken.Close()
	for _, c := range []struct {
		name   string
		server *dnsServer
		host   string
		want   string // an address, or "nxdomain" / "servfail"
	}{
		{"known name", good, "canary.demo.test", "127.0.0.1"},
		{"known name, any case", good, "Canary.Demo.Test", "127.0.0.1"},
		{"unknown name", good, "docs.demo.invalid", "nxdomain"},
		{"broken resolver", broken, "canary.demo.test", "servfail"},
	} {
		t.Run(c.name, func(t *testing.T) {
			addrs, err := resolver.At(c.server.Addr()).LookupNetIP(t.Context(), "ip4", c.host)
			var de *net.DNSError
			switch {
			case err == nil:
				if len(addrs) != 1 || addrs[0].String() != c.want {
					t.Errorf("got %v, want %s", addrs, c.want)
				}
			case !errors.As(err, &de):
				t.Errorf("error %v is not a *net.DNSError", err)
			case c.want == "nxdomain" && !de.IsNotFound, c.want == "servfail" && (de.IsNotFound || de.IsTimeout), c.want != "nxdomain" && c.want != "servfail":
				t.Errorf("error %v (not found %v, timeout %v), want %s", err, de.IsNotFound, de.IsTimeout, c.want)
			}
		})
	}
}

func TestRefusedPort(t *testing.T) {
	addr, c, err := refusedPort()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := net.Dial("tcp", addr)
	if err == nil {
		conn.Close()
		t.Fatalf("dial %s connected; want connection refused", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s: %v, want connection refused", addr, err)
	}
	// The port stays taken while reserved: nothing else can listen on it.
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Errorf("listening on the reserved %s worked", addr)
	}
}
