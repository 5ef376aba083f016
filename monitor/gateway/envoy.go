package gateway

import (
	"strconv"
	"strings"
)

// Envoy is Envoy, alone or as Istio's sidecar and gateway.
const Envoy = "envoy"

// Envoy local replies. The reset reason of an upstream connect error
// ("connection failure", "protocol error", ...) goes to Reason and a marker.
const (
	DetailNoHealthyUpstream      = "no-healthy-upstream"
	DetailUpstreamConnectError   = "upstream-connect-error"
	DetailUpstreamRequestTimeout = "upstream-request-timeout"
	DetailMaintenanceMode        = "maintenance-mode"
)

func envoyWords(detail string) string {
	switch detail {
	case DetailNoHealthyUpstream:
		return "no healthy upstream"
	case DetailUpstreamConnectError:
		return "could not connect to the upstream"
	case DetailUpstreamRequestTimeout:
		return "upstream timed out"
	case DetailMaintenanceMode:
		return "maintenance mode"
	}
	return ""
}

// envoyHeaders: Server: envoy or istio-envoy. x-envoy-upstream-service-time
// is set only when an upstream answered; without it the reply is Envoy's own.
func (s *scan) envoyHeaders(f *headerFacts) {
	if f.lserver == "envoy" || f.lserver == "istio-envoy" {
		s.evidence("Server", f.server)
		upt := s.get("X-Envoy-Upstream-Service-Time")
		p := hop{name: Envoy}
		if upt != "" {
			s.evidence("X-Envoy-Upstream-Service-Time", upt)
			p.relay = true
			s.mark("x-envoy-upstream-service-time present: Envoy passed an upstream response through")
		} else if f.isError {
			p.made = true
			s.mark("Server: " + f.server + " without x-envoy-upstream-service-time: Envoy generated the response")
		}
		if ov := s.get("X-Envoy-Overloaded"); ov != "" {
			s.evidence("X-Envoy-Overloaded", ov)
		}
		s.hops = append(s.hops, p)
	}
}

// envoyText: Envoy's local replies are short text/plain bodies
// (source/common/router/router.cc).
func (s *scan) envoyText() (verdict, bool) {
	t := strings.TrimSpace(s.body)
	const connect = "upstream connect error or disconnect/reset before headers."
	switch {
	case strings.HasPrefix(t, connect):
		s.mark("body starts with " + strconv.Quote(connect))
		v := verdict{gateway: Envoy, detail: DetailUpstreamConnectError}
		if i := strings.Index(t, "reset reason: "); i >= 0 {
			r := firstLine(t[i+len("reset reason: "):])
			if j := strings.Index(r, ", transport failure reason: "); j >= 0 {
				s.mark("envoy transport failure reason " + strconv.Quote(r[j+len(", transport failure reason: "):]))
				r = r[:j]
			}
			v.reason = r
			s.mark("envoy reset reason " + strconv.Quote(r))
		}
		return v, true
	case t == "no healthy upstream":
		s.mark(`body is "no healthy upstream"`)
		return verdict{gateway: Envoy, detail: DetailNoHealthyUpstream}, true
	case t == "upstream request timeout":
		s.mark(`body is "upstream request timeout"`)
		return verdict{gateway: Envoy, detail: DetailUpstreamRequestTimeout}, true
	case t == "maintenance mode":
		s.mark(`body is "maintenance mode"`)
		return verdict{gateway: Envoy, detail: DetailMaintenanceMode}, true
	}
	return verdict{}, false
}
