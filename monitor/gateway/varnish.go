package gateway

import (
	"strconv"
	"strings"
)

// Varnish is the Varnish cache.
const Varnish = "varnish"

// DetailBackendFetchFailed is builtin.vcl's synthetic error.
const DetailBackendFetchFailed = "backend-fetch-failed"

// varnishDetail maps a Varnish or Fastly reason phrase to its token: Fastly
// answers with Varnish's page, so either vendor's phrase may be on it.
func varnishDetail(reason string) string {
	lr := lowerASCII(reason)
	if lr == "backend fetch failed" {
		return DetailBackendFetchFailed
	}
	return fastlyDetail(lr)
}

func varnishWords(detail string) string {
	if detail == DetailBackendFetchFailed {
		return "backend fetch failed"
	}
	return ""
}

// varnishHeaders: X-Varnish, Via: 1.1 varnish (Varnish/7.1), Server: Varnish.
func (s *scan) varnishHeaders(f *headerFacts) {
	xv := s.get("X-Varnish")
	if !s.has(Fastly) && (xv != "" || f.lserver == "varnish" || strings.Contains(f.lvia, "varnish")) {
		if xv != "" {
			s.evidence("X-Varnish", xv)
		}
		if strings.Contains(f.lvia, "varnish") {
			s.evidence("Via", f.via)
		}
		if f.lserver == "varnish" {
			s.evidence("Server", f.server)
		}
		s.mark("Varnish headers (X-Varnish / Via … varnish): Varnish is on the path")
		s.hops = append(s.hops, hop{name: Varnish})
	}
}

// varnishPage: builtin.vcl's synthetic page ("Guru Meditation") and Fastly's
// copy of it, spelled "Guru Mediation".
func (s *scan) varnishPage() (verdict, bool) {
	var v verdict
	switch {
	case s.contains("Guru Mediation:"):
		v.gateway = Fastly
		if d, ok := between(s.body, "<p>Details: ", "</p>"); ok {
			s.mark("body contains " + strconv.Quote("Details: "+d))
		}
	case s.contains("Guru Meditation:"):
		v.gateway = Varnish
		s.contains("Varnish cache server")
	default:
		return verdict{}, false
	}
	if r, ok := between(s.body, "<h1>Error ", "</h1>"); ok && len(r) > 4 && s.statusIs(r) {
		v.reason = strings.TrimSpace(r[4:])
	} else if r, ok := between(s.body, "<title>", "</title>"); ok && len(r) > 4 && s.statusIs(r) {
		v.reason = strings.TrimSpace(r[4:])
	}
	if v.reason != "" {
		v.detail = varnishDetail(v.reason)
		s.mark(v.gateway + " reason " + strconv.Quote(v.reason))
	}
	s.hopIfMissing(v.gateway)
	return v, true
}
