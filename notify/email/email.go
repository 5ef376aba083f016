// Package email is the email receiver: it delivers notifications as
// multipart (text and HTML) mail over SMTP, threading an incident's later
// mails under its opening mail, and tells the outbox which SMTP failures
// are worth retrying.
package email

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/render"
)

// DefaultTimeout bounds each SMTP step when the receiver sets no timeout.
const DefaultTimeout = 15 * time.Second

// Options are what New needs besides the receiver's configuration.
type Options struct {
	Logger *slog.Logger
	// RootCAs verifies the server's certificate; nil means the system pool.
	RootCAs *x509.CertPool
	// Hostname is the domain of generated Message-IDs and the name given
	// in EHLO; "" means the From address's domain for Message-IDs and the
	// machine's host name for EHLO.
	Hostname string
	// Now stamps the Date header; nil means time.Now.
	Now func() time.Time
	// Redact hides the config's secrets in what the mail shows and in
	// error texts (the daemon's Redactor); the receiver's own password is
	// hidden in every encoding whether or not it is set.
	Redact func(string) string
}

// Notifier sends one receiver's notifications by email. It holds no
// connection between calls (alerts are rare, and a fresh session per mail
// cannot be left half-broken by the previous one), so it is safe for
// concurrent use.
type Notifier struct {
	name     string
	host     string
	port     int
	from     string
	to       []string
	username string
	password string
	tlsMode  string
	timeout  time.Duration
	rootCAs  *x509.CertPool
	domain   string
	helo     string
	log      *slog.Logger
	now      func() time.Time
	own      *redact.Redactor    // the password, raw and as AUTH PLAIN and LOGIN send it
	extra    func(string) string // Options.Redact, or nil
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds the email receiver r describes. It checks the settings again
// (config.Load does too) because a Notifier built from a hand-made Receiver
// must not quietly send a password in plain text.
func New(r *config.Receiver, opts Options) (*Notifier, error) {
	if r == nil {
		return nil, errors.New("email receiver: no configuration")
	}
	if r.Type != "" && r.Type != config.ReceiverEmail {
		return nil, fmt.Errorf("email receiver %q: type is %q, not %q", r.Name, r.Type, config.ReceiverEmail)
	}
	n := &Notifier{
		name:     r.Name,
		username: r.Username,
		password: r.Password.Reveal(),
		timeout:  r.Timeout,
		rootCAs:  opts.RootCAs,
		log:      opts.Logger,
		now:      opts.Now,
		own:      redact.New([]redact.Secret{{Value: r.Password.Reveal(), User: r.Username}}),
		extra:    opts.Redact,
	}
	fail := func(format string, args ...any) (*Notifier, error) {
		return nil, fmt.Errorf("email receiver %q: %s", r.Name, fmt.Sprintf(format, args...))
	}

	host, portStr, err := net.SplitHostPort(r.SMTP)
	if err != nil || host == "" {
		return fail("smtp %q is not host:port", r.SMTP)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return fail("smtp port %q is not a number from 1 to 65535", portStr)
	}
	n.host, n.port = host, port

	from, err := mail.ParseAddress(r.From)
	if err != nil {
		return fail("from %q is not an email address: %v", r.From, err)
	}
	n.from = from.String()
	if len(r.To) == 0 {
		return fail("no to addresses")
	}
	for _, a := range r.To {
		to, err := mail.ParseAddress(a)
		if err != nil {
			return fail("to %q is not an email address: %v", a, err)
		}
		n.to = append(n.to, to.String())
	}
	if n.username != "" && n.password == "" {
		return fail("username is set without a password")
	}

	n.tlsMode = r.TLS
	switch n.tlsMode {
	case "":
		switch {
		case r.InsecurePlain:
			n.tlsMode = config.TLSNone
		case port == 465:
			n.tlsMode = config.TLSImplicit
		default:
			n.tlsMode = config.TLSStartTLS
		}
	case config.TLSNone:
		if !r.InsecurePlain {
			return fail("tls = %q sends mail and password in plain text; it needs insecure_plain = true", r.TLS)
		}
	case config.TLSStartTLS, config.TLSImplicit:
		if r.InsecurePlain {
			return fail("insecure_plain contradicts tls = %q", r.TLS)
		}
	default:
		return fail("tls %q is not %s, %s or %s", r.TLS, config.TLSStartTLS, config.TLSImplicit, config.TLSNone)
	}

	if n.timeout <= 0 {
		n.timeout = DefaultTimeout
	}
	n.domain, n.helo = opts.Hostname, opts.Hostname
	if n.domain == "" {
		n.domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	}
	if n.domain == "" || strings.ContainsAny(n.domain, "<>@ \t\r\n") {
		return fail("%q cannot be the domain of a Message-ID", n.domain)
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.now == nil {
		n.now = time.Now
	}
	return n, nil
}

// Notify mails msg. An opening mail returns its Message-ID as the ref;
// later mails for the incident reply to the ref so mail clients thread
// them.
//
// EventUpdate is not mailed: an inbox is for the start and end of an
// incident (and reminders), while Slack's thread carries every change. A
// mail per class or region change would bury the two mails that matter.
// The exception is a certificate warning crossing its next threshold
// (Message.Crossed): that is the news, and it goes in the thread.
func (n *Notifier) Notify(ctx context.Context, msg *notify.Message, ref string) (string, error) {
	if msg == nil {
		return "", notify.Permanent("no message", errors.New("email: nil message"))
	}
	switch msg.Event {
	case incident.NotifyUpdate:
		if !msg.Crossed {
			return "", nil
		}
	case incident.NotifyOpen, incident.NotifyResolve, incident.NotifyReminder, incident.NotifyNotice:
	default:
		return "", notify.Permanent("unknown event", fmt.Errorf("email %q: unknown event %q", n.name, msg.Event))
	}
	if msg.Key == "" {
		// The Message-ID derives from the key; without one a resend after
		// a crash could not be recognised as the same mail.
		return "", notify.Permanent("message without key", fmt.Errorf("email %q: %s message has no key", n.name, msg.Event))
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("email %q: not sending %s: %w", n.name, msg.Event, err)
	}

	m, id, subject := n.build(msg, ref)
	if err := n.send(ctx, m); err != nil {
		return "", n.classify(ctx, msg, err)
	}
	n.log.Debug("email sent", "receiver", n.name, "event", string(msg.Event), "key", msg.Key, "message_id", id)
	if msg.Event == incident.NotifyOpen {
		// The subject rides in the ref so that the resolve, however much
		// later and after however many restarts, says "Re: " and exactly
		// what the open said (see resolveSubject).
		return id + " " + subject, nil
	}
	return "", nil
}

// splitRef splits an email ref into the opening mail's Message-ID and its
// subject. A ref from before the subject was kept is the Message-ID alone.
func splitRef(ref string) (id, subject string) {
	id, subject, _ = strings.Cut(strings.TrimSpace(ref), " ")
	return id, oneLine(subject)
}

// resolveSubject is the subject of the mail that ends an incident: "Re: "
// and the subject of the mail that opened it, so that clients which thread
// by subject (not by In-Reply-To) still put them together. The open's
// subject is the one stored in the ref when it was sent: the incident's
// class, gateway or scope may have changed since, so rendering the open's
// title again from the resolve would not give back what the inbox holds.
// Only for a ref without it (sent by an older version) is it rendered
// again, from the resolve's incident fields.
func resolveSubject(msg *notify.Message, refSubject string) string {
	open := refSubject
	if open == "" {
		o := *msg
		o.Event, o.ResolvedAt, o.Resolution, o.Late, o.Repeat, o.NotPersisted = incident.NotifyOpen, time.Time{}, "", false, false, false
		o.Group, o.GroupUpdate = nil, nil
		open = oneLine(render.Title(&o))
	}
	s := "Re: " + open
	if msg.Repeat {
		s += " (possible repeat)"
	}
	return s
}

// MessageID is the Message-ID of the mail for the event with key key:
// deterministic, so that a mail sent again after a crash carries the same
// id and mail systems can drop the duplicate.
func MessageID(key, domain string) string {
	sum := sha256.Sum256([]byte(key))
	return "<vantage." + hex.EncodeToString(sum[:16]) + "@" + domain + ">"
}

// build renders msg as a mail and returns it with its Message-ID and
// subject.
func (n *Notifier) build(msg *notify.Message, ref string) (*gomail.Msg, string, string) {
	id := MessageID(msg.Key, n.domain)
	msg = redact.Copy(msg, n.redact) // what the mail shows
	ref, refSubject := splitRef(ref)
	m := gomail.NewMsg()
	// Addresses were parsed in New; the go-mail parser accepts what
	// net/mail produced.
	_ = m.From(n.from)
	_ = m.To(n.to...)
	subject := oneLine(render.Title(msg))
	if _, usable := normalizeRef(ref); usable && msg.Event == incident.NotifyResolve && !msg.Late {
		// Only in the open's thread: a late resolve stands alone (its
		// open was never mailed), and so does one without a usable ref.
		subject = resolveSubject(msg, n.redact(refSubject))
	}
	m.Subject(subject)
	m.SetMessageIDWithValue(strings.Trim(id, "<>"))
	m.SetDateWithValue(n.now())
	m.SetUserAgent("vantage")
	// RFC 3834: automated mail; keeps vacation responders from answering
	// alerts (X-Auto-Response-Suppress does the same for Exchange).
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	if msg.Event != incident.NotifyOpen && ref != "" {
		if r, ok := normalizeRef(ref); ok {
			m.SetGenHeaderPreformatted(gomail.HeaderInReplyTo, r)
			m.SetGenHeaderPreformatted(gomail.HeaderReferences, r)
		} else {
			// Threading is a nicety; the alert itself must still go out.
			n.log.Warn("email ref is not a Message-ID; sending without threading",
				"receiver", n.name, "key", msg.Key, "ref", ref)
		}
	}
	m.SetBodyString(gomail.TypeTextPlain, render.Text(msg))
	m.AddAlternativeString(gomail.TypeTextHTML, render.HTML(msg))
	return m, id, subject
}

// normalizeRef returns ref as "<id>" if it is one msg-id that can go into
// a header unchanged.
func normalizeRef(ref string) (string, bool) {
	inner := strings.TrimSpace(ref)
	if strings.HasPrefix(inner, "<") || strings.HasSuffix(inner, ">") {
		if len(inner) < 2 || inner[0] != '<' || inner[len(inner)-1] != '>' {
			return "", false
		}
		inner = inner[1 : len(inner)-1]
	}
	if inner == "" || len(inner) > 250 || strings.IndexByte(inner, '@') < 1 || strings.ContainsAny(inner, "<>") {
		return "", false
	}
	for _, c := range inner {
		if c < 0x21 || c > 0x7e {
			return "", false
		}
	}
	return "<" + inner + ">", true
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// send runs one SMTP session: connect, EHLO, STARTTLS, AUTH, the mail,
// QUIT. Each step is bounded by n.timeout and all by ctx.
func (n *Notifier) send(ctx context.Context, m *gomail.Msg) error {
	tlsConf := &tls.Config{ServerName: n.host, RootCAs: n.rootCAs, MinVersion: tls.VersionTLS12}
	d := &dialer{ctx: ctx, step: n.timeout}
	opts := []gomail.Option{
		gomail.WithPort(n.port),
		gomail.WithTimeout(n.timeout),
		gomail.WithTLSConfig(tlsConf),
		gomail.WithDialContextFunc(d.DialContext),
		// A fresh session per mail: the NOOP before and the RSET after
		// it would only add round trips that can stall.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	if n.helo != "" {
		opts = append(opts, gomail.WithHELO(n.helo))
	}
	switch n.tlsMode {
	case config.TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case config.TLSImplicit:
		d.implicit = tlsConf
		// The dialer already speaks TLS. Opportunistic (not NoTLS) makes
		// go-mail read the TLS state of the connection and so know that
		// AUTH travels encrypted; servers do not offer STARTTLS inside TLS.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case config.TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if n.username != "" {
		opts = append(opts, gomail.WithUsername(n.username), gomail.WithPassword(n.password))
		if n.tlsMode == config.TLSNone {
			// insecure_plain: the operator accepted a password in clear.
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5,
				gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc))
		} else {
			// PLAIN and LOGIN refuse to run unless the session is
			// encrypted, which TLSMandatory or the TLS dialer ensure.
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
		}
	}
	client, err := gomail.NewClient(n.host, opts...)
	if err != nil {
		return fmt.Errorf("setting up smtp client: %w", err)
	}
	defer d.close()
	err = client.DialAndSendWithContext(ctx, m)
	if err != nil && m.IsDelivered() {
		// The server took the mail (250 after DATA); only QUIT failed.
		// Reporting an error would make the outbox send it again.
		n.log.Warn("email delivered but the smtp session did not end cleanly",
			"receiver", n.name, "err", n.redact(err.Error()))
		return nil
	}
	return err
}
