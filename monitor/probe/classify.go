package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/gateway"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// isTimeout reports whether err (or the probe's context) says time ran out.
func (x *exchange) isTimeout(err error) bool {
	if x.ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// timeoutWords says how long the probe had, for Error.
func (x *exchange) timeoutWords() string {
	if errors.Is(x.ctx.Err(), context.Canceled) {
		return "the probe was cancelled"
	}
	return "timed out after " + x.deadline.Sub(x.start).Round(time.Millisecond).String()
}

// netFail classifies an error from the connect phase onwards by the phase
// it happened in.
func (x *exchange) netFail(err error) {
	a := x.addr
	if x.isTimeout(err) {
		switch x.phase {
		case phaseConnect:
			x.fail(result.ClassConnectTimeout, result.DetailConnect, "connecting to %s: %s", a, x.timeoutWords())
		case phaseTLS:
			x.fail(result.ClassTimeout, result.DetailTLSHandshake, "TLS handshake with %s: %s", a, x.timeoutWords())
		case phaseSending:
			x.fail(result.ClassTimeout, result.DetailSendingRequest, "sending the request to %s: %s", a, x.timeoutWords())
		case phaseWaiting:
			x.fail(result.ClassTimeout, result.DetailWaitingHeaders, "waiting for the response headers from %s: %s", a, x.timeoutWords())
		default:
			x.fail(result.ClassTimeout, result.DetailReadingBody, "reading the response body from %s: %s after %d bytes", a, x.timeoutWords(), x.r.BodyBytes)
		}
		return
	}
	reset := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
	switch x.phase {
	case phaseConnect:
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			x.fail(result.ClassConnectionRefused, "", "connecting to %s: %v", a, err)
		case errors.Is(err, syscall.ETIMEDOUT):
			x.fail(result.ClassConnectTimeout, result.DetailConnect, "connecting to %s: %v", a, err)
		case errors.Is(err, syscall.EHOSTUNREACH):
			x.fail(result.ClassNetworkUnreachable, result.DetailHostUnreachable, "connecting to %s: %v", a, err)
		case errors.Is(err, syscall.ENETUNREACH):
			x.fail(result.ClassNetworkUnreachable, result.DetailNetUnreachable, "connecting to %s: %v", a, err)
		case reset:
			x.fail(result.ClassConnectionReset, result.DetailResetBeforeResponse, "connecting to %s: %v", a, err)
		default:
			// Includes a DialControl refusal: the destination is not
			// reachable from here, by policy.
			x.fail(result.ClassNetworkUnreachable, "", "connecting to %s: %v", a, err)
			var ref *RefusedError
			if errors.As(err, &ref) {
				x.r.Refusal = &ref.Refusal
			}
		}
	case phaseSending:
		x.fail(result.ClassConnectionReset, result.DetailResetBeforeResponse, "sending the request to %s: %v", a, err)
	case phaseWaiting:
		switch {
		case x.hdr != nil && x.hdr.hit:
			x.fail(result.ClassProtocolError, result.DetailHeadersTooLarge, "reading the response headers from %s: more than %d bytes", a, x.p.maxHeaderBytes())
		case reset:
			x.fail(result.ClassConnectionReset, result.DetailResetBeforeResponse, "waiting for the response from %s: %v", a, err)
		case !x.gotFirst && errors.Is(err, io.EOF):
			x.fail(result.ClassConnectionReset, result.DetailClosedBeforeResp, "waiting for the response from %s: the server closed the connection without answering", a)
		default:
			x.fail(result.ClassProtocolError, result.DetailMalformedResponse, "reading the response headers from %s: %v", a, err)
		}
	default:
		if reset {
			x.fail(result.ClassConnectionReset, result.DetailResetReadingBody, "reading the response body from %s after %d bytes: %v", a, x.r.BodyBytes, err)
			return
		}
		// Short body, broken chunking, bad gzip: the body is not what the
		// headers promised.
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		x.fail(result.ClassProtocolError, result.DetailBadBody, "reading the response body from %s after %d bytes: %v", a, x.r.BodyBytes, err)
	}
}

// tlsFail classifies a failed handshake, using what verification recorded.
func (x *exchange) tlsFail(err error, host string, now time.Time) {
	a := x.addr
	if x.isTimeout(err) {
		x.netFail(err)
		return
	}
	verr := x.tls.verifyErr
	if verr == nil {
		x.fail(result.ClassTLSError, result.DetailHandshakeFailure, "TLS handshake with %s: %v", a, err)
		return
	}
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case errors.As(verr, &inv) && inv.Reason == x509.Expired:
		c := inv.Cert
		if now.Before(c.NotBefore) {
			x.fail(result.ClassTLSError, result.DetailCertNotYetValid, "verifying the certificate of %s: %q is not valid until %s",
				host, c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339))
		} else {
			x.fail(result.ClassTLSError, result.DetailCertExpired, "verifying the certificate of %s: %q expired on %s (%d days ago)",
				host, c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339), int(now.Sub(c.NotAfter).Hours()/24))
		}
	case errors.As(verr, &hn):
		x.fail(result.ClassTLSError, result.DetailHostnameMismatch, "verifying the certificate of %s: %v", host, verr)
	case errors.As(verr, &unk), errors.As(verr, &inv):
		// Other invalid-chain reasons (bad usage, not authorised to sign)
		// also mean "no trusted issuer vouches for this certificate".
		x.fail(result.ClassTLSError, result.DetailUnknownAuthority, "verifying the certificate of %s: %v", host, verr)
	default:
		x.fail(result.ClassTLSError, result.DetailHandshakeFailure, "verifying the certificate of %s: %v", host, verr)
	}
}

// statusClass maps an unexpected status to its class.
func statusClass(resp *http.Response, id gateway.Identification) result.Class {
	code := resp.StatusCode
	switch {
	case code == 502:
		return result.ClassBadGateway
	case code == 504:
		return result.ClassGatewayTimeout
	case code == 503:
		return result.ClassServiceUnavailable
	case code >= 520 && code <= 530 && isCloudflare(resp.Header, id):
		switch code {
		case 520, 521, 523, 525, 526, 530:
			return result.ClassBadGateway
		case 522, 524:
			return result.ClassGatewayTimeout
		}
		return result.ClassServerError
	case code >= 500 && code <= 599:
		return result.ClassServerError
	case code >= 400 && code <= 499:
		return result.ClassClientError
	}
	return result.ClassUnexpectedStatus
}

// isCloudflare reports whether Cloudflare's edge produced or passed the
// response: the gateway package's verdict, or failing that its two
// unmistakable headers. Only Cloudflare gives the 52x codes their meanings.
func isCloudflare(h http.Header, id gateway.Identification) bool {
	return id.Gateway == gateway.Cloudflare || slices.Contains(id.Via, gateway.Cloudflare) || gateway.HasCloudflareHeaders(h)
}

// identify asks the gateway package which hop produced a response that is
// not ok, and records its verdict and the evidence. A detail the probe set
// itself (content_mismatch) wins over the gateway's.
func (x *exchange) identify(resp *http.Response, excerpt []byte) gateway.Identification {
	r := x.r
	excerpt = validUTF8Prefix(excerpt)
	identify := x.p.identify
	if identify == nil {
		identify = gateway.Identify
	}
	id := identify(resp.StatusCode, resp.Header, excerpt)
	r.Gateway = id.Gateway
	r.Via = id.Via
	if r.Detail == "" {
		r.Detail = id.Detail
	}
	r.Evidence.Headers = id.Headers
	r.Evidence.Markers = id.Markers
	r.Evidence.Body = strings.ToValidUTF8(string(excerpt), "\uFFFD")
	code := resp.StatusCode
	if code >= 520 && code <= 530 && id.Gateway != gateway.Cloudflare && !slices.Contains(id.Via, gateway.Cloudflare) &&
		isCloudflare(resp.Header, id) {
		r.Evidence.Markers = append(r.Evidence.Markers, "status "+statusText(code)+" with a Cloudflare Server or CF-RAY header: Cloudflare's meaning of the code")
	}
	return id
}

// validUTF8Prefix drops a rune cut in half at the end of an excerpt.
func validUTF8Prefix(b []byte) []byte {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return b
		}
		r, size := utf8.DecodeLastRune(b)
		if r != utf8.RuneError || size != 1 {
			return b
		}
		b = b[:len(b)-1]
	}
	return b
}
