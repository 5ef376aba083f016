package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// tlsServer serves "secure hello" over TLS with cert on loopback and returns
// a URL naming host, pinned to the server.
func tlsServer(t *testing.T, cert tls.Certificate, host string) (string, []string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure hello")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "https://" + net.JoinHostPort(host, port) + "/", []string{host + ":" + port + ":127.0.0.1"}
}

func TestTLS(t *testing.T) {
	pki := testkit.NewCA(t, "vantage test CA")
	now := time.Now()
	day := 24 * time.Hour
	valid := pki.Leaf(t, []string{"app.example.test"}, testkit.ValidBetween(now.Add(-day), now.Add(90*day)))
	expiry := time.Date(now.Year()-1, 3, 14, 12, 0, 0, 0, time.UTC)
	expired := pki.Leaf(t, []string{"app.example.test"}, testkit.ValidBetween(expiry.Add(-90*day), expiry))
	future := pki.Leaf(t, []string{"app.example.test"}, testkit.ValidBetween(now.Add(30*day), now.Add(120*day)))
	wrongName := pki.Leaf(t, []string{"other.example.test"}, testkit.ValidBetween(now.Add(-day), now.Add(90*day)))
	selfSigned := pki.Leaf(t, []string{"app.example.test"}, testkit.ValidBetween(now.Add(-day), now.Add(90*day)), testkit.SelfSigned())
	ipCert := pki.Leaf(t, []string{"127.0.0.1"}, testkit.ValidBetween(now.Add(-day), now.Add(90*day)))

	tests := []struct {
		name     string
		cert     tls.Certificate
		host     string
		insecure bool
		clock    time.Time
		class    result.Class
		detail   string
		inError  string
	}{
		{name: "valid chain", cert: valid, host: "app.example.test", class: result.ClassOK},
		{name: "valid for an IP", cert: ipCert, host: "127.0.0.1", class: result.ClassOK},
		{name: "expired", cert: expired, host: "app.example.test", class: result.ClassTLSError, detail: result.DetailCertExpired, inError: expiry.Format(time.RFC3339)},
		{name: "not yet valid", cert: future, host: "app.example.test", class: result.ClassTLSError, detail: result.DetailCertNotYetValid},
		{name: "wrong name", cert: wrongName, host: "app.example.test", class: result.ClassTLSError, detail: result.DetailHostnameMismatch},
		{name: "self-signed", cert: selfSigned, host: "app.example.test", class: result.ClassTLSError, detail: result.DetailUnknownAuthority},
		{name: "insecure accepts expired", cert: expired, host: "app.example.test", insecure: true, class: result.ClassOK},
		{name: "insecure accepts wrong name", cert: wrongName, host: "app.example.test", insecure: true, class: result.ClassOK},
		{name: "expired by the probe's clock", cert: valid, host: "app.example.test", clock: now.Add(100 * day), class: result.ClassTLSError, detail: result.DetailCertExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, pins := tlsServer(t, tc.cert, tc.host)
			p := &Prober{RootCAs: pki.Pool()}
			if !tc.clock.IsZero() {
				p.Now = func() time.Time { return tc.clock }
			}
			r := p.Run(context.Background(), Spec{URL: u, Resolve: pins, Insecure: tc.insecure, ExpectBody: "secure hello", Timeout: time.Second})
			check(t, r, tc.class, tc.detail)
			if !strings.Contains(r.Error, tc.inError) {
				t.Errorf("error %q does not mention %q", r.Error, tc.inError)
			}
			if r.TLS == nil {
				t.Fatalf("no TLS info recorded")
			}
			clock := tc.clock
			if clock.IsZero() {
				clock = time.Now()
			}
			wantDays := int(r.TLS.NotAfter.Sub(clock).Hours() / 24)
			if d := r.TLS.DaysLeft - wantDays; d < -1 || d > 0 {
				t.Errorf("days_left %d, want about %d", r.TLS.DaysLeft, wantDays)
			}
			leaf, err := x509.ParseCertificate(tc.cert.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			if r.TLS.Subject != leaf.Subject.String() || r.TLS.Issuer != leaf.Issuer.String() || !r.TLS.NotAfter.Equal(leaf.NotAfter) || r.TLS.Version != "TLS 1.3" {
				t.Errorf("tls info %+v", r.TLS)
			}
			if tc.detail == result.DetailCertExpired && r.TLS.DaysLeft >= 0 {
				t.Errorf("expired cert with %d days left", r.TLS.DaysLeft)
			}
			if r.Phases.TLSMs <= 0 {
				t.Errorf("tls_ms %v", r.Phases.TLSMs)
			}
		})
	}
}

func TestTLSHandshakeFailure(t *testing.T) {
	// An HTTP server on an https URL answers the ClientHello with plain text.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	r := (&Prober{}).Run(context.Background(), Spec{URL: "https://" + srv.Listener.Addr().String() + "/", Timeout: time.Second})
	check(t, r, result.ClassTLSError, result.DetailHandshakeFailure)
	if r.TLS != nil {
		t.Errorf("TLS info without a certificate: %+v", r.TLS)
	}

	// A server that closes during the handshake.
	addr := rawServer(t, func(c net.Conn) { c.Read(make([]byte, 10)); c.Close() })
	r = (&Prober{}).Run(context.Background(), Spec{URL: "https://" + addr + "/", Timeout: time.Second})
	check(t, r, result.ClassTLSError, result.DetailHandshakeFailure)
}
