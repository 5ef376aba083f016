package gateway

import (
	"strconv"
	"strings"
)

// Apache is Apache httpd with mod_proxy.
const Apache = "apache"

// apacheHeaders: Server: Apache[/2.4.x (OS)]. Apache may be the origin
// itself.
func (s *scan) apacheHeaders(f *headerFacts) {
	if strings.HasPrefix(f.lserver, "apache") {
		s.evidence("Server", f.server)
		s.hops = append(s.hops, hop{name: Apache, origin: true})
	}
}

// apachePage: httpd's built-in pages (modules/http/http_protocol.c). The
// sentences are Apache's; the doctype changed across 2.4.x releases.
func (s *scan) apachePage() (verdict, bool) {
	t, ok := between(s.body, "<title>", "</title>")
	if !ok || !s.statusIs(t) {
		return verdict{}, false
	}
	if !s.contains("The proxy server received an invalid") &&
		!s.contains("The gateway did not receive a timely response") &&
		!s.contains("The server is temporarily unable to service your") &&
		!s.contains("<h1>Proxy Error</h1>") {
		return verdict{}, false
	}
	v := verdict{gateway: Apache}
	if r, ok := between(s.body, "Reason: <strong>", "</strong>"); ok {
		v.reason = r
		s.mark("apache reason " + strconv.Quote(r))
	}
	return v, true
}
