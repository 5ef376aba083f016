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

func TestIntermediateLeavesCarryTheChain(t *testing.T) {
	root := testkit.NewCA(t, "kit root")
	now := time.Now()
	inter := root.Intermediate(t, "kit intermediate", testkit.ValidBetween(now.Add(-time.Hour), now.Add(72*time.Hour)))
	if inter.Cert().Issuer.CommonName != "kit root" || !inter.Cert().IsCA {
		t.Fatalf("intermediate %v issued by %v", inter.Cert().Subject, inter.Cert().Issuer)
	}
	if !inter.Cert().NotAfter.Equal(now.Add(72 * time.Hour).Truncate(time.Second)) {
		t.Errorf("intermediate not_after %v", inter.Cert().NotAfter)
	}
	leaf := inter.Leaf(t, []string{"app.test"}, testkit.ValidBetween(now.Add(-time.Hour), now.Add(365*24*time.Hour)))
	if len(leaf.Certificate) != 2 {
		t.Fatalf("a leaf of an intermediate is served with %d certificates, want 2", len(leaf.Certificate))
	}
	if got, _ := x509.ParseCertificate(leaf.Certificate[1]); got == nil || !got.Equal(inter.Cert()) {
		t.Errorf("the second certificate served is not the intermediate")
	}
	// Only the root is trusted: the served intermediate completes the chain.
	if err := handshake(t, leaf, root.Pool(), "app.test"); err != nil {
		t.Errorf("a leaf under the intermediate, trusting the root: %v", err)
	}
	// Two levels down, each intermediate is served, the root is not.
	deeper := inter.Intermediate(t, "kit issuing CA")
	leaf2 := deeper.Leaf(t, []string{"app.test"})
	if len(leaf2.Certificate) != 3 {
		t.Fatalf("a leaf two levels down is served with %d certificates, want 3", len(leaf2.Certificate))
	}
	if err := handshake(t, leaf2, root.Pool(), "app.test"); err != nil {
		t.Errorf("a leaf two levels down, trusting the root: %v", err)
	}
	if self := inter.Leaf(t, []string{"app.test"}, testkit.SelfSigned()); len(self.Certificate) != 1 {
		t.Errorf("a self-signed leaf is served with %d certificates", len(self.Certificate))
	}
}
