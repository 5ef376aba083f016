package daemon

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// caFileTOML is monitorTOML with the monitor trusting only the CA in
// caFile, as an operator with a private CA configures it: the prober
// itself trusts nothing but the system roots.
func caFileTOML(name, url, caFile string) string {
	return monitorTOML(name, url) + "ca_file = \"" + caFile + "\"\n"
}

// The served chain decides: a leaf with one day left is critical (the last
// threshold), and a year-long leaf under an intermediate with three days
// left is a warning about the intermediate, which the warning names.
func TestCertificateWarningOverTheServedChain(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	ca := testCA(t)
	caFile := filepath.Join(t.TempDir(), "private-ca.pem")
	ca.WriteFile(t, caFile)

	t.Run("one day left is critical", func(t *testing.T) {
		tg := newTLSTarget(t, leafFor(t, ca, day+6*time.Hour))
		rec := &recorder{}
		f, _ := newWarnFixture(t, caFileTOML("web", tg.URL, caFile)+receiverTOML, nil, nil, rec)
		f.round("web")
		if s := f.state("web"); s != incident.StateUp {
			t.Fatalf("target %s, want up: the private CA in ca_file verifies the server", s)
		}
		certs := f.kindIncidents("web", incident.KindCertificate)
		if len(certs) != 1 || certs[0].Severity != incident.SeverityCritical || certs[0].Detail != result.WarnDetail(2) {
			t.Fatalf("certificate incidents %+v, want one critical under-2-days (the default thresholds' last)", certs)
		}
		if n := f.deliver(); n != 1 {
			t.Fatalf("delivered %d, want the one critical warning", n)
		}
		msgs, _ := rec.got()
		if m := msgs[0]; m.Severity != incident.SeverityCritical || m.Kind != incident.KindCertificate {
			t.Errorf("message %+v, want a critical certificate warning", m)
		}
	})

	t.Run("an intermediate that expires first", func(t *testing.T) {
		inter := ca.Intermediate(t, "vantage test intermediate", testkit.ValidBetween(t0.Add(-300*day), t0.Add(3*day+6*time.Hour)))
		leaf := inter.Leaf(t, []string{"127.0.0.1"}, testkit.ValidBetween(t0.Add(-time.Hour), t0.Add(365*day)))
		tg := newTLSTarget(t, leaf)
		rec := &recorder{}
		f, _ := newWarnFixture(t, caFileTOML("web", tg.URL, caFile)+receiverTOML, nil, nil, rec)
		f.round("web")
		if s := f.state("web"); s != incident.StateUp {
			t.Fatalf("target %s, want up", s)
		}
		certs := f.kindIncidents("web", incident.KindCertificate)
		if len(certs) != 1 || certs[0].Severity != incident.SeverityWarning || certs[0].Detail != result.WarnDetail(7) {
			t.Fatalf("certificate incidents %+v, want one warning under-7-days", certs)
		}
		w := certs[0].Last.Warning
		if w == nil || w.Cert == nil {
			t.Fatalf("the incident's outcome has no warning: %+v", certs[0].Last)
		}
		if w.Cert.Depth != 1 || !strings.Contains(w.Cert.Subject, "vantage test intermediate") || w.Cert.DaysLeft != 3 {
			t.Errorf("warning's certificate %+v, want the intermediate (depth 1) with 3 days left", w.Cert)
		}
		if !strings.Contains(w.Summary, "intermediate") {
			t.Errorf("summary %q does not say the intermediate expires", w.Summary)
		}
		if tlsInfo := certs[0].Last.TLS; tlsInfo == nil || tlsInfo.DaysLeft < 364 {
			t.Errorf("leaf %+v, want the year-long leaf beside the intermediate", tlsInfo)
		}
		if n := f.deliver(); n != 1 {
			t.Fatalf("delivered %d, want the warning", n)
		}
	})

	t.Run("without ca_file an unknown authority stays a tls_error", func(t *testing.T) {
		tg := newTLSTarget(t, leafFor(t, ca, 5*day))
		f, _ := newWarnFixture(t, monitorTOML("web", tg.URL), nil, nil, nil)
		f.round("web")
		last := f.d.lookup("web").last
		if last == nil || last.Class != result.ClassTLSError || last.Detail != result.DetailUnknownAuthority {
			t.Fatalf("last outcome %+v, want tls_error unknown-authority", last)
		}
	})
}

// A warning's open incident row that does not decode stops only that
// warning: the monitor runs on, and the warning takes its row over when it
// opens again.
func TestCorruptWarningRowStopsOnlyTheWarning(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	ca := testCA(t)
	tg := newTLSTarget(t, leafFor(t, ca, 5*day+12*time.Hour))
	f, restart := newWarnFixture(t, monitorTOML("web", tg.URL), nil, ca.Pool(), nil)
	f.round("web")
	certs := f.kindIncidents("web", incident.KindCertificate)
	if len(certs) != 1 {
		t.Fatalf("certificate incidents %+v, want one", certs)
	}
	id := certs[0].ID
	db, err := sql.Open("sqlite", f.d.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE incidents SET changes = 'not json' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}

	restart()
	views, err := f.d.Monitors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 || views[0].Problem != "" {
		t.Fatalf("views %+v, want web running: a bad warning row must not stop the monitor", views)
	}
	if !strings.Contains(f.logs.String(), "open warning incident does not decode") {
		t.Errorf("the bad row was not logged:\n%s", f.logs.String())
	}
	f.round("web")
	if s := f.state("web"); s != incident.StateUp {
		t.Fatalf("web %s, want up", s)
	}
	inc, err := f.d.store.Incident(context.Background(), id)
	if err != nil || !inc.Open() {
		t.Fatalf("the warning's row %+v (%v), want it taken over, open and readable", inc, err)
	}
	if w := f.warningOf("web", incident.KindCertificate); w == nil || w.ID != id {
		t.Errorf("the certificate machine holds %+v, want incident %d", w, id)
	}
}
