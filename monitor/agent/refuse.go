package agent

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Prefixes that RefusePrivate names beyond what netip.Addr classifies.
var (
	cgnat       = netip.MustParsePrefix("100.64.0.0/10")  // RFC 6598 shared address space
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")      // RFC 1122 "this network"
	reserved4   = netip.MustParsePrefix("240.0.0.0/4")    // RFC 1112 reserved, incl. broadcast
	ietf4       = netip.MustParsePrefix("192.0.0.0/24")   // RFC 6890 protocol assignments
	benchmark4  = netip.MustParsePrefix("198.18.0.0/15")  // RFC 2544 benchmarking
	nat64       = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052: embeds an IPv4 address
	nat64Local  = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215 local-use NAT64
	siteLocal   = netip.MustParsePrefix("fec0::/10")      // deprecated, still routed privately
	v4compat    = netip.MustParsePrefix("::/96")          // deprecated IPv4-compatible IPv6
)

// privateReason says why addr is not a public destination, or "" when it
// is one. IPv4-mapped, IPv4-compatible and NAT64 forms are judged by the
// IPv4 address they carry, so "::ffff:127.0.0.1" is loopback.
func privateReason(addr netip.Addr) string {
	addr = addr.WithZone("")
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	if addr.Is6() && (nat64.Contains(addr) || (v4compat.Contains(addr) && !addr.IsUnspecified() && !addr.IsLoopback())) {
		b := addr.As16()
		if r := privateReason(netip.AddrFrom4([4]byte(b[12:]))); r != "" {
			return r
		}
		if v4compat.Contains(addr) {
			return "IPv4-compatible IPv6"
		}
	}
	switch {
	case !addr.IsValid():
		return "invalid"
	case addr.IsUnspecified():
		return "unspecified"
	case addr.IsLoopback():
		return "loopback"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case addr.IsMulticast():
		return "multicast"
	case addr.IsPrivate():
		return "private"
	case addr.Is4() && cgnat.Contains(addr):
		return "shared (CGNAT)"
	case addr.Is4() && (thisNetwork.Contains(addr) || reserved4.Contains(addr) || ietf4.Contains(addr) || benchmark4.Contains(addr)):
		return "reserved"
	case addr.Is6() && (nat64Local.Contains(addr) || siteLocal.Contains(addr)):
		return "private"
	}
	return ""
}

// PolicyRefusePrivate names the setting behind the agent's refusals, in
// result.Refusal.Policy.
const PolicyRefusePrivate = "refuse_private"

// RefusePrivate is a probe.Prober DialControl that refuses every
// destination that is not a public unicast address: loopback, private
// (RFC 1918, ULA fc00::/7), link-local, unspecified, multicast, CGNAT
// 100.64/10, reserved ranges, and IPv4-mapped or NAT64 forms of these.
// It runs on the resolved address of every connection the probe opens,
// redirects included, so neither DNS rebinding nor a redirect to an
// internal name gets past it. A refusal is a *probe.RefusedError, so the
// result says it was refused rather than unreachable.
func RefusePrivate(network, address string, _ syscall.RawConn) error {
	return (&refuser{private: privateReason}).check(address)
}

// refuser is the agent's refuse_private policy at dial time: the
// destination must be a public address and none of the agent host's own,
// so that a redirect to the host's public address cannot reach services
// that listen on it for the host alone.
type refuser struct {
	// private says why an address is not public ("" when it is); tests
	// relax it, since on loopback everything is private.
	private func(netip.Addr) string
	// ownAddrs lists the host's interface addresses at the moment of the
	// dial, since they change (DHCP, a VPN coming up); nil means none are
	// checked.
	ownAddrs func() ([]net.Addr, error)
}

func newRefuser() *refuser {
	return &refuser{private: privateReason, ownAddrs: net.InterfaceAddrs}
}

func (p *refuser) control(_, address string, _ syscall.RawConn) error {
	return p.check(address)
}

func (p *refuser) check(address string) error {
	refuse := func(dest, reason string) error {
		return &probe.RefusedError{Refusal: result.Refusal{Policy: PolicyRefusePrivate, Destination: dest, Reason: reason}}
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return refuse(address, "not an address this agent can check")
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return refuse(host, "not an IP address")
	}
	if r := p.private(addr); r != "" {
		return refuse(host, r+" addresses are not allowed on this agent")
	}
	if p.ownAddrs == nil {
		return nil
	}
	own, err := p.ownAddrs()
	if err != nil {
		// Without the list the destination may be this host: refuse, as
		// for any destination the policy cannot clear.
		return refuse(host, fmt.Sprintf("listing this host's addresses to compare with: %v", err))
	}
	addr = addr.WithZone("").Unmap()
	for _, a := range own {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		if o, ok := netip.AddrFromSlice(ip); ok && o.Unmap() == addr {
			return refuse(host, "it is an address of this agent's own host")
		}
	}
	return nil
}
