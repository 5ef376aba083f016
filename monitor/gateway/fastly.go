package gateway

import "strings"

// Fastly is the Fastly edge, built on Varnish: its error page is Varnish's
// (see varnishPage), with its own reason phrases.
const Fastly = "fastly"

// Fastly's synthetic errors, named by their reason phrase.
const (
	DetailFirstByteTimeout  = "first-byte-timeout"
	DetailBackendReadError  = "backend-read-error"
	DetailMaxConnReached    = "max-conn-reached"
	DetailConnectionRefused = "connection-refused"  // Fastly "Connection refused"
	DetailAllBackendsFailed = "all-backends-failed" // Fastly "All backends failed or unhealthy"
)

// fastlyDetail maps a Fastly reason phrase, lower-cased, to its token.
func fastlyDetail(lreason string) string {
	switch lreason {
	case "first byte timeout":
		return DetailFirstByteTimeout
	case "backend read error":
		return DetailBackendReadError
	case "backend.max_conn reached":
		return DetailMaxConnReached
	case "connection refused":
		return DetailConnectionRefused
	case "all backends failed or unhealthy":
		return DetailAllBackendsFailed
	}
	return ""
}

func fastlyWords(detail string) string {
	switch detail {
	case DetailFirstByteTimeout:
		return "backend too slow (first byte timeout)"
	case DetailBackendReadError:
		return "error reading from the backend"
	case DetailMaxConnReached:
		return "backend connection limit reached"
	case DetailConnectionRefused:
		return "backend refused the connection"
	case DetailAllBackendsFailed:
		return "all backends failed"
	}
	return ""
}

// fastlyHeaders: X-Served-By: cache-<pop>, X-Fastly-Request-ID. Fastly is
// built on Varnish, so its Via/X-Varnish must not also count as a Varnish
// hop (varnishHeaders checks for the Fastly hop).
func (s *scan) fastlyHeaders(*headerFacts) {
	servedBy := s.get("X-Served-By")
	fastlyID := s.get("X-Fastly-Request-Id")
	fastly := fastlyID != "" || strings.HasPrefix(lowerASCII(servedBy), "cache-")
	if fastly {
		if strings.HasPrefix(lowerASCII(servedBy), "cache-") {
			s.evidence("X-Served-By", servedBy)
		}
		if fastlyID != "" {
			s.evidence("X-Fastly-Request-Id", fastlyID)
		}
		s.mark("Fastly headers (X-Served-By: cache-… / X-Fastly-Request-ID): Fastly is on the path")
		s.hops = append(s.hops, hop{name: Fastly})
	}
}
