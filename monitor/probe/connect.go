package probe

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/vantage-monitor/vantage/monitor/resolver"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// connect resolves host (honouring pins and IPVersion) and dials port on
// the addresses in order. On failure it records the result.
func (x *exchange) connect(host, port string) (net.Conn, bool) {
	addrs, ok := x.addresses(host, port)
	if !ok {
		return nil, false
	}
	x.phase = phaseConnect
	network := "tcp"
	switch x.pl.spec.IPVersion {
	case 4:
		network = "tcp4"
	case 6:
		network = "tcp6"
	}
	d := net.Dialer{Control: x.p.DialControl}
	t0 := time.Now()
	defer func() { x.r.Phases.ConnectMs += ms(time.Since(t0)) }()
	var firstErr error
	for i, a := range addrs {
		ctx := x.ctx
		cancel := context.CancelFunc(func() {})
		if left := len(addrs) - i; left > 1 {
			// Like net.Dialer: share the time left so one black-holed
			// address does not use up the whole probe.
			part := time.Until(x.deadline) / time.Duration(left)
			if part < 2*time.Second {
				part = 2 * time.Second
			}
			ctx, cancel = context.WithTimeout(ctx, part)
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a, port))
		cancel()
		if err == nil {
			return c, true
		}
		// A refusal stands for the probe only when every address was
		// refused: a failure of an address that was tried is a vote.
		if firstErr == nil || (isRefusal(firstErr) && !isRefusal(err)) {
			firstErr = err
		}
		if x.ctx.Err() != nil {
			break
		}
	}
	x.netFail(firstErr)
	return nil, false
}

func isRefusal(err error) bool {
	var ref *RefusedError
	return errors.As(err, &ref)
}

// addresses returns the IPs to dial: a pin for host:port, the literal, or
// the resolver's answer.
func (x *exchange) addresses(host, port string) ([]string, bool) {
	ipv := x.pl.spec.IPVersion
	var lit string
	a, pinned := x.pl.pins[strings.ToLower(host)+":"+port]
	x.r.Pinned = pinned // the last hop dialled says, as RemoteAddr does
	if pinned {
		lit = a
	} else if _, err := netip.ParseAddr(host); err == nil {
		lit = host
	}
	if lit != "" {
		a, err := netip.ParseAddr(lit)
		if err == nil && ((ipv == 4 && !a.Unmap().Is4()) || (ipv == 6 && a.Unmap().Is4())) {
			x.fail(result.ClassNetworkUnreachable, result.DetailNetUnreachable, "connecting to %s: address %s is not IPv%d as ip_version requires", x.addr, lit, ipv)
			return nil, false
		}
		return []string{lit}, true
	}

	x.phase = phaseDNS
	network := "ip"
	switch ipv {
	case 4:
		network = "ip4"
	case 6:
		network = "ip6"
	}
	t0 := time.Now()
	ips, err := resolver.LookupNetIP(x.ctx, x.p.Resolver, network, host)
	x.r.Phases.DNSMs += ms(time.Since(t0))
	if err == nil && len(ips) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	if err != nil {
		x.dnsFail(host, err)
		return nil, false
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.Unmap().String()
	}
	return out, true
}

// dnsFail classifies a failed lookup.
//
// Go reports NXDOMAIN and an empty NOERROR answer alike (IsNotFound), and
// SERVFAIL as a generic "server misbehaving". To name the cause, the probe
// asks the same resolver the question again itself, through the Resolver's
// Dial when set (as Go's own resolver would reach it) or the nameservers of
// /etc/resolv.conf, and reads the rcode: NXDOMAIN → nxdomain, NOERROR →
// no-answer, anything else (SERVFAIL, REFUSED, ...) → servfail. If that
// follow-up gets no answer, the verdict falls back to what Go said:
// not-found → nxdomain, otherwise servfail.
func (x *exchange) dnsFail(host string, err error) {
	var de *net.DNSError
	isDNS := errors.As(err, &de)
	x.r.DNSServer = resolver.Server(err)
	if x.ctx.Err() != nil || (isDNS && de.IsTimeout) || errors.Is(err, context.DeadlineExceeded) {
		x.fail(result.ClassDNSError, result.DetailResolverTimeout, "looking up %s: the resolver did not answer in time (%v)", host, err)
		if x.r.DNSServer != "" {
			x.mark("DNS server %s did not answer for %s in time", x.r.DNSServer, host)
		}
		return
	}
	notFound := isDNS && de.IsNotFound
	qtype := dnsmessage.TypeA
	if x.pl.spec.IPVersion == 6 {
		qtype = dnsmessage.TypeAAAA
	}
	rcode, asked, qerr := x.queryRcode(host, qtype)
	if qerr == nil {
		// The server that answered the follow-up is the one to name.
		x.r.DNSServer = asked
		x.mark("DNS server %s answered %s for %s", asked, rcodeName(rcode), host)
	}
	detail := result.DetailServFail
	switch {
	case qerr != nil && notFound:
		detail = result.DetailNXDomain
	case qerr != nil:
	case rcode == dnsmessage.RCodeNameError:
		detail = result.DetailNXDomain
	case rcode == dnsmessage.RCodeSuccess && notFound:
		detail = result.DetailNoAnswer
	}
	what := map[string]string{
		result.DetailNXDomain: "the name does not exist (NXDOMAIN)",
		result.DetailNoAnswer: "the name exists but has no address records",
		result.DetailServFail: "the resolver failed to answer",
	}[detail]
	if qerr == nil && rcode != dnsmessage.RCodeSuccess && rcode != dnsmessage.RCodeNameError {
		what += " (" + strings.TrimPrefix(rcode.String(), "RCode") + ")"
	}
	x.fail(result.ClassDNSError, detail, "looking up %s: %s: %v", host, what, err)
}

// rcodeName is an rcode as dig prints it.
func rcodeName(rc dnsmessage.RCode) string {
	switch rc {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return strings.TrimPrefix(rc.String(), "RCode")
}

// queryRcode asks the probe's resolver about host directly and returns the
// response code and the server that gave it.
func (x *exchange) queryRcode(host string, qtype dnsmessage.Type) (dnsmessage.RCode, string, error) {
	name, err := dnsmessage.NewName(strings.TrimSuffix(host, ".") + ".")
	if err != nil {
		return 0, "", fmt.Errorf("building a DNS query for %q: %w", host, err)
	}
	var idb [2]byte
	rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name, Type: qtype, Class: dnsmessage.ClassINET}},
	}
	msg, err := q.Pack()
	if err != nil {
		return 0, "", fmt.Errorf("packing a DNS query: %w", err)
	}
	// The original lookup already used most of the budget when it failed
	// slowly; never let the follow-up run past the probe's deadline.
	ctx, cancel := context.WithTimeout(x.ctx, 2*time.Second)
	defer cancel()
	var lastErr error
	for _, ns := range nameservers() {
		rc, asked, err := exchangeDNS(ctx, x.p.Resolver, ns, msg, id)
		if err == nil {
			return rc, asked, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return 0, "", lastErr
}

// exchangeDNS sends msg to ns, or wherever res's Dial sends it instead,
// and returns the answer's rcode and the server that gave it.
func exchangeDNS(ctx context.Context, res *net.Resolver, ns string, msg []byte, id uint16) (dnsmessage.RCode, string, error) {
	var c net.Conn
	var err error
	if res != nil && res.Dial != nil {
		// The Dial may ignore ns: the error names where it went (the
		// *net.OpError's address), and so does everything below.
		c, err = res.Dial(ctx, "udp", ns)
		if err != nil {
			return 0, "", fmt.Errorf("dialing the resolver's DNS server: %w", err)
		}
		if a := c.RemoteAddr(); a != nil {
			ns = a.String()
		}
	} else {
		var d net.Dialer
		c, err = d.DialContext(ctx, "udp", ns)
		if err != nil {
			return 0, "", fmt.Errorf("dialing nameserver %s: %w", ns, err)
		}
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	_, packet := c.(net.PacketConn)
	if packet {
		_, err = c.Write(msg)
	} else {
		// DNS over a stream carries a two-byte length prefix (RFC 1035 4.2.2).
		framed := make([]byte, 2+len(msg))
		binary.BigEndian.PutUint16(framed, uint16(len(msg)))
		copy(framed[2:], msg)
		_, err = c.Write(framed)
	}
	if err != nil {
		return 0, "", fmt.Errorf("sending a DNS query to %s: %w", ns, err)
	}
	for {
		var resp []byte
		if packet {
			buf := make([]byte, 1232)
			n, err := c.Read(buf)
			if err != nil {
				return 0, "", fmt.Errorf("reading the DNS answer from %s: %w", ns, err)
			}
			resp = buf[:n]
		} else {
			var l [2]byte
			if _, err := io.ReadFull(c, l[:]); err != nil {
				return 0, "", fmt.Errorf("reading the DNS answer from %s: %w", ns, err)
			}
			resp = make([]byte, binary.BigEndian.Uint16(l[:]))
			if _, err := io.ReadFull(c, resp); err != nil {
				return 0, "", fmt.Errorf("reading the DNS answer from %s: %w", ns, err)
			}
		}
		var p dnsmessage.Parser
		h, err := p.Start(resp)
		if err != nil || h.ID != id || !h.Response {
			if !packet {
				return 0, "", fmt.Errorf("unusable DNS answer from %s", ns)
			}
			continue // a stray or forged datagram; wait for ours
		}
		return h.RCode, ns, nil
	}
}

// nameservers lists the resolv.conf nameservers as host:port, falling back
// to what Go's resolver uses when there are none.
func nameservers() []string {
	var out []string
	if f, err := os.Open("/etc/resolv.conf"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "nameserver" {
				if a, err := netip.ParseAddr(fields[1]); err == nil {
					out = append(out, net.JoinHostPort(a.String(), strconv.Itoa(53)))
				}
			}
		}
		f.Close()
	}
	if len(out) == 0 {
		out = []string{"127.0.0.1:53", "[::1]:53"}
	}
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

// mark adds a line of evidence to the result.
func (x *exchange) mark(format string, args ...any) {
	x.r.Evidence.Markers = append(x.r.Evidence.Markers, fmt.Sprintf(format, args...))
}
