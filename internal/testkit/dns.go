package testkit

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS is a DNS server for a test, on loopback UDP: it answers an A query
// for a name in Hosts with its address, an empty answer to its other
// types, and NXDOMAIN for any other name. RCode, when not success, is the
// answer to every query (SERVFAIL, REFUSED, ...); Silent never answers, as
// a resolver that times out.
type DNS struct {
	Hosts  map[string]netip.Addr // names without the trailing dot
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
	hosts := make(map[string]netip.Addr, len(d.Hosts))
	for name, a := range d.Hosts {
		hosts[strings.ToLower(strings.TrimSuffix(name, "."))+"."] = a
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
			if d.Silent {
				continue
			}
			if out, ok := d.answer(buf[:n], hosts); ok {
				_, _ = conn.WriteTo(out, from)
			}
		}
	}()
	return conn.LocalAddr().String()
}

func (d DNS) answer(query []byte, hosts map[string]netip.Addr) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	addr, known := hosts[strings.ToLower(q.Name.String())]
	rh := dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: d.RCode}
	if !known && d.RCode == dnsmessage.RCodeSuccess {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	if b.StartQuestions() != nil || b.Question(q) != nil {
		return nil, false
	}
	if rh.RCode == dnsmessage.RCodeSuccess && q.Type == dnsmessage.TypeA && addr.Is4() {
		rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5}
		if b.StartAnswers() != nil || b.AResource(rr, dnsmessage.AResource{A: addr.As4()}) != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	return out, err == nil
}
