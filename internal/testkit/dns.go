package testkit

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS is a DNS server for a test, on loopback UDP: it answers an A query
// for a name in Hosts with its address, an empty answer to its other
// types, and NXDOMAIN for any other name. RCode, when not success, is the
// answer to every query for a name not in Names (SERVFAIL, REFUSED, ...);
// Silent never answers such a query, as a resolver that times out.
type DNS struct {
	Hosts  map[string]netip.Addr // names without the trailing dot
	RCode  dnsmessage.RCode
	Silent bool

	// Names answers each of its names its own way, before Hosts, RCode
	// and Silent are looked at: several addresses, none, an error, or
	// silence, from one server.
	Names map[string]DNSAnswer
	// Queries, when set, counts the queries the server reads, answered
	// or not.
	Queries *atomic.Int64
}

// DNSAnswer is how DNS answers one name: with RCode when it is not
// success, else with A for an A query (none: NOERROR without an answer)
// and an empty answer to other types; Silent, not at all.
type DNSAnswer struct {
	A      []netip.Addr
	RCode  dnsmessage.RCode
	Silent bool
}

// Start runs the server until the test ends and returns its "ip:port".
func (d DNS) Start(t testing.TB) string {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting a test DNS server: %v", err)
	}
	names := make(map[string]DNSAnswer, len(d.Hosts)+len(d.Names))
	other := DNSAnswer{RCode: d.RCode, Silent: d.Silent}
	for name, a := range d.Hosts {
		ans := other
		if d.RCode == dnsmessage.RCodeSuccess {
			ans.A = []netip.Addr{a}
		}
		names[fqdn(name)] = ans
	}
	for name, ans := range d.Names {
		names[fqdn(name)] = ans
	}
	if other.RCode == dnsmessage.RCodeSuccess {
		other.RCode = dnsmessage.RCodeNameError
	}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if d.Queries != nil {
				d.Queries.Add(1)
			}
			if out, ok := answer(buf[:n], names, other); ok {
				_, _ = conn.WriteTo(out, from)
			}
		}
	}()
	return conn.LocalAddr().String()
}

func fqdn(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, ".")) + "."
}

// answer is the reply to query, and false for none: a query it cannot
// parse, or a name answered with silence.
func answer(query []byte, names map[string]DNSAnswer, other DNSAnswer) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	ans, known := names[strings.ToLower(q.Name.String())]
	if !known {
		ans = other
	}
	if ans.Silent {
		return nil, false
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: ans.RCode}
	b := dnsmessage.NewBuilder(nil, rh)
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	if rh.RCode == dnsmessage.RCodeSuccess && q.Type == dnsmessage.TypeA {
		for _, a := range ans.A {
			if !a.Is4() {
				continue
			}
			rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}
			if b.AResource(rr, dnsmessage.AResource{A: a.As4()}) != nil {
				return nil, false
			}
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

// Resolver is a Go resolver whose DNS queries go only to addr, a server
// DNS.Start returned; /etc/hosts still answers first.
func Resolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}
