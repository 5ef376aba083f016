package resolver

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/vantage-monitor/vantage/internal/testkit"
)

func TestFailedLookupNamesTheServerAsked(t *testing.T) {
	cases := []struct {
		name    string
		rcode   dnsmessage.RCode
		silent  bool
		timeout time.Duration
		want    func(*net.DNSError) bool
	}{
		{"servfail", dnsmessage.RCodeServerFailure, false, 3 * time.Second, func(e *net.DNSError) bool { return e.IsTemporary && !e.IsNotFound }},
		{"nxdomain", dnsmessage.RCodeNameError, false, 3 * time.Second, func(e *net.DNSError) bool { return e.IsNotFound }},
		{"timeout", 0, true, 300 * time.Millisecond, func(e *net.DNSError) bool { return e.IsTimeout }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := testkit.DNS{RCode: tc.rcode, Silent: tc.silent}.Start(t)
			ctx, cancel := context.WithTimeout(t.Context(), tc.timeout)
			defer cancel()
			_, err := LookupNetIP(ctx, At(addr), "ip4", "shop.example.test.")
			var de *net.DNSError
			if !errors.As(err, &de) {
				t.Fatalf("error %v (%T) is not a *net.DNSError", err, err)
			}
			if !tc.want(de) {
				t.Errorf("error %#v is not a %s", de, tc.name)
			}
			if de.Server != addr || Server(err) != addr {
				t.Errorf("error names server %q, want the one asked, %s", de.Server, addr)
			}
			if !strings.Contains(err.Error(), " on "+addr) {
				t.Errorf("error text %q does not name %s", err, addr)
			}
		})
	}
}

// A resolver whose Dial cannot connect names the address it tried.
func TestRefusedDialNamesTheServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}}
	_, err = LookupNetIP(t.Context(), r, "ip4", "shop.example.test.")
	if got := Server(err); got != addr {
		t.Errorf("error %v names server %q, want %s", err, got, addr)
	}
}

func TestLookupAnswers(t *testing.T) {
	addrs, err := LookupNetIP(t.Context(), nil, "ip", "localhost")
	if err != nil || len(addrs) == 0 {
		t.Fatalf("looking up localhost: %v %v", addrs, err)
	}
}
