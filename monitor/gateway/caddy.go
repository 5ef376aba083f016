package gateway

// Caddy is the Caddy web server and reverse proxy.
const Caddy = "caddy"

// DetailNoUpstreams is Caddy's reverse proxy with no upstream to use.
const DetailNoUpstreams = "no-upstreams"

func caddyWords(detail string) string {
	if detail == DetailNoUpstreams {
		return "no upstreams available"
	}
	return ""
}

// caddyHeaders: Server: Caddy. Caddy may be the origin itself; an error with
// an empty body is its own.
func (s *scan) caddyHeaders(f *headerFacts) {
	if f.lserver == "caddy" {
		s.evidence("Server", f.server)
		s.hops = append(s.hops, hop{name: Caddy, origin: true, made: f.isError && len(s.body) == 0})
		if f.isError && len(s.body) == 0 {
			s.mark("Server: Caddy with an empty error body: Caddy's own error response")
		}
	}
}

// caddyText: Caddy's reverse proxy error text, when an error handler
// writes it into the body.
func (s *scan) caddyText() (verdict, bool) {
	if s.status == 503 && s.contains("no upstreams available") {
		return verdict{gateway: Caddy, detail: DetailNoUpstreams}, true
	}
	return verdict{}, false
}
