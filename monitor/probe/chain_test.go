package probe

import (
	"context"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func TestSerialHexAsOpenSSLPrints(t *testing.T) {
	for _, tc := range []struct {
		n    *big.Int
		want string
	}{
		{big.NewInt(0x0a1b2c), "0A:1B:2C"},
		{big.NewInt(0), "00"},
		{big.NewInt(255), "FF"},
		{new(big.Int).Lsh(big.NewInt(1), 64), "01:00:00:00:00:00:00:00:00"},
	} {
		if got := serialHex(&x509.Certificate{SerialNumber: tc.n}); got != tc.want {
			t.Errorf("serial %v: %q, want %q", tc.n, got, tc.want)
		}
	}
}

// TestEarliestInServedChain serves real chains on loopback and checks that
// the certificate that expires first is found wherever it is in the chain,
// by the probe's own clock.
func TestEarliestInServedChain(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	clock := func() time.Time { return now }
	root := testkit.NewCA(t, "chain root")

	t.Run("leaf with 5 days left", func(t *testing.T) {
		leaf := root.Leaf(t, []string{"app.example.test"}, testkit.ValidBetween(now.Add(-day), now.Add(5*day+time.Hour)))
		u, pins := tlsServer(t, leaf, "app.example.test")
		r := (&Prober{RootCAs: root.Pool(), Now: clock}).Run(context.Background(), Spec{URL: u, Resolve: pins, Timeout: 2 * time.Second})
		check(t, r, result.ClassOK, "")
		e := r.TLS.Earliest
		if e == nil {
			t.Fatal("no earliest certificate")
		}
		if e.Depth != 0 || e.DaysLeft != 5 || r.TLS.DaysLeft != 5 {
			t.Errorf("earliest depth %d days %d (leaf days %d), want the leaf with 5", e.Depth, e.DaysLeft, r.TLS.DaysLeft)
		}
		want := serialHex(leaf.Leaf)
		if r.TLS.Serial != want || e.Serial != want || !strings.Contains(want, ":") || want != strings.ToUpper(want) {
			t.Errorf("serials %q / %q, want %q", r.TLS.Serial, e.Serial, want)
		}
		if e.Subject != "CN=app.example.test" || e.Issuer != "CN=chain root" || len(e.DNSNames) != 1 || !e.NotAfter.Equal(leaf.Leaf.NotAfter) {
			t.Errorf("earliest %+v", e)
		}
	})

	t.Run("intermediate with 3 days left under a year-long leaf", func(t *testing.T) {
		inter := root.Intermediate(t, "chain intermediate", testkit.ValidBetween(now.Add(-day), now.Add(3*day+time.Hour)))
		leaf := inter.Leaf(t, []string{"app.example.test"}, testkit.ValidBetween(now.Add(-day), now.Add(365*day)))
		u, pins := tlsServer(t, leaf, "app.example.test")
		r := (&Prober{RootCAs: root.Pool(), Now: clock}).Run(context.Background(), Spec{URL: u, Resolve: pins, Timeout: 2 * time.Second})
		check(t, r, result.ClassOK, "")
		e := r.TLS.Earliest
		if e == nil {
			t.Fatal("no earliest certificate")
		}
		if e.Depth != 1 || e.DaysLeft != 3 {
			t.Errorf("earliest depth %d days %d, want the intermediate (1) with 3", e.Depth, e.DaysLeft)
		}
		if e.Subject != "CN=chain intermediate" || e.Issuer != "CN=chain root" || e.Serial != serialHex(inter.Cert()) || len(e.DNSNames) != 0 {
			t.Errorf("earliest %+v, want the intermediate, serial %s", e, serialHex(inter.Cert()))
		}
		// The leaf's own fields still describe the leaf.
		if r.TLS.Subject != "CN=app.example.test" || r.TLS.Issuer != "CN=chain intermediate" || r.TLS.Serial != serialHex(leaf.Leaf) || r.TLS.DaysLeft < 364 {
			t.Errorf("leaf info %+v", r.TLS)
		}
	})

	t.Run("a tie goes to the leaf", func(t *testing.T) {
		end := now.Add(10 * day)
		inter := root.Intermediate(t, "tie intermediate", testkit.ValidBetween(now.Add(-day), end))
		leaf := inter.Leaf(t, []string{"app.example.test"}, testkit.ValidBetween(now.Add(-day), end))
		u, pins := tlsServer(t, leaf, "app.example.test")
		r := (&Prober{RootCAs: root.Pool(), Now: clock}).Run(context.Background(), Spec{URL: u, Resolve: pins, Timeout: 2 * time.Second})
		check(t, r, result.ClassOK, "")
		if r.TLS.Earliest == nil || r.TLS.Earliest.Depth != 0 {
			t.Errorf("earliest %+v, want the leaf", r.TLS.Earliest)
		}
	})

	t.Run("recorded when verification fails", func(t *testing.T) {
		inter := root.Intermediate(t, "untrusted intermediate", testkit.ValidBetween(now.Add(-day), now.Add(2*day+time.Hour)))
		leaf := inter.Leaf(t, []string{"app.example.test"}, testkit.ValidBetween(now.Add(-day), now.Add(90*day)))
		u, pins := tlsServer(t, leaf, "app.example.test")
		// No root given: the system's roots do not know the test CA.
		r := (&Prober{Now: clock}).Run(context.Background(), Spec{URL: u, Resolve: pins, Timeout: 2 * time.Second})
		check(t, r, result.ClassTLSError, result.DetailUnknownAuthority)
		if r.TLS == nil || r.TLS.Earliest == nil || r.TLS.Earliest.Depth != 1 || r.TLS.Earliest.DaysLeft != 2 || r.TLS.Serial == "" {
			t.Errorf("tls info %+v earliest %+v", r.TLS, r.TLS.Earliest)
		}
	})

	t.Run("an expired intermediate is the earliest, and the outage", func(t *testing.T) {
		inter := root.Intermediate(t, "expired intermediate", testkit.ValidBetween(now.Add(-10*day), now.Add(-day+time.Hour)))
		leaf := inter.Leaf(t, []string{"app.example.test"}, testkit.ValidBetween(now.Add(-day), now.Add(90*day)))
		u, pins := tlsServer(t, leaf, "app.example.test")
		r := (&Prober{RootCAs: root.Pool(), Now: clock}).Run(context.Background(), Spec{URL: u, Resolve: pins, Timeout: 2 * time.Second})
		check(t, r, result.ClassTLSError, result.DetailCertExpired)
		if e := r.TLS.Earliest; e == nil || e.Depth != 1 || e.DaysLeft != -1 {
			t.Errorf("earliest %+v, want the intermediate, a day gone", e)
		}
	})
}

func TestCAPEMTrustsAPrivateCA(t *testing.T) {
	root := testkit.NewCA(t, "private root")
	inter := root.Intermediate(t, "private intermediate")
	leaf := inter.Leaf(t, []string{"intranet.example.test"}, testkit.ValidBetween(time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour)))
	u, pins := tlsServer(t, leaf, "intranet.example.test")
	spec := Spec{URL: u, Resolve: pins, Timeout: 2 * time.Second, ExpectBody: "secure hello"}

	// Without it, as today: the system roots do not know the CA.
	check(t, (&Prober{}).Run(context.Background(), spec), result.ClassTLSError, result.DetailUnknownAuthority)

	withCA := spec
	withCA.CAPEM = string(root.PEM())
	pl, err := Compile(withCA)
	if err != nil {
		t.Fatal(err)
	}
	check(t, (&Prober{}).RunPlan(context.Background(), pl), result.ClassOK, "")
	// The plan's CA replaces the prober's roots, it is not added to them.
	other := testkit.NewCA(t, "other root")
	check(t, (&Prober{RootCAs: root.Pool()}).RunPlan(context.Background(), mustCompile(t, Spec{URL: u, Resolve: pins, Timeout: 2 * time.Second, CAPEM: string(other.PEM())})),
		result.ClassTLSError, result.DetailUnknownAuthority)
	// A bundle with several certificates, the right one among them.
	bundle := string(other.PEM()) + string(root.PEM())
	check(t, (&Prober{}).RunPlan(context.Background(), mustCompile(t, Spec{URL: u, Resolve: pins, Timeout: 2 * time.Second, CAPEM: bundle})), result.ClassOK, "")
}

func mustCompile(t *testing.T, s Spec) *Plan {
	t.Helper()
	pl, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}
