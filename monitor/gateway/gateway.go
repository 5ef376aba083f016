// Package gateway recognises which hop generated an HTTP error response
// (nginx, Cloudflare, HAProxy, an AWS ALB, Envoy, ...) from its headers first
// and body markers second, and which outer hops (CDNs) wrapped it.
package gateway

import (
	"net/http"
	"unicode/utf8"
)

// Identification is what the response says about the hops that produced it.
type Identification struct {
	// Gateway is the lowercase name of the hop that generated the response
	// (Nginx, Cloudflare, ...: each declared in its vendor's file), empty
	// when none is recognised. Via and result.Result use the same names.
	Gateway string
	// Via lists outer hops seen in front of Gateway, outermost first.
	Via []string
	// Detail is a short stable token when the response itself names the
	// failure, e.g. "cloudflare-521", "no-healthy-upstream".
	Detail string
	// Headers are the header lines the verdict rests on, as "Name: value".
	Headers []string
	// Markers say which fact selected which verdict.
	Markers []string
	// Reason is the vendor's own words for the failure when the response
	// carries more than Detail can hold: Envoy's reset reason ("connection
	// failure"), Fastly's or Varnish's reason phrase, a Vercel error code, an
	// Akamai reference number, Apache's "Reason:" line. Free text, not stable.
	Reason string
}

// scanLimit bounds how much of the body is searched. Every gateway error
// page we know puts its markers in the first few kilobytes (Cloudflare's
// branded pages, the longest, are about 7 KB), and the probe may hand over
// up to a megabyte of an application page that has none.
const scanLimit = 32 << 10

// maxEvidence caps one evidence line so a hostile header or body cannot
// blow up the stored result.
const maxEvidence = 200

// Identify inspects a response. body is a bounded excerpt (already cut).
//
// Headers name the hops on the path; the body (and a few headers that only
// the generating hop sets) decide which hop generated the response. Hops
// other than the generator become Via, outermost first. It never fails: an
// unrecognised response gives an empty Gateway.
func Identify(status int, h http.Header, body []byte) Identification {
	if len(body) > scanLimit {
		body = body[:scanLimit]
	}
	s := &scan{status: status, h: h, body: string(body)}
	s.readHeaders()
	bv := s.readBody()
	s.decide(bv)
	return s.id
}

// scan is the state of one Identify call.
type scan struct {
	status int
	h      http.Header
	body   string
	hops   []hop
	id     Identification
}

// hop is one gateway seen in the headers.
type hop struct {
	name string
	// made: a header that only this hop sets on its own responses proves it
	// generated this one (Envoy without x-envoy-upstream-service-time,
	// Server: awselb/2.0 on an error, a Cloudflare 52x).
	made bool
	// relay: a header proves the hop passed an upstream response through.
	relay bool
	// origin: the hop is a web server named only by Server; it may be the
	// origin itself, so it is listed in Via only when another hop is known
	// to have generated the response.
	origin bool
}

// verdict is what the body says.
type verdict struct {
	gateway string
	detail  string
	reason  string
	// relayedBy is set when the page is an outer hop's branded copy of an
	// error the origin returned (Cloudflare's branded 502/504): the origin
	// generated it, the named hop only dressed it.
	relayedBy string
}

func (s *scan) decide(bv verdict) {
	gen := bv.gateway
	if gen == "" && bv.relayedBy == "" {
		gen = s.headerGenerator()
	}
	if gen == "" && bv.relayedBy == "" && s.status >= 500 && len(s.body) == 0 && len(s.hops) > 0 {
		// A HEAD request, or a gateway that sends no body (Caddy, Fly):
		// nothing contradicts the innermost hop the headers name, unless a
		// header says that hop relayed an upstream's answer.
		if in := s.hops[len(s.hops)-1]; !in.relay {
			gen = in.name
			s.mark("empty body: " + gen + ", the innermost hop the headers name, taken as the generator (headers only)")
		}
	}
	s.id.Gateway = gen
	if bv.detail != "" {
		s.id.Detail = bv.detail
	}
	if bv.reason != "" {
		s.id.Reason = bv.reason
	}
	if s.id.Detail == "" && isCloudflareCode(s.status) && (gen == Cloudflare || s.has(Cloudflare)) {
		s.id.Detail = cloudflareDetail(s.status)
	}
	seen := map[string]bool{}
	for _, p := range s.hops {
		switch {
		case p.name == gen && !p.relay:
			continue
		case p.origin && gen == "":
			// Server: nginx on an unrecognised body is as likely the app's
			// own web server as a proxy in front of it.
			continue
		case seen[p.name]:
			continue
		}
		seen[p.name] = true
		s.id.Via = append(s.id.Via, p.name)
	}
}

// headerGenerator is the innermost hop whose headers prove it generated the
// response, or "".
func (s *scan) headerGenerator() string {
	for i := len(s.hops) - 1; i >= 0; i-- {
		if s.hops[i].made {
			return s.hops[i].name
		}
	}
	return ""
}

func (s *scan) has(name string) bool {
	for _, p := range s.hops {
		if p.name == name {
			return true
		}
	}
	return false
}

func (s *scan) mark(m string) {
	s.id.Markers = append(s.id.Markers, clip(m))
}

// evidence records a header line once.
func (s *scan) evidence(name, value string) {
	line := clip(name + ": " + value)
	for _, l := range s.id.Headers {
		if l == line {
			return
		}
	}
	s.id.Headers = append(s.id.Headers, line)
}

func clip(s string) string {
	if len(s) <= maxEvidence {
		return s
	}
	n := maxEvidence
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
