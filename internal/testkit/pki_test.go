package testkit_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
)

// handshake serves cert on loopback and returns what a client that trusts
// pool and asks for serverName makes of it.
func handshake(t *testing.T, cert tls.Certificate, pool *x509.CertPool, serverName string) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		c.Close()
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: serverName})
	if err == nil {
		c.Close()
	}
	return err
}

func TestCALeavesVerifyOnlyAsAsked(t *testing.T) {
	ca := testkit.NewCA(t, "kit CA")
	now := time.Now()
	if err := handshake(t, ca.Leaf(t, []string{"127.0.0.1", "localhost"}), ca.Pool(), "localhost"); err != nil {
		t.Errorf("a leaf for localhost: %v", err)
	}
	if err := handshake(t, ca.Leaf(t, []string{"127.0.0.1"}), ca.Pool(), "127.0.0.1"); err != nil {
		t.Errorf("a leaf for 127.0.0.1: %v", err)
	}
	var inv x509.CertificateInvalidError
	err := handshake(t, ca.Leaf(t, []string{"app.test"}, testkit.ValidBetween(now.Add(-48*time.Hour), now.Add(-24*time.Hour))), ca.Pool(), "app.test")
	if !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Errorf("an expired leaf: %v", err)
	}
	var host x509.HostnameError
	if err := handshake(t, ca.Leaf(t, []string{"other.test"}), ca.Pool(), "app.test"); !errors.As(err, &host) {
		t.Errorf("a leaf for another name: %v", err)
	}
	var unknown x509.UnknownAuthorityError
	if err := handshake(t, ca.Leaf(t, []string{"app.test"}, testkit.SelfSigned()), ca.Pool(), "app.test"); !errors.As(err, &unknown) {
		t.Errorf("a self-signed leaf: %v", err)
	}
	if err := handshake(t, ca.Leaf(t, []string{"app.test"}), testkit.NewCA(t, "another CA").Pool(), "app.test"); !errors.As(err, &unknown) {
		t.Errorf("a leaf of another CA: %v", err)
	}
}

func TestCAFilesLoad(t *testing.T) {
	ca := testkit.NewCA(t, "kit CA")
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	ca.WriteFile(t, caFile)
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) || !pool.Equal(ca.Pool()) {
		t.Errorf("the CA file does not hold the CA")
	}
	certFile, keyFile := filepath.Join(dir, "web.crt"), filepath.Join(dir, "web.key")
	testkit.WriteKeyPair(t, ca.Leaf(t, []string{"127.0.0.1"}), certFile, keyFile)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, pair, ca.Pool(), "127.0.0.1"); err != nil {
		t.Errorf("the written key pair: %v", err)
	}
}
