package vantages

import (
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// One name, two backends: each vantage's namespace resolves shopName to the
// backend its own hosts file names, as a DNS load balancer or a CDN would
// send two regions to two edges.
const (
	shopName   = "shop.lab.test"
	shopURL    = "https://" + shopName + "/"
	backend1IP = "10.77.0.12"
	backend2IP = "10.77.0.13"
	// etcNetns is where `ip netns exec NS` finds files it bind-mounts over
	// /etc's for NS (see ip-netns(8)).
	etcNetns = "/etc/netns"
)

// backend is a TLS server in the web namespace; it counts its requests.
type backend struct{ hits atomic.Int64 }

// serveTLS serves cert on addr (ip:443) inside the namespace ns.
func serveTLS(t *testing.T, ns, addr string, cert tls.Certificate) *backend {
	t.Helper()
	b := &backend{}
	var ln net.Listener
	if err := inNamespace(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(noNamespaces("listening on "+addr+" in "+ns, err))
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			b.hits.Add(1)
			fmt.Fprintln(rw, "shop")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	t.Cleanup(func() { srv.Close() })
	return b
}

// resolveIn makes role's namespace resolve host to ip, for every process
// `ip netns exec` starts there from now on: it writes
// /etc/netns/<role's namespace>/hosts and removes it (and the directories it
// made for it) when the test ends.
func (l *lab) resolveIn(role, host, ip string) {
	l.t.Helper()
	t := l.t
	dir := filepath.Join(etcNetns, l.ns[role])
	switch err := os.Mkdir(etcNetns, 0o755); {
	case err == nil:
		// Removed once empty: a file someone else puts there meanwhile
		// stays, and so does the directory.
		t.Cleanup(func() { os.Remove(etcNetns) })
	case !errors.Is(err, fs.ErrExist):
		t.Fatal(noNamespaces("making "+etcNetns+" for the namespaces' hosts files", err))
	}
	// The directory is named after this lab's own namespace: one that
	// exists already is not ours to write into.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(noNamespaces("making "+dir+" for the namespace's hosts file", err))
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})
	path := filepath.Join(dir, "hosts")
	text := fmt.Sprintf("127.0.0.1\tlocalhost\n%s\t%s\n", ip, host)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(noNamespaces("writing "+path, err))
	}
	t.Cleanup(func() {
		if err := os.Remove(path); err != nil {
			t.Errorf("removing %s: %v", path, err)
		}
	})
}

// writeShopConfig is the coordinator's watchlist for the certificate test:
// one monitor on shopURL from local, a1 and a2, trusting caFile, with the
// default cert_warn_days.
func (l *lab) writeShopConfig(name, caFile string) string {
	l.t.Helper()
	path := filepath.Join(l.dir, name+".toml")
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir = %q\nlisten = \"127.0.0.1:9207\"\n\n", filepath.Join(l.dir, name+"-state"))
	fmt.Fprintf(&b, "[defaults]\nschedule = \"@every 1s\"\ntimeout = \"1s\"\nconfirm = 1\nrecover = 1\nretry_delay = \"0\"\n\n")
	fmt.Fprintf(&b, "[[monitor]]\nname = \"shop\"\nurl = %q\nca_file = %q\nvantages = [\"local\", \"a1\", \"a2\"]\n\n", shopURL, caFile)
	for _, n := range []string{"a1", "a2"} {
		fmt.Fprintf(&b, "[[vantage]]\nname = %q\nurl = \"http://%s:%s\"\nkey_file = %q\n\n", n, agentIPs[n], agentPort, l.keyFile)
	}
	fmt.Fprintf(&b, "[canary]\nurls = [%q]\nevery = \"2s\"\ntimeout = \"1s\"\n", canaryURL)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		l.t.Fatal(err)
	}
	return path
}

// serialOf is cert's serial as the probe reports it, without the colons.
func serialOf(cert tls.Certificate) string {
	return strings.ToUpper(hex.EncodeToString(cert.Leaf.SerialNumber.Bytes()))
}

// TestCertificateWarningNamesTheVantage is the per-vantage test: two
// vantages reach two different backends of one name, and only one of them
// serves the expiring certificate. The real daemon opens a certificate
// incident (partial) that names that vantage only, and the monitor stays up.
func TestCertificateWarningNamesTheVantage(t *testing.T) {
	l := newLab(t)
	web := l.ns["web"]
	l.must("ip", "-n", web, "addr", "add", backend1IP+prefixLen, "dev", "br0")
	l.must("ip", "-n", web, "addr", "add", backend2IP+prefixLen, "dev", "br0")

	ca := testkit.NewCA(t, "Lab Test CA")
	caFile := filepath.Join(l.dir, "ca.pem")
	ca.WriteFile(t, caFile)
	now := time.Now()
	day := 24 * time.Hour
	// An hour past the whole days, so that the round's "days left" is 4
	// however long the test takes.
	fresh := ca.Leaf(t, []string{shopName}, testkit.ValidBetween(now.Add(-time.Hour), now.Add(90*day+time.Hour)))
	short := ca.Leaf(t, []string{shopName}, testkit.ValidBetween(now.Add(-time.Hour), now.Add(4*day+time.Hour)))
	b1 := serveTLS(t, web, backend1IP+":443", fresh)
	b2 := serveTLS(t, web, backend2IP+":443", short)

	// a1 and the coordinator get backend1, a2 backend2. `ip netns exec`
	// mounts the hosts file when it starts a process, so the agents newLab
	// started are started again.
	l.resolveIn("coord", shopName, backend1IP)
	l.resolveIn("a1", shopName, backend1IP)
	l.resolveIn("a2", shopName, backend2IP)
	for _, n := range []string{"a1", "a2"} {
		l.agents[n].stop(t)
		l.startAgent(n)
	}

	opened := func(out string) bool {
		for line := range strings.Lines(out) {
			if strings.Contains(line, "kind=certificate") && strings.Contains(line, "events=opened") {
				return true
			}
		}
		return false
	}
	incs, rows := l.runDaemonUntil(t, "cert", l.writeShopConfig("cert", caFile), "certificate incident", opened)

	// Each backend was really probed: the name resolved differently per
	// namespace (local and a1 → backend1, a2 → backend2).
	if b1.hits.Load() == 0 || b2.hits.Load() == 0 {
		t.Errorf("backend1 got %d requests and backend2 %d; each vantage's hosts file should send one to each", b1.hits.Load(), b2.hits.Load())
	}

	var certs []incident.Incident
	for _, in := range incs {
		if in.Kind == incident.KindCertificate {
			certs = append(certs, in)
			continue
		}
		// The target is up from every vantage: an expiring certificate
		// never makes the monitor down, and no vantage is impaired.
		t.Errorf("a %s incident for %q (%s %s): want only the certificate warning", in.Kind, in.Monitor, in.Class, in.Detail)
	}
	if len(certs) != 1 {
		t.Fatalf("%d certificate incidents; want exactly one: %+v", len(certs), certs)
	}
	in := certs[0]
	js, _ := json.MarshalIndent(in, "", "  ")
	if !in.Open() || in.Monitor != "shop" || in.Class != result.ClassCertExpiring || in.Severity != incident.SeverityWarning {
		t.Errorf("certificate incident: open %v, monitor %q, class %q, severity %q; want an open warning cert_expiring for shop\n%s", in.Open(), in.Monitor, in.Class, in.Severity, js)
	}
	if in.Scope != result.ScopePartial || !slices.Equal(in.Regions, []string{"a2"}) {
		t.Errorf("certificate incident has scope %q regions %q; want partial from [a2] only\n%s", in.Scope, in.Regions, js)
	}
	if in.Last == nil || in.Last.Warning == nil {
		t.Fatalf("certificate incident has no last outcome with a warning\n%s", js)
	}
	w := in.Last.Warning
	if !strings.Contains(w.Summary, "served to a2") || strings.Contains(w.Summary, "a1") || strings.Contains(w.Summary, "local") {
		t.Errorf("warning summary %q; want it to say it was served to a2, naming no other vantage", w.Summary)
	}
	if w.Cert == nil || strings.ReplaceAll(w.Cert.Serial, ":", "") != serialOf(short) || w.Cert.DaysLeft != 4 || w.ThresholdDays != 7 {
		t.Errorf("warning cert %+v threshold %d; want the short leaf (serial %s, 4 days left) under the 7-day threshold", w.Cert, w.ThresholdDays, serialOf(short))
	}
	want := map[string]struct {
		over   bool
		serial string
		addr   string
	}{
		result.LocalVantage: {false, serialOf(fresh), backend1IP},
		"a1":                {false, serialOf(fresh), backend1IP},
		"a2":                {true, serialOf(short), backend2IP},
	}
	seen := map[string]bool{}
	for _, s := range w.Seen {
		seen[s.Vantage] = true
		exp, ok := want[s.Vantage]
		if !ok {
			t.Errorf("warning seen from unknown vantage %q", s.Vantage)
			continue
		}
		if s.Over != exp.over {
			t.Errorf("vantage %s over=%v; want %v\n%s", s.Vantage, s.Over, exp.over, js)
		}
		if s.Cert == nil || strings.ReplaceAll(s.Cert.Serial, ":", "") != exp.serial {
			t.Errorf("vantage %s was served %+v; want the certificate with serial %s", s.Vantage, s.Cert, exp.serial)
		}
		if host, _, err := net.SplitHostPort(s.RemoteAddr); err != nil || host != exp.addr {
			t.Errorf("vantage %s dialled %q; want %s", s.Vantage, s.RemoteAddr, exp.addr)
		}
	}
	for v := range want {
		if !seen[v] {
			t.Errorf("warning has no line for vantage %s: %+v", v, w.Seen)
		}
	}

	// Every round of the target was up everywhere.
	wantScopes(t, rows, result.ScopeNone)
	for _, r := range rows {
		if !r.Result.OK {
			t.Errorf("a round at %s from %q is not ok (%s %s): an expiring certificate must not make the monitor down", r.At.Format(time.RFC3339Nano), r.Vantage, r.Result.Class, r.Result.Detail)
		}
	}
}
