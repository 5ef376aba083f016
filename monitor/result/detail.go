package result

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

	// too_many_redirects
	DetailRedirectLoop  = "redirect-loop"
	DetailRedirectLimit = "redirect-limit"
)
