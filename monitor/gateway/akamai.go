package gateway

import (
	"strconv"
	"strings"
)

// Akamai is the Akamai edge.
const Akamai = "akamai"

// akamaiHeaders: Server: AkamaiGHost on edge-generated responses.
func (s *scan) akamaiHeaders(f *headerFacts) {
	if strings.HasPrefix(f.lserver, "akamaighost") || strings.HasPrefix(f.lserver, "akamainetstorage") {
		s.evidence("Server", f.server)
		s.mark("Server: " + f.server + " names Akamai")
		s.hops = append(s.hops, hop{name: Akamai, made: f.isError && strings.HasPrefix(f.lserver, "akamaighost")})
	}
}

// akamaiPage: Akamai edge pages end with "Reference #<n>.<hex>.<epoch>.<hex>",
// often HTML-escaped as "Reference&#32;&#35;".
func (s *scan) akamaiPage() (verdict, bool) {
	ref, ok := after(s.body, "Reference #", 64)
	if !ok {
		const escaped = "Reference&#32;&#35;"
		if i := strings.Index(s.body, escaped); i >= 0 {
			rest := s.body[i+len(escaped):]
			rest = rest[:min(len(rest), 160)]
			ref, ok = after(strings.ReplaceAll(rest, "&#46;", "."), "", 64)
		}
	}
	if !ok || ref == "" || ref[0] < '0' || ref[0] > '9' {
		return verdict{}, false
	}
	akamaiText := strings.Contains(s.body, "edgesuite.net") ||
		strings.Contains(s.body, "The proxy server did not receive a timely response") ||
		strings.Contains(s.body, "An error occurred while processing your request.") ||
		strings.Contains(s.body, "You don't have permission to access") ||
		s.has(Akamai)
	if !akamaiText {
		return verdict{}, false
	}
	s.mark("body carries the Akamai error reference " + strconv.Quote("Reference #"+ref))
	s.hopIfMissing(Akamai)
	return verdict{gateway: Akamai, reason: "Reference #" + ref}, true
}
