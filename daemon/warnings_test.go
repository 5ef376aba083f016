package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
)

const day = 24 * time.Hour

// testCA is a CA valid around the fake clock's start, whatever the date.
func testCA(t *testing.T) *testkit.CA {
	t.Helper()
	return testkit.NewCA(t, "vantage test CA", testkit.ValidBetween(t0.Add(-365*day), t0.Add(5*365*day)))
}

// leafFor is a leaf for 127.0.0.1 that expires left after the fake clock's
// start.
func leafFor(t *testing.T, ca *testkit.CA, left time.Duration) tls.Certificate {
	t.Helper()
	return ca.Leaf(t, []string{"127.0.0.1"}, testkit.ValidBetween(t0.Add(-time.Hour), t0.Add(left)))
}

// tlsTarget is a loopback HTTPS server presenting a leaf the test made.
type tlsTarget struct {
	*httptest.Server
	mu sync.Mutex
}

func newTLSTarget(t *testing.T, leaf tls.Certificate) *tlsTarget {
	t.Helper()
	tg := &tlsTarget{}
	tg.Server = startTLS(t, nil, leaf)
	t.Cleanup(func() {
		tg.mu.Lock()
		defer tg.mu.Unlock()
		tg.Server.Close()
	})
	return tg
}

func startTLS(t *testing.T, ln net.Listener, leaf tls.Certificate) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	if ln != nil {
		_ = srv.Listener.Close()
		srv.Listener = ln
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	return srv
}

// restart stops the server and starts it again on the same address with
// another certificate, as a renewal does.
func (tg *tlsTarget) restart(t *testing.T, leaf tls.Certificate) {
	t.Helper()
	tg.mu.Lock()
	defer tg.mu.Unlock()
	addr := tg.Listener.Addr().String()
	tg.Server.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	tg.Server = startTLS(t, ln, leaf)
}

// withWarnings sets the warnings of every monitor: cert_warn_days days
// (none: off) and, when deg is set, the degraded thresholds over rounds.
func withWarnings(days []int, deg config.Degraded, rounds int) func(*config.Config) {
	return func(c *config.Config) {
		for i := range c.Monitors {
			c.Monitors[i].CertWarnDays = append([]int{}, days...)
			c.Monitors[i].Degraded = deg
			c.Monitors[i].DegradedRounds = rounds
		}
	}
}

// newWarnFixture is a fixture whose config edit sets, whose prober trusts
// pool (the system roots if nil), and whose receivers are rec.
func newWarnFixture(t *testing.T, body string, edit func(*config.Config), pool *x509.CertPool, rec *recorder) (*fixture, func()) {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, clock: testkit.NewClock(t0), logs: &testkit.Buffer{}, edit: edit}
	f.file = writeConfig(t, dir, body)
	opts := func(o *Options) {
		o.Prober = &probe.Prober{Now: f.clock.Now, RootCAs: pool}
		if rec != nil {
			withRecorder(rec)(o)
		}
	}
	f.open(opts)
	restart := func() {
		t.Helper()
		if err := f.d.Close(); err != nil {
			t.Fatal(err)
		}
		f.open(opts)
	}
	return f, restart
}

func (f *fixture) kindIncidents(monitor string, k incident.Kind) []incident.Incident {
	f.t.Helper()
	var out []incident.Incident
	for _, inc := range f.incidents(monitor) {
		if inc.Kind == k {
			out = append(out, inc)
		}
	}
	return out
}

// warningOf is the open incident of monitor's warning machine of kind k,
// nil when none is open (or the monitor has no such machine).
func (f *fixture) warningOf(monitor string, k incident.Kind) *incident.Incident {
	f.t.Helper()
	m := f.d.lookup(monitor)
	m.mu.Lock()
	defer m.mu.Unlock()
	if machine := m.machineOf(k); machine != nil {
		return machine.Incident()
	}
	return nil
}

func (f *fixture) view(name string) []byte {
	f.t.Helper()
	views, err := f.d.Monitors(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	for _, v := range views {
		if v.Name == name {
			b, err := json.Marshal(v)
			if err != nil {
				f.t.Fatal(err)
			}
			return b
		}
	}
	f.t.Fatalf("no view of %s", name)
	return nil
}

// A leaf with 5 days left opens one certificate warning and leaves the
// target up; a restart keeps it open without a second DOWN; the server
// restarted with a fresh certificate resolves it on the same message.
func TestCertificateWarningOpensOnceSurvivesARestartAndResolvesOnRenewal(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	ca := testCA(t)
	tg := newTLSTarget(t, leafFor(t, ca, 5*day+12*time.Hour))
	rec := &recorder{}
	f, restart := newWarnFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withWarnings([]int{21, 7, 2}, config.Degraded{}, 0), ca.Pool(), rec)
	ctx := context.Background()

	f.round("web")
	if s := f.state("web"); s != incident.StateUp {
		t.Fatalf("target %s, want up: an expiring certificate is a warning, not an outage", s)
	}
	certs := f.kindIncidents("web", incident.KindCertificate)
	if len(certs) != 1 || !certs[0].Open() || certs[0].Class != result.ClassCertExpiring || certs[0].Severity != incident.SeverityWarning {
		t.Fatalf("certificate incidents %+v, want one open cert_expiring warning", certs)
	}
	id := certs[0].ID
	if targets := f.kindIncidents("web", incident.KindTarget); len(targets) != 0 {
		t.Fatalf("target incidents %+v, want none", targets)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d, want the warning's one message", n)
	}
	msgs, _ := rec.got()
	if open := msgs[0]; open.Event != incident.NotifyOpen || open.Kind != incident.KindCertificate || open.Monitor != "web" || open.IncidentID != id {
		t.Fatalf("message %+v, want web's certificate warning opening", open)
	}
	if st := f.d.lookup("web").status.Load(); !st.certWarning || st.degraded || st.incidentOpen || st.state != incident.StateUp {
		t.Errorf("published status %+v, want up with a certificate warning", st)
	}
	v := f.view("web")
	var view struct {
		State        incident.State      `json:"state"`
		OpenIncident *incident.Incident  `json:"open_incident"`
		Warnings     []incident.Incident `json:"warnings"`
	}
	if err := json.Unmarshal(v, &view); err != nil {
		t.Fatal(err)
	}
	if view.State != incident.StateUp || view.OpenIncident != nil || len(view.Warnings) != 1 || view.Warnings[0].ID != id {
		t.Fatalf("view %s, want up with the certificate warning in warnings", v)
	}
	if !strings.Contains(f.logs.String(), fmt.Sprintf(`monitor=web kind=certificate from=up to=down class=cert_expiring detail=%s incident=%d events=opened`, certs[0].Detail, id)) {
		t.Errorf("no log line for the warning:\n%s", f.logs.String())
	}
	snap, ok, err := f.d.store.State(ctx, "web")
	if err != nil || !ok || !strings.Contains(string(snap.Data), `"target":`) || !strings.Contains(string(snap.Data), `"certificate":`) {
		t.Fatalf("web's states row %s (ok=%v, err=%v), want the certificate machine beside the target's", snap.Data, ok, err)
	}

	// Steady: the round is only buffered, nothing is sent.
	buffered := f.d.Buffered()
	f.round("web")
	if f.d.Buffered() != buffered+1 {
		t.Error("a round that changed no machine was not only buffered")
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d on a steady round, want 0", n)
	}

	restart()
	if inc := f.warningOf("web", incident.KindCertificate); inc == nil || inc.ID != id {
		t.Fatalf("after a restart the certificate machine holds %+v, want incident %d", inc, id)
	}
	f.round("web")
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d after the restart, want 0 (no second DOWN)", n)
	}
	if certs := f.kindIncidents("web", incident.KindCertificate); len(certs) != 1 || !certs[0].Open() {
		t.Fatalf("after the restart: certificate incidents %+v, want the same one open", certs)
	}

	tg.restart(t, leafFor(t, ca, 90*day))
	f.round("web")
	inc, err := f.d.store.Incident(ctx, id)
	if err != nil || inc.Open() {
		t.Fatalf("after the renewal the warning is %+v (%v), want it resolved", inc, err)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the renewal, want the RESOLVED", n)
	}
	msgs, refs := rec.got()
	if res := msgs[len(msgs)-1]; res.Event != incident.NotifyResolve || res.Kind != incident.KindCertificate || res.IncidentID != id {
		t.Fatalf("last message %+v, want the warning's RESOLVED", res)
	}
	if refs[len(refs)-1] != "C1/1.000" {
		t.Errorf("the RESOLVED was given ref %q, want the warning's message C1/1.000", refs[len(refs)-1])
	}
	if s := f.state("web"); s != incident.StateUp {
		t.Errorf("target %s, want up", s)
	}
	if v := f.view("web"); !strings.Contains(string(v), `"warnings":[]`) {
		t.Errorf("view %s, want warnings empty, not null", v)
	}
	if st := f.d.lookup("web").status.Load(); st.certWarning {
		t.Error("published status still has the certificate warning")
	}
}

// Crossing the next threshold is one change of the open incident, sent as
// an update on the first message, not a new one.
func TestCertificateThresholdCrossingIsAnUpdate(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	ca := testCA(t)
	tg := newTLSTarget(t, leafFor(t, ca, 8*day+12*time.Hour))
	rec := &recorder{}
	f, _ := newWarnFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withWarnings([]int{21, 7, 2}, config.Degraded{}, 0), ca.Pool(), rec)

	f.round("web")
	certs := f.kindIncidents("web", incident.KindCertificate)
	if len(certs) != 1 || certs[0].Detail != result.WarnDetail(21) {
		t.Fatalf("certificate incidents %+v, want one under 21 days", certs)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d, want the warning", n)
	}

	f.clock.Advance(2 * day)
	f.round("web")
	certs = f.kindIncidents("web", incident.KindCertificate)
	if len(certs) != 1 || !certs[0].Open() || certs[0].Detail != result.WarnDetail(7) || len(certs[0].Changes) == 0 {
		t.Fatalf("two days later: certificate incidents %+v, want the same one, changed to under 7 days", certs)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the crossing, want one update", n)
	}
	msgs, refs := rec.got()
	if up := msgs[1]; up.Event != incident.NotifyUpdate || up.IncidentID != certs[0].ID || up.Kind != incident.KindCertificate {
		t.Fatalf("second message %+v, want an update of the warning", up)
	}
	if refs[1] != "C1/1.000" {
		t.Errorf("the update was given ref %q, want the first message C1/1.000 (same thread)", refs[1])
	}
	if !strings.Contains(f.logs.String(), `msg="incident updated" monitor=web kind=certificate from=down to=down`) {
		t.Errorf("no log line for the crossing:\n%s", f.logs.String())
	}
}

// A slow TTFB over degraded_rounds rounds opens a performance warning that
// names the phase, the target staying up; fast rounds resolve it.
func TestDegradedOpensAfterRoundsAndResolves(t *testing.T) {
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if slow.Load() {
			time.Sleep(300 * time.Millisecond)
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	f, _ := newWarnFixture(t, monitorTOML("web", srv.URL), withWarnings(nil, config.Degraded{TTFB: 100 * time.Millisecond}, 2), nil, nil)

	slow.Store(true)
	f.round("web")
	if incs := f.kindIncidents("web", incident.KindPerformance); len(incs) != 0 {
		t.Fatalf("after one slow round: %+v, want none yet (degraded_rounds = 2)", incs)
	}
	f.round("web")
	perf := f.kindIncidents("web", incident.KindPerformance)
	if len(perf) != 1 || !perf[0].Open() || perf[0].Class != result.ClassDegraded || perf[0].Detail != result.PhaseTTFB {
		t.Fatalf("after two slow rounds: %+v, want one open degraded incident naming ttfb", perf)
	}
	if s := f.state("web"); s != incident.StateUp {
		t.Fatalf("target %s, want up: a degraded monitor is up", s)
	}
	if st := f.d.lookup("web").status.Load(); !st.degraded || st.certWarning {
		t.Errorf("published status %+v, want degraded", st)
	}

	slow.Store(false)
	f.round("web")
	f.round("web") // recover = 2
	inc, err := f.d.store.Incident(context.Background(), perf[0].ID)
	if err != nil || inc.Open() {
		t.Fatalf("after two fast rounds: %+v (%v), want resolved", inc, err)
	}
	if f.warningOf("web", incident.KindPerformance) != nil {
		t.Error("the performance machine still holds an incident")
	}
}

// A warning that opens while the store cannot write is sent from memory,
// marked not persisted, and written when the store writes again, without
// being sent twice.
func TestWarningWhileStoreFailsGoesFromMemory(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	ca := testCA(t)
	tg := newTLSTarget(t, leafFor(t, ca, 5*day+12*time.Hour))
	rec := &recorder{}
	f, _ := newWarnFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withWarnings([]int{21, 7, 2}, config.Degraded{}, 0), ca.Pool(), rec)
	ctx := context.Background()
	st := f.d.store

	st.SetWriteFault(syscall.ENOSPC)
	f.round("web")
	if f.warningOf("web", incident.KindCertificate) == nil {
		t.Fatal("the certificate machine holds no incident although the store only failed to write")
	}
	if incs := f.incidents("web"); len(incs) != 0 {
		t.Fatalf("the store has incidents %+v while it could not write", incs)
	}
	if n := f.deliverDirect(); n != 2 {
		t.Fatalf("delivered %d from memory, want the store notice and the warning", n)
	}
	msgs, _ := rec.got()
	warn := msgs[1]
	if warn.Event != incident.NotifyOpen || warn.Kind != incident.KindCertificate || !warn.NotPersisted {
		t.Fatalf("second message %+v, want the warning marked not persisted", warn)
	}
	f.round("web") // steady while the store fails
	if n := f.deliverDirect(); n != 0 {
		t.Fatalf("delivered %d more from memory on a steady round", n)
	}

	st.SetWriteFault(nil)
	if err := f.d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.d.PersistUnsaved(ctx); err != nil {
		t.Fatal(err)
	}
	certs := f.kindIncidents("web", incident.KindCertificate)
	if len(certs) != 1 || !certs[0].Open() {
		t.Fatalf("after the store recovered: %+v, want the warning stored open", certs)
	}
	if inc := f.warningOf("web", incident.KindCertificate); inc == nil || inc.ID != certs[0].ID {
		t.Fatalf("machine's warning %+v, want the stored ID %d", inc, certs[0].ID)
	}
	if _, ok, err := st.Delivered(ctx, warn.Key); err != nil || !ok {
		t.Fatalf("the warning sent from memory is not recorded as delivered (ok=%v, err=%v)", ok, err)
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("the outbox delivered %d after the store recovered, want 0", n)
	}
	if n := f.deliverDirect(); n != 1 {
		t.Fatalf("delivered %d from memory after the store recovered, want the notice that it writes again", n)
	}
	snap, ok, err := st.State(ctx, "web")
	if err != nil || !ok || !strings.Contains(string(snap.Data), fmt.Sprintf(`"id":%d`, certs[0].ID)) {
		t.Fatalf("web's states row %s, want the warning with its stored ID", snap.Data)
	}
}

// A reload that turns cert_warn_days off resolves the open warning ("warning
// turned off") on its message; turning it on again starts afresh.
func TestReloadTurningTheWarningOffResolvesIt(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	ca := testCA(t)
	tg := newTLSTarget(t, leafFor(t, ca, 5*day+12*time.Hour))
	rec := &recorder{}
	f, _ := newWarnFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withWarnings([]int{21, 7, 2}, config.Degraded{}, 0), ca.Pool(), rec)
	ctx := context.Background()
	f.round("web")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d, want the warning", n)
	}
	id := f.kindIncidents("web", incident.KindCertificate)[0].ID

	reload := func(days []int) {
		t.Helper()
		cfg := loadConfig(t, f.file)
		withWarnings(days, config.Degraded{}, 0)(cfg)
		if err := f.d.Reload(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	reload([]int{})
	inc, err := f.d.store.Incident(ctx, id)
	if err != nil || inc.Open() || inc.Resolution != resolutionWarningOff {
		t.Fatalf("after cert_warn_days = []: %+v (%v), want resolved as %q", inc, err, resolutionWarningOff)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the reload, want the RESOLVED", n)
	}
	msgs, refs := rec.got()
	if res := msgs[1]; res.Event != incident.NotifyResolve || res.IncidentID != id || refs[1] != "C1/1.000" {
		t.Fatalf("message %+v (ref %q), want the warning's RESOLVED on its message", res, refs[1])
	}
	if v := f.view("web"); !strings.Contains(string(v), `"warnings":[]`) {
		t.Errorf("view %s, want no warnings", v)
	}
	f.round("web")
	if certs := f.kindIncidents("web", incident.KindCertificate); len(certs) != 1 {
		t.Fatalf("a round with the warning off: certificate incidents %+v, want only the resolved one", certs)
	}
	if snap, _, _ := f.d.store.State(ctx, "web"); strings.Contains(string(snap.Data), `"certificate"`) {
		t.Errorf("states row %s still holds a certificate machine", snap.Data)
	}

	reload([]int{21, 7, 2})
	f.round("web")
	certs := f.kindIncidents("web", incident.KindCertificate)
	if len(certs) != 2 || !certs[0].Open() || certs[0].ID == id {
		t.Fatalf("turned on again: certificate incidents %+v, want a new one open", certs)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d, want the new warning", n)
	}
}

// A monitor removed by a reload, or while the daemon was down, resolves its
// open warning as "monitor removed", on the warning's message.
func TestRemovedMonitorResolvesItsWarnings(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	ca := testCA(t)
	tg := newTLSTarget(t, leafFor(t, ca, 5*day+12*time.Hour))
	rec := &recorder{}
	keep := monitorTOML("keep", tg.URL+"/keep")
	f, restart := newWarnFixture(t, keep+monitorTOML("web", tg.URL)+monitorTOML("gone", tg.URL+"/gone")+receiverTOML,
		withWarnings([]int{21, 7, 2}, config.Degraded{}, 0), ca.Pool(), rec)
	ctx := context.Background()
	f.round("web")
	f.round("gone")
	if n := f.deliver(); n != 2 {
		t.Fatalf("delivered %d, want the two warnings", n)
	}
	webID := f.kindIncidents("web", incident.KindCertificate)[0].ID
	goneID := f.kindIncidents("gone", incident.KindCertificate)[0].ID

	writeConfig(t, f.dir, keep+monitorTOML("gone", tg.URL+"/gone")+receiverTOML)
	cfg := loadConfig(t, f.file)
	f.edit(cfg)
	if err := f.d.Reload(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if inc, err := f.d.store.Incident(ctx, webID); err != nil || inc.Open() || inc.Resolution != incident.ResolutionRemoved {
		t.Fatalf("removed by a reload: %+v (%v), want resolved as removed", inc, err)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the reload, want web's RESOLVED", n)
	}

	writeConfig(t, f.dir, keep+receiverTOML)
	restart()
	if inc, err := f.d.store.Incident(ctx, goneID); err != nil || inc.Open() || inc.Resolution != incident.ResolutionRemoved {
		t.Fatalf("removed while down: %+v (%v), want resolved as removed", inc, err)
	}
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the restart, want gone's RESOLVED", n)
	}
	msgs, refs := rec.got()
	if res := msgs[len(msgs)-1]; res.Event != incident.NotifyResolve || res.IncidentID != goneID || res.Kind != incident.KindCertificate {
		t.Fatalf("last message %+v, want gone's warning RESOLVED", res)
	}
	if refs[len(refs)-1] != "C1/2.000" {
		t.Errorf("gone's RESOLVED was given ref %q, want its warning's message C1/2.000", refs[len(refs)-1])
	}
	if _, ok, _ := f.d.store.State(ctx, "gone"); ok {
		t.Error("gone's states row is still there")
	}
}

// A warning snapshot that does not decode does not stop the monitor: the
// warning starts afresh from the store's open incident, and its DOWN is not
// sent again.
func TestBadWarningSnapshotStartsTheWarningAfresh(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	ca := testCA(t)
	tg := newTLSTarget(t, leafFor(t, ca, 5*day+12*time.Hour))
	rec := &recorder{}
	f, restart := newWarnFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withWarnings([]int{21, 7, 2}, config.Degraded{}, 0), ca.Pool(), rec)
	ctx := context.Background()
	f.round("web")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d, want the warning", n)
	}
	id := f.kindIncidents("web", incident.KindCertificate)[0].ID

	snap, _, err := f.d.store.State(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	var row stateRow
	if err := json.Unmarshal(snap.Data, &row); err != nil {
		t.Fatal(err)
	}
	row.Certificate = json.RawMessage(`{"version": 99, "monitor": "web"}`)
	bad, _ := json.Marshal(&row)
	if err := f.d.store.Update(ctx, func(tx *store.Tx) error { return tx.SaveState(ctx, "web", bad) }); err != nil {
		t.Fatal(err)
	}
	restart()
	if err := f.d.Health(ctx); err != nil {
		t.Fatalf("Health = %v, want the monitor running", err)
	}
	if !strings.Contains(f.logs.String(), "warning state does not decode") {
		t.Errorf("the bad warning state was not logged:\n%s", f.logs.String())
	}
	if inc := f.warningOf("web", incident.KindCertificate); inc == nil || inc.ID != id {
		t.Fatalf("the fresh certificate machine holds %+v, want the stored incident %d", inc, id)
	}
	f.round("web")
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d, want 0 (the warning was sent before)", n)
	}
	if certs := f.kindIncidents("web", incident.KindCertificate); len(certs) != 1 || !certs[0].Open() {
		t.Fatalf("certificate incidents %+v, want the one open", certs)
	}
}
