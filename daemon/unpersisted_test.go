package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
)

func (f *fixture) deliverDirect() int {
	f.t.Helper()
	n, err := f.d.Outbox().DeliverDirect(context.Background(), "ops")
	if err != nil {
		f.t.Fatalf("delivering from memory: %v", err)
	}
	return n
}

// TestStoreThatCannotWriteNeverSilencesAlerting: with every store write
// failing (as on a full disk) and the target down, the DOWN still reaches
// the receiver, marked not persisted, after one notice that the store is
// unwritable; the API shows the monitor down. When the store writes again
// the state is written, the DOWN is not sent again, and the RESOLVED goes
// out once, updating the same message.
func TestStoreThatCannotWriteNeverSilencesAlerting(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withRecorder(rec))
	ctx := context.Background()
	st := f.d.store

	st.SetWriteFault(syscall.ENOSPC)
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web") // confirmed: down, in memory only
	for range 3 {
		f.round("web") // still down, still unwritable
		_ = f.d.Flush(ctx)
	}
	if s := f.state("web"); s != incident.StateDown {
		t.Fatalf("state %s, want down although the store cannot write", s)
	}
	views, err := f.d.Monitors(ctx)
	if err != nil || len(views) != 1 || views[0].State != incident.StateDown || views[0].OpenIncident == nil {
		t.Fatalf("API shows %+v (%v), want web down with its incident", views, err)
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("the outbox delivered %d while the store failed", n)
	}
	if n := f.deliverDirect(); n != 2 {
		t.Fatalf("delivered %d from memory, want the store notice and the DOWN", n)
	}
	msgs, _ := rec.got()
	notice, down := msgs[0], msgs[1]
	if notice.Event != incident.NotifyNotice || !strings.Contains(notice.Change, "state store unwritable") ||
		!strings.Contains(notice.Change, st.Path()) || !strings.Contains(notice.Change, "disk full") {
		t.Errorf("first message %+v, want the notice naming the file and the error", notice)
	}
	if down.Event != incident.NotifyOpen || down.Monitor != "web" || !down.NotPersisted || down.Status != 502 {
		t.Fatalf("second message %+v, want web's DOWN marked not persisted", down)
	}
	for range 3 {
		f.round("web")
	}
	if n := f.deliverDirect(); n != 0 {
		t.Fatalf("delivered %d more from memory while nothing changed, want 0 (one notice per outage)", n)
	}
	if n := strings.Count(f.logs.String(), `msg="incident updated"`); n != 0 {
		t.Errorf("steady rounds during the outage logged %d lines, want none:\n%s", n, f.logs.String())
	}
	if n := strings.Count(f.logs.String(), "state store unwritable;"); n != 1 {
		t.Errorf("the outage was logged %d times within a minute, want once:\n%s", n, f.logs.String())
	}
	f.clock.Advance(storeLogEvery)
	f.round("web")
	var lines []string
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, "state store unwritable;") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || strings.Contains(lines[1], "failures_not_logged=0") || !strings.Contains(lines[1], "failures_not_logged=") {
		t.Errorf("a minute later the outage is not logged again with the count of failures not logged: %q", lines)
	}
	if n := f.deliverDirect(); n != 0 {
		t.Fatalf("delivered %d more from memory a minute later, want 0 (one notice per outage)", n)
	}
	if v := counterValue(t, f.d.reg, "vantage_store_errors_total", nil); v < 5 {
		t.Errorf("vantage_store_errors_total = %v, want every failed write counted", v)
	}
	if incs := f.incidents("web"); len(incs) != 0 {
		t.Fatalf("the store has incidents %+v while it could not write", incs)
	}

	// The store writes again: the next round writes what memory kept.
	st.SetWriteFault(nil)
	f.round("web")
	incs := f.incidents("web")
	if len(incs) != 1 || !incs[0].Open() || incs[0].Class != "bad_gateway" {
		t.Fatalf("after the store recovered: incidents %+v, want one open bad_gateway", incs)
	}
	if got := f.d.lookup("web").machine.Incident(); got == nil || got.ID != incs[0].ID {
		t.Fatalf("machine's incident %+v, want the stored ID %d", got, incs[0].ID)
	}
	if _, ok, err := st.State(ctx, "web"); err != nil || !ok {
		t.Fatalf("web's snapshot not written (ok=%v, err=%v)", ok, err)
	}
	if _, ok, err := st.Delivered(ctx, down.Key); err != nil || !ok {
		t.Fatalf("the DOWN sent from memory is not recorded as delivered (ok=%v, err=%v)", ok, err)
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("the outbox delivered %d after the store recovered, want 0 (the DOWN went out already)", n)
	}
	if n := f.deliverDirect(); n != 1 {
		t.Fatalf("delivered %d from memory after the store recovered, want the notice that it writes again", n)
	}
	msgs, _ = rec.got()
	if back := msgs[len(msgs)-1]; back.Event != incident.NotifyNotice || !strings.Contains(back.Change, "state store writable again") {
		t.Errorf("last message %+v, want the notice that the store writes again", back)
	}

	// The target recovers: one RESOLVED, through the outbox, on the same
	// message, not marked.
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after recovery, want the RESOLVED", n)
	}
	msgs, refs := rec.got()
	res := msgs[len(msgs)-1]
	if res.Event != incident.NotifyResolve || res.IncidentID != incs[0].ID || res.NotPersisted {
		t.Fatalf("resolve alert %+v", res)
	}
	if want := "C1/2.000"; refs[len(refs)-1] != want {
		t.Errorf("the RESOLVED was given ref %q, want the DOWN's message %s", refs[len(refs)-1], want)
	}
	if f.deliver()+f.deliverDirect() != 0 {
		t.Fatal("something was sent twice")
	}
	if n := len(msgs); n != 4 {
		t.Errorf("%d messages in all, want 4 (notice, DOWN, notice, RESOLVED)", n)
	}
}

// A monitor removed by a reload while the store cannot write still gets its
// RESOLVED, from memory; the store records it when it writes again, and it
// is not sent a second time.
func TestRemovedWhileStoreFailsStillResolves(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	tg.status.Store(http.StatusBadGateway)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("keep", tg.URL)+monitorTOML("gone", tg.URL+"/gone")+receiverTOML, withRecorder(rec))
	ctx := context.Background()
	f.round("gone")
	f.round("gone")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d, want gone's DOWN", n)
	}
	id := f.incidents("gone")[0].ID

	f.d.store.SetWriteFault(syscall.EROFS)
	writeConfig(t, f.dir, monitorTOML("keep", tg.URL)+receiverTOML)
	if err := f.d.ReloadFile(ctx, f.file); err != nil {
		t.Fatal(err)
	}
	if n := f.deliverDirect(); n != 2 {
		t.Fatalf("delivered %d from memory, want the store notice and gone's RESOLVED", n)
	}
	msgs, refs := rec.got()
	res := msgs[len(msgs)-1]
	if res.Event != incident.NotifyResolve || res.Monitor != "gone" || !res.NotPersisted || res.IncidentID != id {
		t.Fatalf("last message %+v, want gone's RESOLVED marked not persisted", res)
	}
	if refs[len(refs)-1] != "C1/1.000" {
		t.Errorf("the RESOLVED from memory was given ref %q, want the DOWN's C1/1.000", refs[len(refs)-1])
	}

	f.d.store.SetWriteFault(nil)
	if err := f.d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.d.PersistUnsaved(ctx); err != nil {
		t.Fatal(err)
	}
	inc, err := f.d.store.Incident(ctx, id)
	if err != nil || inc.Open() || inc.Resolution != incident.ResolutionRemoved {
		t.Fatalf("gone's incident after the store recovered: %+v, %v; want resolved as removed", inc, err)
	}
	if _, ok, err := f.d.store.State(ctx, "gone"); err != nil || ok {
		t.Fatalf("gone's state still stored (ok=%v, err=%v)", ok, err)
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("the outbox sent %d after the store recovered, want 0 (the RESOLVED went out)", n)
	}
}

// An alert queued in the outbox before the store failed is not held until
// the store writes again: it goes out from memory, and the outbox records
// it once the store is back instead of sending it again.
func TestQueuedAlertGoesOutWhileStoreFails(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withRecorder(rec))
	ctx := context.Background()
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web") // the DOWN is in the outbox, not sent yet
	f.round("web") // a steady-state result, buffered
	id := f.incidents("web")[0].ID

	f.d.store.SetWriteFault(syscall.ENOSPC)
	f.d.storeTick(ctx)
	if n := f.deliverDirect(); n != 2 {
		t.Fatalf("delivered %d from memory, want the store notice and the queued DOWN", n)
	}
	msgs, _ := rec.got()
	down := msgs[1]
	if down.Event != incident.NotifyOpen || down.IncidentID != id || !down.NotPersisted {
		t.Fatalf("second message %+v, want the queued DOWN, marked not persisted", down)
	}

	f.d.store.SetWriteFault(nil)
	f.d.storeTick(ctx)
	if n := f.deliver(); n != 0 {
		t.Fatalf("the outbox delivered %d after the store recovered, want 0 (the DOWN went out)", n)
	}
	if _, ok, err := f.d.store.Delivered(ctx, down.Key); err != nil || !ok {
		t.Fatalf("the DOWN is not recorded as delivered (ok=%v, err=%v)", ok, err)
	}
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after recovery, want the RESOLVED", n)
	}
	msgs, refs := rec.got()
	if res := msgs[len(msgs)-1]; res.Event != incident.NotifyResolve || refs[len(refs)-1] != "C1/2.000" {
		t.Fatalf("last message %+v with ref %q, want the RESOLVED on the DOWN's message C1/2.000", res, refs[len(refs)-1])
	}
}

// The outbox's "pass failed" line, which a failing store would repeat every
// poll for every receiver, is counted into the once-a-minute line instead.
func TestOutboxPassErrorsAreQuietWhileTheStoreFails(t *testing.T) {
	f := newFixture(t, "", nil)
	var buf testkit.Buffer
	log := slog.New(quietHandler{slog.NewTextHandler(&buf, nil), f.d}).With("component", "outbox")
	log.Error(outboxPassFailed, "receiver", "ops")
	f.d.noteStore(errors.New("disk full"))
	log.Error(outboxPassFailed, "receiver", "ops")
	log.Error("notification failed permanently", "receiver", "ops")
	f.d.noteStore(nil)
	log.Error(outboxPassFailed, "receiver", "ops")
	if n := strings.Count(buf.String(), outboxPassFailed); n != 2 {
		t.Errorf("%d pass-failed lines, want 2 (before and after the outage):\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "notification failed permanently") {
		t.Errorf("a receiver's answer was dropped:\n%s", buf.String())
	}
	if !strings.Contains(f.logs.String(), "failures_not_logged=1") {
		t.Errorf("the dropped line is not counted:\n%s", f.logs.String())
	}
}

func withWriteFault(rec *recorder) func(*Options) {
	return func(o *Options) {
		withRecorder(rec)(o)
		o.storeOpened = func(st *store.Store) { st.SetWriteFault(syscall.ENOSPC) }
	}
}

// A start on a store that cannot write does not fail: the RESOLVED of a
// monitor removed while the daemon was stopped goes out from memory, and the
// store retires it when it writes again.
func TestStartOnUnwritableStoreRetiresFromMemory(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	tg.status.Store(http.StatusBadGateway)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("keep", tg.URL)+monitorTOML("gone", tg.URL+"/gone")+receiverTOML, withRecorder(rec))
	ctx := context.Background()
	f.round("gone")
	f.round("gone")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d, want gone's DOWN", n)
	}
	id := f.incidents("gone")[0].ID
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}

	writeConfig(t, f.dir, monitorTOML("keep", tg.URL)+receiverTOML)
	f.open(withWriteFault(rec))
	if n := f.deliverDirect(); n != 2 {
		t.Fatalf("delivered %d from memory, want the store notice and gone's RESOLVED", n)
	}
	msgs, refs := rec.got()
	if res := msgs[len(msgs)-1]; res.Event != incident.NotifyResolve || res.Monitor != "gone" || !res.NotPersisted || refs[len(refs)-1] != "C1/1.000" {
		t.Fatalf("last message %+v with ref %q, want gone's RESOLVED on C1/1.000, not persisted", res, refs[len(refs)-1])
	}
	f.d.store.SetWriteFault(nil)
	if err := f.d.PersistUnsaved(ctx); err != nil {
		t.Fatal(err)
	}
	if inc, err := f.d.store.Incident(ctx, id); err != nil || inc.Open() || inc.Resolution != incident.ResolutionRemoved {
		t.Fatalf("gone's incident %+v, %v; want resolved as removed", inc, err)
	}
	if _, ok, _ := f.d.store.State(ctx, "gone"); ok {
		t.Fatal("gone's state still stored")
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("the outbox sent %d, want 0 (the RESOLVED went out)", n)
	}
}

// A start whose reconciliation cannot be written does not fail either: an
// incident only the snapshot knew is alerted from memory and stored later.
func TestStartOnUnwritableStoreAlertsFromMemory(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	tg.status.Store(http.StatusBadGateway)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withRecorder(rec))
	ctx := context.Background()
	// What a kill -9 between saving the snapshot and the incident leaves:
	// a snapshot holding an incident the store never got.
	f.d.store.SetWriteFault(syscall.ENOSPC)
	f.round("web")
	f.round("web")
	m := f.d.lookup("web")
	m.mu.Lock()
	snap, err := m.machine.MarshalSnapshot()
	m.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	f.d.store.SetWriteFault(nil)
	if err := f.d.store.Update(ctx, func(tx *store.Tx) error { return tx.SaveState(ctx, "web", snap) }); err != nil {
		t.Fatal(err)
	}
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	rec = &recorder{}

	f.open(withWriteFault(rec))
	if s := f.state("web"); s != incident.StateDown {
		t.Fatalf("after the start: %s, want down", s)
	}
	if n := f.deliverDirect(); n != 2 {
		t.Fatalf("delivered %d from memory, want the store notice and the DOWN", n)
	}
	msgs, _ := rec.got()
	if down := msgs[1]; down.Event != incident.NotifyOpen || !down.NotPersisted {
		t.Fatalf("second message %+v, want the DOWN, not persisted", down)
	}
	f.d.store.SetWriteFault(nil)
	if err := f.d.PersistUnsaved(ctx); err != nil {
		t.Fatal(err)
	}
	if incs := f.incidents("web"); len(incs) != 1 || !incs[0].Open() {
		t.Fatalf("incidents %+v, want one open", incs)
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("the outbox sent %d, want 0 (the DOWN went out)", n)
	}
}

// A vantage incident is not rolled back when the store cannot write either:
// it stays open in memory and is stored when the store writes again.
func TestVantageIncidentKeptInMemoryWhileStoreFails(t *testing.T) {
	shop := newTarget(t)
	f := newVantageFixture(t, monitorTOML("shop", shop.URL))
	ctx := context.Background()
	f.d.store.SetWriteFault(syscall.ENOSPC)
	f.canary.status.Store(http.StatusServiceUnavailable)
	shop.status.Store(http.StatusBadGateway)
	for range 3 {
		f.round("shop")
	}
	f.d.syncVantages(ctx)
	openLocal := func() *incident.Incident { return f.d.vs.incidents.Open("local") }
	if inc := openLocal(); inc == nil || inc.ID != 0 {
		t.Fatalf("local's incident in memory while the store fails: %+v, want open, not stored yet", inc)
	}
	if got := f.openIncidents(incident.KindVantage); len(got) != 0 {
		t.Fatalf("stored vantage incidents %v while the store fails", names(got))
	}

	f.d.store.SetWriteFault(nil)
	if err := f.d.PersistUnsaved(ctx); err != nil {
		t.Fatal(err)
	}
	stored := f.openIncidents(incident.KindVantage)
	if !slices.Equal(names(stored), []string{"local"}) {
		t.Fatalf("stored vantage incidents %v, want [local]", names(stored))
	}
	if inc := openLocal(); inc == nil || inc.ID != stored[0].ID {
		t.Fatalf("local's incident in memory %+v, want the stored ID %d", inc, stored[0].ID)
	}
}

// A reminder due while the store cannot write goes out from memory, and is
// recorded, not sent again, once the store writes again.
func TestReminderGoesOutWhileStoreFails(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	tg.status.Store(http.StatusBadGateway)
	rec := &recorder{}
	route := "\n[[route]]\nreceivers = [\"ops\"]\nrepeat = \"10m\"\n"
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML+route, withRecorder(rec))
	ctx := context.Background()
	f.round("web")
	f.round("web")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d, want the DOWN", n)
	}

	f.d.store.SetWriteFault(syscall.ENOSPC)
	f.clock.Advance(11 * time.Minute)
	f.d.remind(ctx)
	if n := f.deliverDirect(); n != 2 {
		t.Fatalf("delivered %d from memory, want the store notice and the reminder", n)
	}
	msgs, refs := rec.got()
	rem := msgs[len(msgs)-1]
	if rem.Event != incident.NotifyReminder || !rem.NotPersisted || refs[len(refs)-1] != "C1/1.000" {
		t.Fatalf("last message %+v with ref %q, want the reminder on the DOWN's message, not persisted", rem, refs[len(refs)-1])
	}

	f.d.store.SetWriteFault(nil)
	f.d.remind(ctx)
	if n := f.deliver(); n != 0 {
		t.Fatalf("the outbox sent %d after the store recovered, want 0 (the reminder went out)", n)
	}
	if _, ok, err := f.d.store.Delivered(ctx, rem.Key); err != nil || !ok {
		t.Fatalf("the reminder is not recorded as delivered (ok=%v, err=%v)", ok, err)
	}
}
