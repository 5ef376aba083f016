package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/vantage-monitor/vantage/notify"
)

// maxReason bounds a PermanentError's Reason: it goes to logs, metrics
// labels' neighbours and the API, not a whole server transcript.
const maxReason = 200

// classify turns a failed send into what the outbox needs: a
// notify.Permanent for a 5xx reply or a setup the server will keep
// refusing (no STARTTLS, no usable AUTH, an untrusted certificate), a
// notify.Ambiguous for a session lost between the end of DATA and its
// reply, a plain error for 4xx replies and other network errors and
// timeouts. The password never appears in the result.
func (n *Notifier) classify(ctx context.Context, msg *notify.Message, err error) error {
	what := fmt.Sprintf("email %q: sending %s via %s:%d", n.name, msg.Event, n.host, n.port)
	switch cause := ctxDone(ctx); {
	case cause != nil:
		// The connection's deadline was the caller's: say so, and let
		// errors.Is see it (the socket only reports an i/o timeout).
		if err != cause {
			err = fmt.Errorf("%w: %w", cause, err)
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		what += fmt.Sprintf(" (no reply within the %s step timeout)", n.timeout)
	}
	wrapped := &redactedError{err: fmt.Errorf("%s: %w", what, err), redact: n.redact}

	if reason, ok := permanentReason(err, n.redact); ok {
		return notify.Permanent(reason, wrapped)
	}
	if afterData(err) {
		return notify.Ambiguous(wrapped)
	}
	return wrapped
}

// afterData says whether err ended the session after the mail's final "."
// with no reply to it: the connection dropped or timed out while waiting
// for the server's verdict on DATA. The server may have queued the mail
// (servers commit it before they answer), so a resend may be a duplicate.
// A reply (451, 554) means the server answered and did not take it.
func afterData(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.Reason == gomail.ErrSMTPDataClose && se.ErrorCode() == 0
}

// ctxDone returns ctx's error, or DeadlineExceeded once its deadline has
// passed even if its timer has not fired yet: a socket deadline set to
// ctx's deadline can expire a moment before ctx itself.
func ctxDone(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// permanentReason says whether err is a failure no retry can fix, and
// why in a few words. The server's text is redacted before it is cut
// short, so no part of a secret it echoed survives the cut.
func permanentReason(err error, redact func(string) string) (string, bool) {
	// MAIL, RCPT, DATA: go-mail's SendError carries the reply code (it
	// does not unwrap to the textproto.Error, so read it from the error).
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		if code >= 500 && code <= 599 {
			return "smtp " + replyText(redact(se.Error()), code), true
		}
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return "smtp " + se.Reason.String(), true
		}
		return "", false
	}
	// Greeting, EHLO, STARTTLS, AUTH: a wrapped textproto.Error.
	var te *textproto.Error
	if errors.As(err, &te) {
		if te.Code >= 500 && te.Code <= 599 {
			return "smtp " + truncate(oneLine(redact(strconv.Itoa(te.Code)+" "+te.Msg))), true
		}
		return "", false
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid), errors.As(err, &verify):
		return "smtp server certificate not trusted", true
	case errors.Is(err, gomail.ErrNoSupportedAuthDiscovered), errors.Is(err, gomail.ErrPlainAuthNotSupported),
		errors.Is(err, gomail.ErrLoginAuthNotSupported):
		return "smtp server offers no usable AUTH mechanism", true
	}
	// go-mail reports these with fmt.Errorf and no sentinel; matching the
	// text is the only way. If a go-mail upgrade rewords them they become
	// retryable, which costs retries, not mail.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not support STARTTLS"):
		return "smtp server does not offer STARTTLS", true
	case strings.Contains(msg, "server does not support SMTP AUTH"):
		return "smtp server does not offer AUTH", true
	}
	return "", false
}

// replyText finds the server's reply ("550 5.1.1 no such user") inside a
// SendError's text, which also names the command and the recipients.
// textproto.Error quotes the reply text in newer Go releases, so both
// forms are read.
func replyText(s string, code int) string {
	c := strconv.Itoa(code) + " "
	i := strings.Index(s, c)
	if i < 0 {
		return strconv.Itoa(code)
	}
	rest := s[i+len(c):]
	if q, err := strconv.QuotedPrefix(rest); err == nil {
		if u, err := strconv.Unquote(q); err == nil {
			return truncate(oneLine(c + u))
		}
	}
	if j := strings.Index(rest, ", affected "); j >= 0 {
		rest = rest[:j]
	}
	return truncate(oneLine(c + rest))
}

func truncate(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// redact removes the password from s, raw and in the base64 forms AUTH
// PLAIN and LOGIN send it in, and every other secret of the config. A
// server may echo what it was sent (a 535 quoting the AUTH blob), and the
// error text ends up in logs and the API.
func (n *Notifier) redact(s string) string {
	s = n.own.String(s)
	if n.extra != nil {
		s = n.extra(s)
	}
	return s
}

// redactedError shows err's text without secrets; Unwrap keeps the chain
// for errors.Is/As (the wrapped errors' own texts are not redacted, so
// print this error, not its parts).
type redactedError struct {
	err    error
	redact func(string) string
}

func (e *redactedError) Error() string { return e.redact(e.err.Error()) }

func (e *redactedError) Unwrap() error { return e.err }
