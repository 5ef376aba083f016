package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"testing"
	"time"
)

// CA is a certificate authority for a test: the tests of the probe, the
// daemon's web listener, the email notifier, the config's ca_file and the
// chaos run each trust one and serve a leaf it issued on loopback.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// served is what a server sends after a leaf this CA issues: the CA's
	// own certificate and its parents' up to, not including, the root.
	// Empty for a root.
	served [][]byte
}

// CertOption changes a certificate NewCA or CA.Leaf makes.
type CertOption func(*certSpec)

type certSpec struct {
	notBefore, notAfter time.Time
	selfSigned          bool
}

// ValidBetween makes the certificate valid from notBefore to notAfter
// only: an expired or not-yet-valid one, or one a fake clock sees expire.
func ValidBetween(notBefore, notAfter time.Time) CertOption {
	return func(s *certSpec) { s.notBefore, s.notAfter = notBefore, notAfter }
}

// SelfSigned makes CA.Leaf sign the leaf with its own key instead of the
// CA's, so that a client trusting the CA finds no authority for it.
func SelfSigned() CertOption {
	return func(s *certSpec) { s.selfSigned = true }
}

// NewCA makes a CA named cn, valid from a year ago for five years unless
// ValidBetween says otherwise, so that a leaf's own dates decide whether a
// chain is valid, even by a probe's fake clock.
func NewCA(t testing.TB, cn string, opts ...CertOption) *CA {
	t.Helper()
	cert, key, _ := makeCA(t, "test CA", cn, 5, nil, nil, opts)
	return &CA{cert: cert, key: key}
}

// makeCA makes a CA certificate named cn, valid from a year ago for years
// unless ValidBetween says otherwise, signed by parent (itself when nil).
// what names it in failures.
func makeCA(t testing.TB, what, cn string, years int, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, opts []CertOption) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	now := time.Now()
	s := certSpec{notBefore: now.Add(-365 * 24 * time.Hour), notAfter: now.Add(time.Duration(years) * 365 * 24 * time.Hour)}
	for _, o := range opts {
		o(&s)
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             s.notBefore,
		NotAfter:              s.notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("making the %s %q: %v", what, cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing the %s %q: %v", what, cn, err)
	}
	return cert, key, der
}

// Intermediate makes a CA named cn that c signs, valid from a year ago for
// four years unless ValidBetween says otherwise (a short one is how a test
// makes an intermediate that expires before its leaves). The leaves it
// issues are served with it (and any intermediate above it), as a server
// sends its chain, so a client that trusts only the root verifies them.
func (c *CA) Intermediate(t testing.TB, cn string, opts ...CertOption) *CA {
	t.Helper()
	cert, key, der := makeCA(t, "test intermediate CA", cn, 4, c.cert, c.key, opts)
	served := append([][]byte{der}, c.served...)
	return &CA{cert: cert, key: key, served: served}
}

// Cert is the CA's own certificate.
func (c *CA) Cert() *x509.Certificate { return c.cert }

// PEM is the CA's certificate as a PEM block, as a ca_file holds it.
func (c *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

// Pool is a new pool that trusts the CA and nothing else.
func (c *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.cert)
	return pool
}

// WriteFile writes the CA's PEM to path.
func (c *CA) WriteFile(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, c.PEM(), 0o600); err != nil {
		t.Fatalf("writing the test CA: %v", err)
	}
}

// Leaf issues a server certificate for names, each a DNS name or an IP
// address; the first is also its common name. It is valid from an hour ago
// for a day unless ValidBetween says otherwise. A wrong name is a leaf
// issued for other names. A leaf of an Intermediate carries the chain up
// to the root, as served.
func (c *CA) Leaf(t testing.TB, names []string, opts ...CertOption) tls.Certificate {
	t.Helper()
	if len(names) == 0 {
		t.Fatal("a test leaf certificate needs a name")
	}
	now := time.Now()
	s := certSpec{notBefore: now.Add(-time.Hour), notAfter: now.Add(24 * time.Hour)}
	for _, o := range opts {
		o(&s)
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    s.notBefore,
		NotAfter:     s.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	parent, signer := c.cert, c.key
	if s.selfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatalf("issuing a test certificate for %v: %v", names, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parsing a test certificate for %v: %v", names, err)
	}
	chain := [][]byte{der}
	if !s.selfSigned {
		chain = append(chain, c.served...)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}
}

// ServerTLS is a server configuration that presents a leaf for names.
func (c *CA) ServerTLS(t testing.TB, names ...string) *tls.Config {
	t.Helper()
	return &tls.Config{Certificates: []tls.Certificate{c.Leaf(t, names)}, MinVersion: tls.VersionTLS12}
}

// WriteKeyPair writes cert's certificate and private key as PEM to
// certFile and keyFile, as a server's cert_file and key_file hold them.
func WriteKeyPair(t testing.TB, cert tls.Certificate, certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatalf("encoding a test key: %v", err)
	}
	var certPEM []byte
	for _, der := range cert.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatalf("writing a test certificate: %v", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatalf("writing a test key: %v", err)
	}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("making a test key: %v", err)
	}
	return key
}

// serial is random so that no two certificates a test makes share one.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatalf("making a test serial number: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}
