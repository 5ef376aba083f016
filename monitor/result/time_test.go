package result

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 11, 21, 12, 0, 0, 500, time.UTC)

func TestTimeJSON(t *testing.T) {
	type doc struct {
		T Time `json:"t"`
		O Time `json:"o,omitzero"`
	}
	for _, tt := range []struct {
		name string
		in   doc
		want string
	}{
		{"not happened: null", doc{}, `{"t":null}`},
		{"happened: RFC 3339, as time.Time writes it", doc{T: TimeOf(at), O: TimeOf(at)}, `{"t":"2026-11-21T12:00:00.0000005Z","o":"2026-11-21T12:00:00.0000005Z"}`},
		{"the zero instant in a zone is still zero", doc{T: TimeOf(time.Time{}.In(time.FixedZone("x", 3600)))}, `{"t":null}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
			var back doc
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !back.T.Equal(tt.in.T.Time) || !back.O.Equal(tt.in.O.Time) {
				t.Errorf("%s decoded as %+v, want %+v", b, back, tt.in)
			}
		})
	}
}

// What older versions wrote for a zero time, in the store and on the
// agent protocol, decodes as zero, and so is written as null from then on.
func TestTimeReadsTheOldZeroTime(t *testing.T) {
	for _, old := range []string{`"0001-01-01T00:00:00Z"`, `"0001-01-01T01:00:00+01:00"`, `null`} {
		var v Time
		if err := json.Unmarshal([]byte(old), &v); err != nil {
			t.Fatalf("%s: %v", old, err)
		}
		if !v.IsZero() || v != (Time{}) {
			t.Errorf("%s decoded as %#v, want the zero Time", old, v)
		}
		if b, _ := json.Marshal(v); string(b) != "null" {
			t.Errorf("%s re-encoded as %s, want null", old, b)
		}
	}
	var v Time
	if err := json.Unmarshal([]byte(`"yesterday"`), &v); err == nil {
		t.Errorf("a string that is no time decoded as %v", v)
	}
}

// An Outcome stored by an older version, with Go's zero time where nothing
// had happened, decodes; written again, it holds null, not a zero time.
func TestOutcomeFromOlderVersionDecodes(t *testing.T) {
	old := `{"url":"https://shop.test/","ok":false,"class":"tls_error","status":0,"gateway":"","via":[],"detail":"cert-expired",` +
		`"error":"x","phases":{"dns_ms":0,"connect_ms":0,"tls_ms":0,"ttfb_ms":0,"total_ms":0},"remote_addr":"",` +
		`"tls":{"issuer":"R3","subject":"shop","not_before":"0001-01-01T00:00:00Z","not_after":"2026-11-21T12:00:00Z","days_left":0},` +
		`"evidence":{"headers":[],"body_excerpt":"","markers":[]},"fixes":[],"started_at":"0001-01-01T00:00:00Z","redirects":0,` +
		`"body_bytes":0,"body_truncated":false,"scope":"",` +
		`"diagnosis":{"host":"shop.test","port":"443","findings":[],"origin":{"url":"https://10.0.0.5/","result":{"url":"https://10.0.0.5/","ok":true,"class":"ok","started_at":"0001-01-01T00:00:00Z"}}}}`
	var o Outcome
	if err := json.Unmarshal([]byte(old), &o); err != nil {
		t.Fatal(err)
	}
	if !o.StartedAt.IsZero() || !o.TLS.NotBefore.IsZero() || !o.Diagnosis.Origin.Result.StartedAt.IsZero() {
		t.Errorf("zero times decoded as %v, %v, %v", o.StartedAt, o.TLS.NotBefore, o.Diagnosis.Origin.Result.StartedAt)
	}
	if !o.TLS.NotAfter.Equal(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("not_after decoded as %v", o.TLS.NotAfter)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "0001-01-01") {
		t.Errorf("re-encoded with a zero time:\n%s", b)
	}
	for _, want := range []string{`"started_at":null`, `"not_before":null`, `"not_after":"2026-11-21T12:00:00Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("re-encoded without %s:\n%s", want, b)
		}
	}
}
