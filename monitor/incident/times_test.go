package incident

import (
	"strings"
	"testing"
)

// oldSnapshot is what the version before issue 12 stored for a machine
// down with incident 3 ("F F" from New): the open incident's resolved_at
// is Go's zero time.
const oldSnapshot = `{"version":1,"monitor":"shop","kind":"target","state":"down","fails":2,"first_fail":"2026-03-01T12:00:30Z",` +
	`"last_fail":{"at":"2026-03-01T12:01:00Z","result":{"url":"https://shop.test/","ok":false,"class":"bad_gateway","status":502,"gateway":"nginx","via":null,"detail":"","error":"","phases":{"dns_ms":0,"connect_ms":0,"tls_ms":0,"ttfb_ms":0,"total_ms":0},"remote_addr":"","evidence":{"headers":null,"body_excerpt":"","markers":null},"fixes":null,"started_at":"2026-03-01T12:01:00Z","redirects":0,"body_bytes":0,"body_truncated":false,"scope":""},"severity":"critical"},` +
	`"incident":{"id":3,"monitor":"shop","kind":"target","severity":"critical","opened_at":"2026-03-01T12:01:00Z","resolved_at":"0001-01-01T00:00:00Z","class":"bad_gateway","gateway":"nginx","status":502,"first_failure_at":"2026-03-01T12:00:30Z",` +
	`"last":{"url":"https://shop.test/","ok":false,"class":"bad_gateway","status":502,"gateway":"nginx","via":null,"detail":"","error":"","phases":{"dns_ms":0,"connect_ms":0,"tls_ms":0,"ttfb_ms":0,"total_ms":0},"remote_addr":"","evidence":{"headers":null,"body_excerpt":"","markers":null},"fixes":null,"started_at":"2026-03-01T12:01:00Z","redirects":0,"body_bytes":0,"body_truncated":false,"scope":""}},` +
	`"changes":["2026-03-01T12:00:30Z","2026-03-01T12:01:00Z"],"last_change":"2026-03-01T12:01:00Z","last_at":"2026-03-01T12:01:00Z"}`

// A snapshot stored by an older version, whose open incident says
// "resolved_at":"0001-01-01T00:00:00Z", restores to the same machine as
// this version makes, which stores null instead (issue 12, point 5); and
// what this version stores restores too.
func TestOldSnapshotWithZeroTimeRestores(t *testing.T) {
	r, err := Restore([]byte(oldSnapshot), Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if inc := r.Incident(); inc == nil || !inc.Open() || inc.ID != 3 || r.State() != StateDown {
		t.Fatalf("restored: state %s, incident %+v; want down with open incident 3", r.State(), inc)
	}
	again, err := r.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(again), "0001-01-01") || !strings.Contains(string(again), `"resolved_at":null`) {
		t.Errorf("stored again with a zero time, or without resolved_at null:\n%s", again)
	}
	m, _ := New("shop", KindTarget, Settings{})
	m, _, _ = play(t, m, Settings{}, "F F")
	m.SetIncidentID(3)
	now, err := m.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if string(now) != string(again) {
		t.Errorf("the old snapshot restored is not the machine this version makes:\n old %s\n now %s", again, now)
	}
	if _, err := Restore(now, Settings{}); err != nil {
		t.Errorf("this version's snapshot does not restore: %v", err)
	}
}
