package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A result as an older version stored it (Go's zero time where nothing
// had happened) and as this one stores it (null).
const (
	oldOutcomeJSON = `{"url":"https://shop.test/","ok":false,"class":"tls_error","status":0,"gateway":"","via":[],"detail":"cert-expired",` +
		`"error":"x","phases":{"dns_ms":0,"connect_ms":0,"tls_ms":0,"ttfb_ms":0,"total_ms":0},"remote_addr":"",` +
		`"tls":{"issuer":"R3","subject":"shop","not_before":"0001-01-01T00:00:00Z","not_after":"2026-03-01T12:00:00Z","days_left":0},` +
		`"evidence":{"headers":[],"body_excerpt":"","markers":[]},"fixes":[],"started_at":"0001-01-01T00:00:00Z","redirects":0,` +
		`"body_bytes":0,"body_truncated":false,"scope":""}`
	newOutcomeJSON = `{"url":"https://shop.test/","ok":false,"class":"tls_error","status":0,"gateway":"","via":[],"detail":"cert-expired",` +
		`"error":"x","phases":{"dns_ms":0,"connect_ms":0,"tls_ms":0,"ttfb_ms":0,"total_ms":0},"remote_addr":"",` +
		`"tls":{"issuer":"R3","subject":"shop","not_before":null,"not_after":"2026-03-01T12:00:00Z","days_left":0},` +
		`"evidence":{"headers":[],"body_excerpt":"","markers":[]},"fixes":[],"started_at":null,"redirects":0,` +
		`"body_bytes":0,"body_truncated":false,"scope":""}`
)

// Rows written by an older version hold "0001-01-01T00:00:00Z" for a zero
// time inside their JSON (results, an incident's last result and changes);
// rows written now hold null. Both read back as the zero time, which is
// written as null from then on (issue 12, point 5).
func TestStoredZeroTimesOldAndNewDecode(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	at := clk.Now().UnixNano()
	for _, v := range []struct{ monitor, data, changes string }{
		{"old", oldOutcomeJSON, `[{"at":"0001-01-01T00:00:00Z","class":"tls_error"},{"at":"2026-03-01T12:00:00Z","class":"tls_error"}]`},
		{"new", newOutcomeJSON, `[{"at":null,"class":"tls_error"},{"at":"2026-03-01T12:00:00Z","class":"tls_error"}]`},
	} {
		if _, err := s.w.ExecContext(ctx, `INSERT INTO results (monitor, vantage, at, ok, class, status, total_ms, data)
			VALUES (?, 'local', ?, 0, 'tls_error', 0, 0, ?)`, v.monitor, at, v.data); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.ExecContext(ctx, `INSERT INTO incidents (monitor, kind, severity, opened_at, class, changes, last, updated_at)
			VALUES (?, 'target', 'critical', ?, 'tls_error', ?, ?, ?)`, v.monitor, at, v.changes, v.data, at); err != nil {
			t.Fatal(err)
		}
	}
	for _, mon := range []string{"old", "new"} {
		rows, err := s.RecentResults(ctx, mon, 1)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: results %v, %v", mon, rows, err)
		}
		r := rows[0].Result
		if !r.StartedAt.IsZero() || !r.TLS.NotBefore.IsZero() || !r.TLS.NotAfter.Equal(clk.Now()) {
			t.Errorf("%s result: started_at %v, not_before %v, not_after %v; want zero, zero, %v", mon, r.StartedAt, r.TLS.NotBefore, r.TLS.NotAfter, clk.Now())
		}
		inc, ok, err := s.OpenIncidentFor(ctx, mon, "target")
		if err != nil || !ok {
			t.Fatalf("%s: open incident %v, %v", mon, ok, err)
		}
		if !inc.Open() || !inc.OpenedAt.Equal(clk.Now()) || inc.Last == nil || !inc.Last.StartedAt.IsZero() ||
			len(inc.Changes) != 2 || !inc.Changes[0].At.IsZero() || !inc.Changes[1].At.Equal(clk.Now()) {
			t.Errorf("%s incident: %+v", mon, inc)
		}
		for what, v := range map[string]any{"result": r, "incident": inc} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "0001-01-01") {
				t.Errorf("%s %s re-encoded with a zero time:\n%s", mon, what, b)
			}
		}
		if b, _ := json.Marshal(inc); !strings.Contains(string(b), `"resolved_at":null`) || !strings.Contains(string(b), `"opened_at":"`+clk.Now().Format(time.RFC3339)+`"`) {
			t.Errorf("%s incident encodes as %s, want resolved_at null and opened_at set", mon, b)
		}
	}
}
