package demo

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a tiny authoritative DNS server on loopback UDP. It answers
// A queries for the names in hosts, empty answers for their other types,
// and NXDOMAIN for everything else; with servfail set it answers SERVFAIL
// to every query, as a broken recursive resolver does. The demo points
// every resolver at one of these so that nothing ever asks the host's DNS.
type dnsServer struct {
	conn     net.PacketConn
	hosts    map[string]netip.Addr // lower-case, fully qualified (trailing dot)
	servfail bool
	wg       sync.WaitGroup
}

func startDNS(hosts map[string]netip.Addr, servfail bool) (*dnsServer, error) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &dnsServer{conn: conn, hosts: make(map[string]netip.Addr, len(hosts)), servfail: servfail}
	for name, a := range hosts {
		s.hosts[strings.ToLower(strings.TrimSuffix(name, "."))+"."] = a
	}
	s.wg.Go(s.serve)
	return s, nil
}

// Addr is the server's "ip:port".
func (s *dnsServer) Addr() string { return s.conn.LocalAddr().String() }

func (s *dnsServer) Close() error {
	err := s.conn.Close()
	s.wg.Wait()
	return err
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if out, ok := s.answer(buf[:n]); ok {
			_, _ = s.conn.WriteTo(out, from)
		}
	}
}

// answer builds the reply to one query; false drops a packet that is not a
// query we can parse.
func (s *dnsServer) answer(q []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil || h.Response {
		return nil, false
	}
	question, err := p.Question()
	if err != nil {
		return nil, false
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	addr, known := s.hosts[strings.ToLower(question.Name.String())]
	switch {
	case s.servfail:
		rh.RCode = dnsmessage.RCodeServerFailure
		rh.Authoritative = false
	case !known:
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, false
	}
	if err := b.Question(question); err != nil {
		return nil, false
	}
	if rh.RCode == dnsmessage.RCodeSuccess && question.Type == dnsmessage.TypeA && addr.Is4() {
		if err := b.StartAnswers(); err != nil {
			return nil, false
		}
		rr := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 5}
		if err := b.AResource(rr, dnsmessage.AResource{A: addr.As4()}); err != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	return out, err == nil
}
