package email

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vantage-monitor/vantage/internal/testkit"
)

// testPKI is a CA and a certificate for 127.0.0.1 it signed.
type testPKI struct {
	pool   *x509.CertPool
	server *tls.Config
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	ca := testkit.NewCA(t, "vantage test CA")
	return &testPKI{pool: ca.Pool(), server: ca.ServerTLS(t, "127.0.0.1")}
}

// received is one mail the test server accepted.
type received struct {
	from string
	to   []string
	data []byte
}

// authAttempt is one AUTH the server saw.
type authAttempt struct {
	mech string
	tls  bool
}

// backend is a go-smtp Backend that records what arrives and can be told
// to fail or stall at a step.
type backend struct {
	user, pass string // "" user: no AUTH offered or required

	// Hooks; each gets the 1-based number of the call.
	mailHook func(n int) error
	rcptHook func(n int, to string) error
	dataHook func(n int) error
	// dropAfterData, if it returns true, makes the server take the mail
	// and then drop the connection instead of answering the final ".".
	dropAfterData func(n int) bool
	// stall, if non-nil, blocks Data until it is closed; stalledAt is
	// when Data began to block.
	stall     chan struct{}
	stalledAt time.Time

	mu                  sync.Mutex
	msgs                []received
	auths               []authAttempt
	mailN, rcptN, dataN int
	sessions            int
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	b.sessions++
	b.mu.Unlock()
	return &session{b: b, c: c}, nil
}

func (b *backend) received() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

func (b *backend) stallStart() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stalledAt
}

func (b *backend) sessionCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions
}

func (b *backend) authAttempts() []authAttempt {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]authAttempt(nil), b.auths...)
}

type session struct {
	b      *backend
	c      *smtp.Conn
	authed bool
	cur    received
}

func (s *session) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	_, isTLS := s.c.TLSConnectionState()
	s.b.mu.Lock()
	s.b.auths = append(s.b.auths, authAttempt{mech: mech, tls: isTLS})
	s.b.mu.Unlock()
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.b.user || password != s.b.pass {
			// A careless server that echoes the password it was sent: the
			// notifier must keep it out of its errors anyway.
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
				Message: "bad credentials for " + username + " with password " + password}
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.b.mu.Lock()
	s.b.mailN++
	n := s.b.mailN
	s.b.mu.Unlock()
	if s.b.mailHook != nil {
		if err := s.b.mailHook(n); err != nil {
			return err
		}
	}
	s.cur = received{from: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	s.b.rcptN++
	n := s.b.rcptN
	s.b.mu.Unlock()
	if s.b.rcptHook != nil {
		if err := s.b.rcptHook(n, to); err != nil {
			return err
		}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	s.b.mu.Lock()
	s.b.dataN++
	n := s.b.dataN
	s.b.mu.Unlock()
	if s.b.stall != nil {
		s.b.mu.Lock()
		s.b.stalledAt = time.Now()
		s.b.mu.Unlock()
		<-s.b.stall
		return errors.New("released")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.dataHook != nil {
		if err := s.b.dataHook(n); err != nil {
			return err
		}
	}
	s.cur.data = data
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	if s.b.dropAfterData != nil && s.b.dropAfterData(n) {
		_ = s.c.Conn().Close()
		return errors.New("dropped after DATA")
	}
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// serverMode says how the test server speaks TLS.
type serverMode int

const (
	serveStartTLS serverMode = iota // STARTTLS offered
	servePlain                      // no TLS at all
	serveImplicit                   // TLS from the first byte
)

type testServer struct {
	addr       string
	be         *backend
	transcript *testkit.Buffer
}

// startServer runs a go-smtp server on 127.0.0.1 until the test ends.
// insecureAuth lets it accept AUTH without TLS.
func startServer(t *testing.T, pki *testPKI, mode serverMode, insecureAuth bool, be *backend) *testServer {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = insecureAuth
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ts := &testServer{be: be, transcript: &testkit.Buffer{}}
	srv.Debug = ts.transcript
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case serveStartTLS:
		srv.TLSConfig = pki.server
	case serveImplicit:
		l = tls.NewListener(l, pki.server)
	}
	ts.addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		if be.stall != nil {
			close(be.stall)
		}
		_ = srv.Close()
		<-done
	})
	return ts
}
