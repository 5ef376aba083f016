package web

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
)

// IsLoopback reports whether host, a listen address's host or a Host
// header's name without the port, names this machine's loopback
// interface: localhost, 127.0.0.0/8 or ::1.
func IsLoopback(host string) bool {
	h := normalHost(host)
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// normalHost lower-cases a host name, drops brackets and a trailing dot,
// and prints an IP address in its canonical form.
func normalHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")), ".")
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return h
}

// AllowHosts answers only requests whose Host header is a loopback name or
// one of allowed() (the listen address and the configured [web]
// hostnames); any other gets 421 Misdirected Request. A browser sends the
// name it resolved, so a page whose own DNS name was rebound to this
// machine's address ("DNS rebinding") gets nothing it could read, while
// curl, Prometheus and people typing the address keep working. allowed is
// called per request, so a reload takes effect at once.
func AllowHosts(next http.Handler, allowed func() []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = normalHost(host)
		if host != "" && (IsLoopback(host) || slices.ContainsFunc(allowed(), func(a string) bool { return normalHost(a) == host })) {
			next.ServeHTTP(w, r)
			return
		}
		textError(w, http.StatusMisdirectedRequest, fmt.Sprintf("host %q is not served here; to reach vantage by this name, add it to hostnames in the [web] table of its config", r.Host))
	})
}
