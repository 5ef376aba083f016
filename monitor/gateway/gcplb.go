package gateway

import "strings"

// GCPLB is the Google Cloud external Application Load Balancer (the Google
// front end).
const GCPLB = "gcp-lb"

// gcpHeaders: Via: 1.1 google.
func (s *scan) gcpHeaders(f *headerFacts) {
	if containsToken(f.lvia, "google") {
		s.evidence("Via", f.via)
		s.mark("Via: … google: a Google Cloud load balancer is on the path")
		s.hops = append(s.hops, hop{name: GCPLB})
	}
}

// gcpPage: the Google front end's error pages for the external LB.
func (s *scan) gcpPage() (verdict, bool) {
	if s.status < 500 || !strings.Contains(s.body, "The server encountered a temporary error and could not complete your request.") {
		return verdict{}, false
	}
	if !s.contains("<h1>Error: Server Error</h1>") && !s.contains("That’s an error.") {
		return verdict{}, false
	}
	s.contains("The server encountered a temporary error and could not complete your request.")
	s.hopIfMissing(GCPLB)
	return verdict{gateway: GCPLB}, true
}
