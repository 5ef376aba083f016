package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func TestIncidentLifecycle(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	opened := clk.Now()
	last := sampleResult(false, result.ClassBadGateway, 502, opened)
	inc := &incident.Incident{Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical,
		Class: result.ClassBadGateway, Gateway: "nginx", Detail: "upstream-refused", Status: 502,
		Scope: "everyone", Last: &last}
	update(t, s, func(tx *Tx) error { return tx.OpenIncident(ctx, inc) })
	if inc.ID == 0 || !inc.OpenedAt.Equal(opened) {
		t.Fatalf("OpenIncident: id %d opened %v", inc.ID, inc.OpenedAt)
	}

	// Same monitor, same kind: refused, with the open incident's ID, and the
	// transaction stays usable.
	err := s.Update(ctx, func(tx *Tx) error {
		err := tx.OpenIncident(ctx, &incident.Incident{Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityWarning, Class: result.ClassTimeout})
		var ao *AlreadyOpenError
		if !errors.As(err, &ao) || !errors.Is(err, ErrIncidentAlreadyOpen) || ao.ID != inc.ID {
			t.Errorf("second open: err = %v", err)
		}
		// Another kind for the same name is a different incident.
		return tx.OpenIncident(ctx, &incident.Incident{Monitor: "shop", Kind: incident.KindVantage, Severity: incident.SeverityWarning, Class: result.ClassConnectTimeout})
	})
	if err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Minute)
	changed := sampleResult(false, result.ClassGatewayTimeout, 504, clk.Now())
	update(t, s, func(tx *Tx) error {
		return tx.AppendIncidentChange(ctx, inc.ID, incident.Change{Class: result.ClassGatewayTimeout, Gateway: "nginx", Status: 504, Note: "class changed"}, &changed)
	})
	clk.Advance(time.Minute)
	update(t, s, func(tx *Tx) error {
		return tx.AppendIncidentChange(ctx, inc.ID, incident.Change{Class: result.ClassBadGateway, Status: 502}, nil)
	})

	got, ok, err := s.OpenIncidentFor(ctx, "shop", incident.KindTarget)
	if err != nil || !ok {
		t.Fatalf("OpenIncidentFor: %v %v", ok, err)
	}
	if len(got.Changes) != 2 || got.Changes[0].Class != result.ClassGatewayTimeout || got.Changes[0].Note != "class changed" ||
		!got.Changes[0].At.Equal(opened.Add(time.Minute)) || got.Changes[1].Class != result.ClassBadGateway {
		t.Errorf("changes = %+v", got.Changes)
	}
	if got.Class != result.ClassBadGateway || got.Status != 502 || got.Gateway != "" {
		t.Errorf("current class not from the latest change: %+v", got)
	}
	if got.Last == nil || got.Last.Class != result.ClassGatewayTimeout {
		t.Errorf("Last should be the last non-nil one given: %+v", got.Last)
	}

	// SaveIncident persists an in-memory incident whole.
	got.Flapping = true
	got.Scope = "partial"
	got.Severity = incident.SeverityWarning
	update(t, s, func(tx *Tx) error { return tx.SaveIncident(ctx, &got) })

	clk.Advance(time.Minute)
	resolvedAt := clk.Now()
	good := sampleResult(true, result.ClassOK, 200, resolvedAt)
	update(t, s, func(tx *Tx) error {
		return tx.ResolveIncident(ctx, inc.ID, time.Time{}, time.Time{}, "recovered", &good)
	})

	err = s.Update(ctx, func(tx *Tx) error { return tx.ResolveIncident(ctx, inc.ID, time.Time{}, time.Time{}, "again", nil) })
	if !errors.Is(err, ErrIncidentResolved) {
		t.Errorf("resolve twice: %v", err)
	}
	err = s.Update(ctx, func(tx *Tx) error { return tx.AppendIncidentChange(ctx, inc.ID, incident.Change{}, nil) })
	if !errors.Is(err, ErrIncidentResolved) {
		t.Errorf("change after resolve: %v", err)
	}
	err = s.Update(ctx, func(tx *Tx) error { return tx.ResolveIncident(ctx, 9999, time.Time{}, time.Time{}, "x", nil) })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve unknown: %v", err)
	}
	if _, err := s.Incident(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Incident(unknown): %v", err)
	}

	// Reopen, then check the whole record.
	s.Close()
	s = reopen(t, path, clk, Options{})
	final, err := s.Incident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.Open() || !final.ResolvedAt.Equal(resolvedAt) || final.Resolution != "recovered" ||
		!final.Flapping || final.Scope != "partial" || final.Severity != incident.SeverityWarning ||
		final.Last == nil || !final.Last.OK || final.Kind != incident.KindTarget || !final.OpenedAt.Equal(opened) {
		t.Errorf("final incident = %+v", final)
	}
	if _, ok, _ := s.OpenIncidentFor(ctx, "shop", incident.KindTarget); ok {
		t.Error("resolved incident still reported open")
	}

	// After resolving, a new outage opens a new incident.
	inc2 := &incident.Incident{Monitor: "shop", Kind: incident.KindTarget, Severity: incident.SeverityCritical, Class: result.ClassDNSError}
	update(t, s, func(tx *Tx) error { return tx.OpenIncident(ctx, inc2) })
	if inc2.ID == inc.ID {
		t.Error("new incident reused the old ID")
	}

	open, err := s.OpenIncidents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 2 || open[0].Kind != incident.KindVantage || open[1].ID != inc2.ID {
		t.Errorf("OpenIncidents = %+v", open)
	}
	recent, err := s.RecentIncidents(ctx, "shop", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 2 || recent[0].ID != inc2.ID {
		t.Errorf("RecentIncidents(shop, 2) = %v", ids(recent))
	}
	all, _ := s.RecentIncidents(ctx, "", 10)
	if len(all) != 3 {
		t.Errorf("RecentIncidents(all) = %v", ids(all))
	}
}

func ids(l []incident.Incident) []int64 {
	var out []int64
	for _, i := range l {
		out = append(out, i.ID)
	}
	return out
}

// The guarantee behind "a restart never opens an incident twice": even a
// caller that does not check first cannot get two open incidents, in one
// transaction or across a reopen.
func TestUniqueOpenIncidentAcrossRestart(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	first := &incident.Incident{Monitor: "vantage-fra1", Kind: incident.KindVantage, Severity: incident.SeverityWarning, Class: result.ClassConnectTimeout}
	update(t, s, func(tx *Tx) error { return tx.OpenIncident(ctx, first) })
	s.Close()
	s = reopen(t, path, clk, Options{})
	err := s.Update(ctx, func(tx *Tx) error {
		return tx.OpenIncident(ctx, &incident.Incident{Monitor: "vantage-fra1", Kind: incident.KindVantage, Severity: incident.SeverityWarning, Class: result.ClassConnectTimeout})
	})
	if !errors.Is(err, ErrIncidentAlreadyOpen) {
		t.Fatalf("err = %v", err)
	}
	// Even bypassing the API, the index refuses it.
	_, err = s.w.ExecContext(ctx, `INSERT INTO incidents (monitor, kind, severity, opened_at, class, updated_at)
		VALUES ('vantage-fra1', 'vantage', 'warning', 1, 'timeout', 1)`)
	if !isUniqueViolation(err) {
		t.Errorf("raw insert: err = %v, want a unique violation", err)
	}
	open, _ := s.OpenIncidents(ctx)
	if len(open) != 1 || open[0].ID != first.ID {
		t.Errorf("open = %v", ids(open))
	}
}

func TestIncidentBadInput(t *testing.T) {
	s, _ := openTest(t, newClock(), Options{})
	ctx := context.Background()
	for name, inc := range map[string]*incident.Incident{
		"no monitor": {Kind: incident.KindTarget},
		"no kind":    {Monitor: "x"},
		"resolved":   {Monitor: "x", Kind: incident.KindTarget, ResolvedAt: result.TimeOf(time.Unix(1, 0))},
	} {
		err := s.Update(ctx, func(tx *Tx) error { return tx.OpenIncident(ctx, inc) })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	err := s.Update(ctx, func(tx *Tx) error { return tx.SaveIncident(ctx, &incident.Incident{ID: 42}) })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("SaveIncident(unknown) = %v", err)
	}
}

func TestIncidentJSONRoundTrip(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	last := sampleResult(false, result.ClassTLSError, 0, clk.Now())
	in := incident.Incident{Monitor: "api", Kind: incident.KindTarget, Severity: incident.SeverityInfo,
		OpenedAt: result.TimeOf(clk.Now().Add(-time.Hour)), Class: result.ClassTLSError, Detail: "cert-expired",
		Scope: "partial", Regions: []string{"fra1", "local"}, FirstFailure: result.TimeOf(clk.Now().Add(-time.Hour - time.Minute)),
		Changes: []incident.Change{{At: result.TimeOf(clk.Now().Add(-30 * time.Minute)), Class: result.ClassTLSError, Detail: "cert-expired", Note: "scope partial→everyone"}},
		Last:    &last}
	update(t, s, func(tx *Tx) error { return tx.OpenIncident(ctx, &in) })
	out, err := s.Incident(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Compare through JSON: times come back in UTC without a monotonic reading.
	a, _ := jsonOf(in)
	b, _ := jsonOf(out)
	if a != b {
		t.Errorf("incident did not round-trip:\n in %s\nout %s", a, b)
	}
	if !reflect.DeepEqual(out.Last.Evidence, last.Evidence) {
		t.Errorf("evidence = %+v", out.Last.Evidence)
	}

	// SaveIncident persists a change of regions (partial from fewer places).
	in.Regions = []string{"fra1"}
	update(t, s, func(tx *Tx) error { return tx.SaveIncident(ctx, &in) })
	if out, err = s.Incident(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Regions, []string{"fra1"}) || !out.FirstFailure.Equal(in.FirstFailure.Time) {
		t.Errorf("after SaveIncident: regions %v, first failure %v; want [fra1], %v", out.Regions, out.FirstFailure, in.FirstFailure)
	}
}
