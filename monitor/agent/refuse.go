package agent

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
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

// RefusePrivate is a probe.Prober DialControl that refuses every
// destination that is not a public unicast address: loopback, private
// (RFC 1918, ULA fc00::/7), link-local, unspecified, multicast, CGNAT
// 100.64/10, reserved ranges, and IPv4-mapped or NAT64 forms of these.
// It runs on the resolved address of every connection the probe opens,
// redirects included, so neither DNS rebinding nor a redirect to an
// internal name gets past it.
func RefusePrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("destination %q refused: not an address this agent can check", address)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("destination %q refused: not an IP address", host)
	}
	if r := privateReason(addr); r != "" {
		return fmt.Errorf("destination %s refused: %s addresses are not allowed on this agent", host, r)
	}
	return nil
}
