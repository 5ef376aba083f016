package gateway

import (
	"strconv"
	"strings"
)

// Vercel is the Vercel platform.
const Vercel = "vercel"

// Vercel error codes (vercel.com/docs/errors), lower-cased with hyphens.
const (
	DetailFunctionInvocationTimeout     = "function-invocation-timeout"
	DetailEdgeFunctionInvocationTimeout = "edge-function-invocation-timeout"
	DetailMiddlewareInvocationTimeout   = "middleware-invocation-timeout"
	DetailFunctionInvocationFailed      = "function-invocation-failed"
	DetailNoResponseFromFunction        = "no-response-from-function"
	DetailBodyNotAStringFromFunction    = "body-not-a-string-from-function"
	DetailFunctionThrottled             = "function-throttled"
	DetailDeploymentPaused              = "deployment-paused"
	DetailDNSHostnameNotFound           = "dns-hostname-not-found"
	DetailDNSHostnameResolveFailed      = "dns-hostname-resolve-failed"
	DetailDNSHostnameServerError        = "dns-hostname-server-error"
	DetailDNSHostnameEmpty              = "dns-hostname-empty"
)

// vercelDetail maps the Vercel codes that mean a gateway failure to their
// tokens. A function, not a package variable, so nothing global is mutable.
func vercelDetail(code string) string {
	switch code {
	case "FUNCTION_INVOCATION_TIMEOUT":
		return DetailFunctionInvocationTimeout
	case "EDGE_FUNCTION_INVOCATION_TIMEOUT":
		return DetailEdgeFunctionInvocationTimeout
	case "MIDDLEWARE_INVOCATION_TIMEOUT":
		return DetailMiddlewareInvocationTimeout
	case "FUNCTION_INVOCATION_FAILED":
		return DetailFunctionInvocationFailed
	case "NO_RESPONSE_FROM_FUNCTION":
		return DetailNoResponseFromFunction
	case "BODY_NOT_A_STRING_FROM_FUNCTION":
		return DetailBodyNotAStringFromFunction
	case "FUNCTION_THROTTLED":
		return DetailFunctionThrottled
	case "DEPLOYMENT_PAUSED":
		return DetailDeploymentPaused
	case "DNS_HOSTNAME_NOT_FOUND":
		return DetailDNSHostnameNotFound
	case "DNS_HOSTNAME_RESOLVE_FAILED":
		return DetailDNSHostnameResolveFailed
	case "DNS_HOSTNAME_SERVER_ERROR":
		return DetailDNSHostnameServerError
	case "DNS_HOSTNAME_EMPTY":
		return DetailDNSHostnameEmpty
	}
	return ""
}

func vercelWords(detail string) string {
	switch detail {
	case DetailFunctionInvocationTimeout:
		return "function timed out"
	case DetailEdgeFunctionInvocationTimeout:
		return "edge function timed out"
	case DetailMiddlewareInvocationTimeout:
		return "middleware timed out"
	case DetailFunctionInvocationFailed:
		return "function crashed"
	case DetailNoResponseFromFunction:
		return "function sent no response"
	case DetailBodyNotAStringFromFunction:
		return "function returned an invalid body"
	case DetailFunctionThrottled:
		return "function throttled"
	case DetailDeploymentPaused:
		return "deployment paused"
	case DetailDNSHostnameNotFound:
		return "origin hostname not found"
	case DetailDNSHostnameResolveFailed:
		return "origin hostname did not resolve"
	case DetailDNSHostnameServerError:
		return "origin DNS server failed"
	case DetailDNSHostnameEmpty:
		return "origin hostname empty"
	}
	return ""
}

// vercelHeaders: x-vercel-id always; x-vercel-error only on Vercel's own
// errors.
func (s *scan) vercelHeaders(f *headerFacts) {
	vid := s.get("X-Vercel-Id")
	verr := s.get("X-Vercel-Error")
	if vid != "" || verr != "" {
		if vid != "" {
			s.evidence("X-Vercel-Id", vid)
		}
		made := f.isError && verr != ""
		if verr != "" {
			s.evidence("X-Vercel-Error", verr)
			s.mark("X-Vercel-Error: " + verr + ": Vercel generated the response")
		} else {
			s.mark("X-Vercel-Id: Vercel is on the path")
		}
		s.hops = append(s.hops, hop{name: Vercel, made: made})
	}
}

// vercelPage: Vercel's error pages print "Code: FUNCTION_INVOCATION_TIMEOUT"
// (sometimes with the code in a <code> element); the X-Vercel-Error header
// carries the same code.
func (s *scan) vercelPage() (verdict, bool) {
	code := ""
	if i := strings.Index(s.body, "Code: "); i >= 0 {
		code = upperSnake(strings.TrimPrefix(s.body[i+len("Code: "):], "<code>"))
	}
	// An app page may print "Code: SOME_ERROR" too: believe it only with a
	// Vercel header or a code that only Vercel uses.
	if code != "" && (s.has(Vercel) || vercelDetail(code) != "") {
		s.mark("body contains " + strconv.Quote("Code: "+code))
	} else if hdr := upperSnake(s.get("X-Vercel-Error")); hdr != "" {
		code = hdr
	} else {
		return verdict{}, false
	}
	s.hopIfMissing(Vercel)
	return verdict{gateway: Vercel, detail: vercelDetail(code), reason: code}, true
}

// upperSnake returns the leading run of A-Z, 0-9 and '_'.
func upperSnake(s string) string {
	n := 0
	for n < len(s) && n < 64 {
		c := s[n]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			break
		}
		n++
	}
	return s[:n]
}
