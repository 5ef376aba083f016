package result

import (
	"fmt"
	"strings"
)

// Detail tokens: short, stable words that refine a Class. Scripts and the
// fixes knowledge base match on them, so they never change once released.
// The gateway package adds per-vendor tokens (e.g. "cloudflare-521").
const (
	// dns_error
	DetailNXDomain        = "nxdomain"
	DetailServFail        = "servfail"
	DetailNoAnswer        = "no-answer"
	DetailResolverTimeout = "resolver-timeout"

	// tls_error
	DetailCertExpired      = "cert-expired"
	DetailCertNotYetValid  = "cert-not-yet-valid"
	DetailUnknownAuthority = "unknown-authority"
	DetailHostnameMismatch = "hostname-mismatch"
	DetailHandshakeFailure = "handshake-failure"

	// timeout: the phase that ran out of time
	DetailTLSHandshake   = "tls-handshake"
	DetailSendingRequest = "sending-request"
	DetailWaitingHeaders = "waiting-headers"
	DetailReadingBody    = "reading-body"

	// connect_timeout / network_unreachable
	DetailConnect         = "connect"
	DetailHostUnreachable = "host-unreachable"
	DetailNetUnreachable  = "net-unreachable"

	// connection_reset
	DetailResetBeforeResponse = "reset-before-response"
	DetailResetReadingBody    = "reset-reading-body"
	DetailClosedBeforeResp    = "closed-before-response"

	// protocol_error
	DetailMalformedResponse = "malformed-response"
	DetailHeadersTooLarge   = "headers-too-large"
	DetailBadBody           = "bad-body" // broken chunking, short body, bad gzip

	// content_mismatch
	DetailBodyMissingText = "body-missing-text"
	DetailBodyRegexFailed = "body-regex-no-match"
	DetailJSONPath        = "json-path" // an expect_json assertion failed, or the body is not JSON
	DetailHeader          = "header"    // an expect_header assertion failed

	// cert_expiring: the smallest cert_warn_days threshold the earliest
	// certificate is under, as "under-<n>-days" (WarnDetail).
	// degraded: the slow phase, one of the Phase* names below.

	// too_many_redirects
	DetailRedirectLoop  = "redirect-loop"
	DetailRedirectLimit = "redirect-limit"
)

// The phases a degraded threshold may name, and the degraded detail tokens.
// transfer is total minus TTFB: reading the body.
const (
	PhaseDNS      = "dns"
	PhaseConnect  = "connect"
	PhaseTLS      = "tls"
	PhaseTTFB     = "ttfb"
	PhaseTransfer = "transfer"
	PhaseTotal    = "total"
)

// AllPhases lists the phases from the most specific to the least: when
// several are over their thresholds, the first one named here is the one
// an incident is about.
func AllPhases() []string {
	return []string{PhaseDNS, PhaseConnect, PhaseTLS, PhaseTTFB, PhaseTransfer, PhaseTotal}
}

// WarnDetail is the cert_expiring detail for a certificate under the
// threshold of days: "under-7-days".
func WarnDetail(days int) string { return fmt.Sprintf("under-%d-days", days) }

// PhaseLabel is a phase's short name, as a summary or a label writes it:
// "TTFB 2.4 s from fra1", "slow: TTFB", "slow: total time".
func PhaseLabel(phase string) string {
	switch phase {
	case PhaseDNS, PhaseTLS, PhaseTTFB:
		return strings.ToUpper(phase)
	case PhaseTotal:
		return "total time"
	}
	return phase
}

// PhaseWords is a phase in words, for a sentence: "slow in TTFB (time to
// first byte)".
func PhaseWords(phase string) string {
	switch phase {
	case PhaseDNS:
		return "DNS"
	case PhaseConnect:
		return "connect"
	case PhaseTLS:
		return "TLS handshake"
	case PhaseTTFB:
		return "TTFB (time to first byte)"
	case PhaseTransfer:
		return "transfer (reading the body)"
	case PhaseTotal:
		return "total time"
	}
	return phase
}
