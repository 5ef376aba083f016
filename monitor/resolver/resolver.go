// Package resolver builds the resolvers vantage asks besides the host's own
// (a configured DNS server, the demo's, an agent's) and looks names up with
// any resolver so that a failure names the DNS server actually asked. Go's
// resolver with a custom Dial still fills net.DNSError.Server from
// /etc/resolv.conf, which the Dial ignores: left alone, every error, the
// evidence and the fixes built from it would blame the wrong server.
package resolver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
)

// At returns a resolver that asks only the DNS server at addr ("ip:port"),
// bypassing the host's configured servers. Look names up with LookupNetIP,
// so that a failure names addr.
func At(addr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// LookupNetIP is r.LookupNetIP (net.DefaultResolver's when r is nil), except
// that when r has a Dial of its own, a *net.DNSError it returns names as
// Server the address that Dial actually connected to (the last one, when it
// dialled several), or nothing when that is not known, never a resolv.conf
// server the Dial did not use.
func LookupNetIP(ctx context.Context, r *net.Resolver, network, host string) ([]netip.Addr, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	if r.Dial == nil {
		// Go dialled the server it names.
		return r.LookupNetIP(ctx, network, host)
	}
	// A resolver of this lookup's own, so that what its Dial records is
	// this lookup's and no other lookup shares the error it returns.
	rec := &dialled{dial: r.Dial}
	own := &net.Resolver{PreferGo: r.PreferGo, StrictErrors: r.StrictErrors, Dial: rec.Dial}
	ips, err := own.LookupNetIP(ctx, network, host)
	var de *net.DNSError
	if errors.As(err, &de) {
		de.Server = rec.server()
	}
	return ips, err
}

// Server is the DNS server a failed lookup's error names ("ip:port"), ""
// when it names none.
func Server(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Server
	}
	return ""
}

// dialled wraps a resolver's Dial and remembers where it connected.
type dialled struct {
	dial func(ctx context.Context, network, address string) (net.Conn, error)
	mu   sync.Mutex
	addr string
}

func (d *dialled) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.dial(ctx, network, address)
	var at string
	var oe *net.OpError
	switch {
	case err == nil && c.RemoteAddr() != nil:
		at = c.RemoteAddr().String()
	case errors.As(err, &oe) && oe.Addr != nil:
		at = oe.Addr.String()
	}
	if at != "" {
		d.mu.Lock()
		d.addr = at
		d.mu.Unlock()
	}
	return c, err
}

func (d *dialled) server() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addr
}
