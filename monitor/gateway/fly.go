package gateway

import "strings"

// Fly is the Fly.io proxy.
const Fly = "fly"

// flyHeaders: Server: Fly/<sha>, Via: 1.1 fly.io, Fly-Request-Id.
func (s *scan) flyHeaders(f *headerFacts) {
	flyID := s.get("Fly-Request-Id")
	if flyID != "" || strings.HasPrefix(f.lserver, "fly/") || strings.Contains(f.lvia, "fly.io") {
		if strings.HasPrefix(f.lserver, "fly/") {
			s.evidence("Server", f.server)
		}
		if strings.Contains(f.lvia, "fly.io") {
			s.evidence("Via", f.via)
		}
		if flyID != "" {
			s.evidence("Fly-Request-Id", flyID)
		}
		s.mark("Fly.io headers (Fly-Request-Id / Via fly.io): the Fly proxy is on the path")
		s.hops = append(s.hops, hop{name: Fly})
	}
}
