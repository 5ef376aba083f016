package testkit_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/vantage-monitor/vantage/internal/testkit"
)

// lookup asks the server at addr for host's IPv4 addresses.
func lookup(addr, host string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	ips, err := testkit.Resolver(addr).LookupNetIP(ctx, "ip4", host)
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	slices.Sort(got)
	return got, err
}

func TestDNSAnswersEachNameAsTold(t *testing.T) {
	var queries atomic.Int64
	addr := testkit.DNS{
		Hosts: map[string]netip.Addr{"one.test": netip.MustParseAddr("127.0.0.7")},
		Names: map[string]testkit.DNSAnswer{
			"two.test.":  {A: []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")}},
			"empty.test": {},
			"fail.test":  {RCode: dnsmessage.RCodeServerFailure},
			"hang.test":  {Silent: true},
		},
		Queries: &queries,
	}.Start(t)
	for _, tc := range []struct {
		host string
		want []string
		err  func(*net.DNSError) bool
	}{
		{"one.test", []string{"127.0.0.7"}, nil},
		{"TWO.test", []string{"127.0.0.1", "127.0.0.2"}, nil},
		{"empty.test", nil, func(e *net.DNSError) bool { return !e.IsTimeout }}, // Go reads NOERROR without an answer as not found
		{"nx.test", nil, func(e *net.DNSError) bool { return e.IsNotFound }},
		{"fail.test", nil, func(e *net.DNSError) bool { return !e.IsNotFound && !e.IsTimeout }},
		{"hang.test", nil, func(e *net.DNSError) bool { return e.IsTimeout }},
	} {
		got, err := lookup(addr, tc.host)
		var de *net.DNSError
		switch {
		case tc.err == nil && (err != nil || !slices.Equal(got, tc.want)):
			t.Errorf("%s: %v, %v; want %v", tc.host, got, err, tc.want)
		case tc.err != nil && (!errors.As(err, &de) || !tc.err(de)):
			t.Errorf("%s: %v, %#v; want the other error", tc.host, got, err)
		}
	}
	if queries.Load() == 0 {
		t.Error("no query counted")
	}
}

func TestDNSRCodeAndSilenceSpareNames(t *testing.T) {
	names := map[string]testkit.DNSAnswer{"ok.test": {A: []netip.Addr{netip.MustParseAddr("127.0.0.9")}}}
	refused := testkit.DNS{RCode: dnsmessage.RCodeRefused, Names: names, Hosts: map[string]netip.Addr{"h.test": netip.MustParseAddr("127.0.0.1")}}.Start(t)
	silent := testkit.DNS{Silent: true, Names: names}.Start(t)
	for _, addr := range []string{refused, silent} {
		if got, err := lookup(addr, "ok.test"); err != nil || !slices.Equal(got, []string{"127.0.0.9"}) {
			t.Errorf("ok.test: %v, %v", got, err)
		}
	}
	var de *net.DNSError
	if _, err := lookup(refused, "h.test"); !errors.As(err, &de) || de.IsNotFound || de.IsTimeout {
		t.Errorf("h.test with RCode REFUSED: %v", err)
	}
	if _, err := lookup(silent, "other.test"); !errors.As(err, &de) || !de.IsTimeout {
		t.Errorf("other.test of a silent server: %v", err)
	}
}
