package email

import (
	"encoding/base64"
	"io"
	"log"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/notify"
)

// echoBackend is a careless server whose 535 quotes, base64'd, what the
// client sent in AUTH: the PLAIN blob, or LOGIN's user and password lines.
type echoBackend struct{ mech string }

func (b echoBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return echoSession(b), nil }

type echoSession echoBackend

func (s echoSession) AuthMechanisms() []string { return []string{s.mech} }

func (s echoSession) Auth(mech string) (sasl.Server, error) { return &echoSASL{mech: mech}, nil }

func (echoSession) Mail(string, *smtp.MailOptions) error { return smtp.ErrAuthRequired }
func (echoSession) Rcpt(string, *smtp.RcptOptions) error { return smtp.ErrAuthRequired }
func (echoSession) Data(io.Reader) error                 { return smtp.ErrAuthRequired }
func (echoSession) Reset()                               {}
func (echoSession) Logout() error                        { return nil }

type echoSASL struct {
	mech  string
	lines []string
}

func (e *echoSASL) Next(response []byte) ([]byte, bool, error) {
	fail := func() error {
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
			Message: "authentication failed for " + strings.Join(e.lines, " ")}
	}
	if e.mech == sasl.Plain {
		if response == nil {
			return nil, false, nil
		}
		e.lines = append(e.lines, base64.StdEncoding.EncodeToString(response))
		return nil, false, fail()
	}
	// LOGIN: the first call has no response yet.
	if response != nil {
		e.lines = append(e.lines, base64.StdEncoding.EncodeToString(response))
	}
	switch len(e.lines) {
	case 0:
		return []byte("Username:"), false, nil
	case 1:
		return []byte("Password:"), false, nil
	}
	return nil, false, fail()
}

func startEcho(t *testing.T, pki *testPKI, mech string) string {
	t.Helper()
	srv := smtp.NewServer(echoBackend{mech: mech})
	srv.Domain = "localhost"
	srv.TLSConfig = pki.server
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return l.Addr().String()
}

// TestEchoedAuthBlobIsRedacted: a 535 that quotes the AUTH PLAIN blob, or
// LOGIN's base64 lines, leaves no trace of them in the error or the
// reason, which go to the log and the outbox's last_error.
func TestEchoedAuthBlobIsRedacted(t *testing.T) {
	pki := newPKI(t)
	for _, mech := range []string{sasl.Plain, sasl.Login} {
		t.Run(mech, func(t *testing.T) {
			addr := startEcho(t, pki, mech)
			n := newNotifier(t, receiver(addr, config.TLSStartTLS), pki)
			_, err := n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-1/open"), "")
			p, ok := notify.IsPermanent(err)
			if !ok {
				t.Fatalf("want a permanent 535, got %v", err)
			}
			var leaks []string
			if mech == sasl.Plain {
				leaks = []string{base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + testPass))}
			} else {
				leaks = []string{base64.StdEncoding.EncodeToString([]byte(testUser)), base64.StdEncoding.EncodeToString([]byte(testPass))}
			}
			for _, s := range []string{err.Error(), p.Reason} {
				for _, leak := range leaks {
					if strings.Contains(s, leak) {
						t.Errorf("%q leaks the AUTH line %s", s, leak)
					}
				}
				if !strings.Contains(s, "535") || !strings.Contains(s, "<secret>") {
					t.Errorf("%q: want the 535 kept and the secret masked", s)
				}
			}
		})
	}
}
