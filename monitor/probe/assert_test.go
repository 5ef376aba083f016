package probe

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

const healthJSON = `{
  "status": "ok",
  "version": "2.4.1",
  "count": 2,
  "ratio": 2.5,
  "big": 12345678901234567890,
  "up": true,
  "nothing": null,
  "checks": [{"name": "db", "healthy": true}, {"name": "cache", "healthy": true}],
  "mixed": [{"name": "db", "healthy": true}, {"name": "cache", "healthy": false}],
  "long": "` + "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" + `"
}`

// jsonServer serves JSON bodies and others a JSON check must refuse.
func jsonServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-Version", "2.4.1")
		io.WriteString(w, healthJSON)
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": "ok", "checks": [`)
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>Welcome</body></html>")
	})
	mux.HandleFunc("/trailing", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status": "ok"} {"status": "down"}`)
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		// 64 MiB of one valid document, streamed: a probe bounded by
		// max_body reads its first part and says it was cut.
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": "ok", "items": [`)
		chunk := []byte(strings.Repeat(`{"id": 1, "pad": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},`, 1024))
		for n := 0; n < 64<<20; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `{"id": 2}]}`)
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(500)
		io.WriteString(w, "oops")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestExpectJSON(t *testing.T) {
	srv := jsonServer(t)
	eq := func(path string, v any) JSONAssertion { return JSONAssertion{Path: path, Equals: v} }
	re := func(path, expr string) JSONAssertion { return JSONAssertion{Path: path, Matches: expr} }
	tests := []struct {
		name     string
		path     string
		checks   []JSONAssertion
		maxBody  int64
		ok       bool
		apath    string // the failing assertion's path
		expected string
		found    string // Found, exactly, or its prefix when it ends in "*"
	}{
		{name: "string equals", checks: []JSONAssertion{eq("$.status", "ok")}, ok: true},
		{name: "string differs", checks: []JSONAssertion{eq("$.status", "down")}, apath: "$.status", expected: `= "down"`, found: `"ok"`},
		{name: "bool", checks: []JSONAssertion{eq("$.up", true)}, ok: true},
		{name: "bool differs", checks: []JSONAssertion{eq("$.up", false)}, apath: "$.up", expected: "= false", found: "true"},
		{name: "int from TOML", checks: []JSONAssertion{eq("$.count", int64(2))}, ok: true},
		{name: "float 2.0 equals 2", checks: []JSONAssertion{eq("$.count", 2.0)}, ok: true},
		{name: "json.Number 2.0 equals 2", checks: []JSONAssertion{eq("$.count", json.Number("2.0"))}, ok: true},
		{name: "float equals float", checks: []JSONAssertion{eq("$.ratio", 2.5)}, ok: true},
		{name: "int is not the float", checks: []JSONAssertion{eq("$.ratio", int64(2))}, apath: "$.ratio", expected: "= 2", found: "2.5"},
		{name: "number is not a string", checks: []JSONAssertion{eq("$.count", "2")}, apath: "$.count", expected: `= "2"`, found: "2"},
		{name: "a big integer beyond int64", checks: []JSONAssertion{eq("$.big", json.Number("12345678901234567890"))}, ok: true},
		{name: "all must match, and do", checks: []JSONAssertion{eq("$.checks[*].healthy", true)}, ok: true},
		{name: "all must match, one does not", checks: []JSONAssertion{eq("$.mixed[*].healthy", true)}, apath: "$.mixed[*].healthy", expected: "= true", found: "[true,false]"},
		{name: "filter selects the unhealthy", checks: []JSONAssertion{eq(`$.mixed[?@.healthy == false].name`, "cache")}, ok: true},
		{name: "matches", checks: []JSONAssertion{re("$.version", `^2\.`)}, ok: true},
		{name: "matches fails", checks: []JSONAssertion{re("$.version", `^3\.`)}, apath: "$.version", expected: `matches ^3\.`, found: `"2.4.1"`},
		{name: "matches a number's text", checks: []JSONAssertion{re("$.count", `^2$`)}, ok: true},
		{name: "matches null", checks: []JSONAssertion{re("$.nothing", `^null$`)}, ok: true},
		{name: "matches needs a scalar", checks: []JSONAssertion{re("$.checks", `db`)}, apath: "$.checks", found: `[{"healthy":true,"name":"db"},{"healthy":true,"name":"cache"}]`},
		{name: "missing key", checks: []JSONAssertion{eq("$.missing", "x")}, apath: "$.missing", expected: `= "x"`, found: "nothing"},
		{name: "index out of range", checks: []JSONAssertion{eq("$.checks[5].healthy", true)}, apath: "$.checks[5].healthy", found: "nothing"},
		{name: "the first failing one is reported", checks: []JSONAssertion{eq("$.status", "ok"), re("$.version", `^2\.`), eq("$.up", false), eq("$.status", "x")}, apath: "$.up", found: "true"},
		{name: "found is bounded", checks: []JSONAssertion{eq("$.long", "y")}, apath: "$.long", found: `"xxxxxxxx*`},
		{name: "malformed JSON", path: "/broken", checks: []JSONAssertion{eq("$.status", "ok")}, apath: "$.status", found: "body is not JSON: unexpected EOF"},
		{name: "HTML is not JSON", path: "/html", checks: []JSONAssertion{eq("$.status", "ok")}, apath: "$.status", found: "body is not JSON: invalid character '<'*"},
		{name: "trailing data", path: "/trailing", checks: []JSONAssertion{eq("$.status", "ok")}, found: "body is not JSON: data after the JSON value*"},
		{name: "empty body", path: "/empty", checks: []JSONAssertion{eq("$.status", "ok")}, found: "body is not JSON: the body is empty"},
		{name: "huge body cut at max_body", path: "/huge", maxBody: 64 << 10, checks: []JSONAssertion{eq("$.status", "ok")}, found: "body is not JSON: unexpected EOF (the body was cut at max_body, 65536 bytes)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/health"
			}
			r := (&Prober{}).Run(context.Background(), Spec{URL: srv.URL + path, ExpectJSON: tc.checks, MaxBody: tc.maxBody, Timeout: 5 * time.Second})
			if tc.ok {
				check(t, r, result.ClassOK, "")
				if r.Evidence.Assertion != nil {
					t.Errorf("assertion on an ok result: %+v", r.Evidence.Assertion)
				}
				return
			}
			check(t, r, result.ClassContentMismatch, result.DetailJSONPath)
			a := r.Evidence.Assertion
			if a == nil {
				t.Fatalf("no assertion in the evidence; error %q", r.Error)
			}
			if a.Kind != "json-path" || (tc.apath != "" && a.Path != tc.apath) || (tc.expected != "" && a.Expected != tc.expected) {
				t.Errorf("assertion %+v, want path %q expected %q", a, tc.apath, tc.expected)
			}
			if p, ok := strings.CutSuffix(tc.found, "*"); ok {
				if !strings.HasPrefix(a.Found, p) {
					t.Errorf("found %q, want it to start %q", a.Found, p)
				}
			} else if a.Found != tc.found {
				t.Errorf("found %q, want %q", a.Found, tc.found)
			}
			if len(a.Found) > foundBytes+len("…") {
				t.Errorf("found is %d bytes", len(a.Found))
			}
			if !strings.Contains(r.Error, "JSON") || !strings.Contains(r.Error, srv.URL) {
				t.Errorf("error %q", r.Error)
			}
			if h := r.Headline(); h != "200 with wrong content, json path" {
				t.Errorf("headline %q", h)
			}
			if tc.path == "/huge" {
				if !r.Truncated || r.BodyBytes != tc.maxBody {
					t.Errorf("huge body: truncated %v after %d bytes", r.Truncated, r.BodyBytes)
				}
				if !strings.Contains(r.Error, "cut at max_body") {
					t.Errorf("error %q does not say the body was cut", r.Error)
				}
			}
		})
	}
}

func TestExpectHeader(t *testing.T) {
	srv := jsonServer(t)
	tests := []struct {
		name     string
		path     string
		headers  map[string]string
		json     []JSONAssertion
		class    result.Class
		detail   string
		apath    string
		expected string
		found    string
	}{
		{name: "substring", headers: map[string]string{"content-type": "application/json"}, class: result.ClassOK},
		{name: "regexp", headers: map[string]string{"Content-Type": "~^application/json(;|$)", "X-Version": `~^2\.`}, class: result.ClassOK},
		{name: "substring missing", headers: map[string]string{"Content-Type": "text/html"}, class: result.ClassContentMismatch, detail: result.DetailHeader,
			apath: "Content-Type", expected: "contains text/html", found: "application/json; charset=utf-8"},
		{name: "regexp fails", headers: map[string]string{"content-type": "~^text/"}, class: result.ClassContentMismatch, detail: result.DetailHeader,
			apath: "content-type", expected: "matches ^text/", found: "application/json; charset=utf-8"},
		{name: "no such header", headers: map[string]string{"X-Request-Id": "req-"}, class: result.ClassContentMismatch, detail: result.DetailHeader,
			apath: "X-Request-Id", expected: "contains req-", found: "no such header"},
		{name: "headers before the body", headers: map[string]string{"Content-Type": "text/plain"}, json: []JSONAssertion{{Path: "$.status", Equals: "down"}},
			class: result.ClassContentMismatch, detail: result.DetailHeader, apath: "Content-Type"},
		{name: "body after the headers", headers: map[string]string{"Content-Type": "json"}, json: []JSONAssertion{{Path: "$.status", Equals: "down"}},
			class: result.ClassContentMismatch, detail: result.DetailJSONPath, apath: "$.status"},
		{name: "the status first", path: "/500", headers: map[string]string{"Content-Type": "application/json"}, json: []JSONAssertion{{Path: "$.status", Equals: "ok"}},
			class: result.ClassServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/health"
			}
			r := (&Prober{}).Run(context.Background(), Spec{URL: srv.URL + path, ExpectHeader: tc.headers, ExpectJSON: tc.json, Timeout: 2 * time.Second})
			check(t, r, tc.class, tc.detail)
			a := r.Evidence.Assertion
			if tc.apath == "" {
				if a != nil {
					t.Errorf("assertion %+v", a)
				}
				return
			}
			if a == nil {
				t.Fatalf("no assertion; error %q", r.Error)
			}
			if a.Kind != tc.detail || a.Path != tc.apath || (tc.expected != "" && a.Expected != tc.expected) || (tc.found != "" && a.Found != tc.found) {
				t.Errorf("assertion %+v, want %s %q %q %q", a, tc.detail, tc.apath, tc.expected, tc.found)
			}
			if tc.detail == result.DetailHeader {
				if !strings.Contains(r.Error, "checking the headers of") || !strings.Contains(r.Error, tc.apath) {
					t.Errorf("error %q", r.Error)
				}
				if h := r.Headline(); h != "200 with wrong content, header" {
					t.Errorf("headline %q", h)
				}
			}
		})
	}
}

func TestAssertionSpecErrors(t *testing.T) {
	base := Spec{URL: "http://app.example.test/"}
	tests := []struct {
		name string
		mod  func(*Spec)
		want string
	}{
		{"path does not parse", func(s *Spec) {
			s.ExpectJSON = []JSONAssertion{{Path: "$.status", Equals: "ok"}, {Path: "$.[", Equals: "ok"}}
		}, "expect_json[1].path: "},
		{"path without $", func(s *Spec) { s.ExpectJSON = []JSONAssertion{{Path: "status", Equals: "ok"}} }, "expect_json[0].path: "},
		{"path missing", func(s *Spec) { s.ExpectJSON = []JSONAssertion{{Equals: "ok"}} }, "expect_json[0].path: missing"},
		{"neither equals nor matches", func(s *Spec) { s.ExpectJSON = []JSONAssertion{{Path: "$.a"}} }, "expect_json[0]: set equals or matches"},
		{"both", func(s *Spec) { s.ExpectJSON = []JSONAssertion{{Path: "$.a", Equals: "x", Matches: "x"}} }, "expect_json[0]: set one of equals and matches, not both"},
		{"bad regexp", func(s *Spec) { s.ExpectJSON = []JSONAssertion{{Path: "$.a", Matches: "(x"}} }, "expect_json[0].matches: "},
		{"equals a table", func(s *Spec) { s.ExpectJSON = []JSONAssertion{{Path: "$.a", Equals: map[string]any{"x": 1}}} }, "expect_json[0].equals: a table is not a string, number or bool"},
		{"equals an array", func(s *Spec) { s.ExpectJSON = []JSONAssertion{{Path: "$.a", Equals: []any{1}}} }, "expect_json[0].equals: an array"},
		{"header regexp", func(s *Spec) { s.ExpectHeader = map[string]string{"Content-Type": "~(json"} }, `expect_header["Content-Type"]: `},
		{"header name", func(s *Spec) { s.ExpectHeader = map[string]string{"Content Type": "json"} }, `expect_header["Content Type"]: "Content Type" is not a valid header name`},
		{"no certificate in ca_pem", func(s *Spec) { s.CAPEM = "not a certificate" }, "ca_pem: no PEM certificate in it"},
		{"a key is not a certificate", func(s *Spec) { s.CAPEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }, "ca_pem: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.mod(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
			// Each error is one line that starts with its field, so the
			// config can put it at the key's file:line.
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "expect_json[") && !strings.HasPrefix(line, "expect_header[") && !strings.HasPrefix(line, "ca_pem:") {
					t.Errorf("error line %q does not start with its field", line)
				}
			}
			if _, err := Compile(s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compile: %v, want %q", err, tc.want)
			}
			r := (&Prober{}).Run(context.Background(), s)
			if r.Class != result.ClassProtocolError || !strings.Contains(r.Error, tc.want) {
				t.Errorf("Run: %s %q", r.Class, r.Error)
			}
		})
	}
}

// TestSpecJSONRoundTrip is what a coordinator sends an agent: the
// assertions and the CA survive encoding, numbers by value.
func TestSpecJSONRoundTrip(t *testing.T) {
	srv := jsonServer(t)
	s := Spec{URL: srv.URL + "/health", ExpectJSON: []JSONAssertion{{Path: "$.count", Equals: int64(2)}, {Path: "$.version", Matches: `^2\.`}, {Path: "$.up", Equals: true}},
		ExpectHeader: map[string]string{"Content-Type": "~json"}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	check(t, (&Prober{}).Run(context.Background(), back), result.ClassOK, "")
	back.ExpectJSON[0].Equals = 3.0
	check(t, (&Prober{}).Run(context.Background(), back), result.ClassContentMismatch, result.DetailJSONPath)
}

func TestBodyKeptOnlyForJSON(t *testing.T) {
	// Only expect_json holds the body, up to max; other checks stream it.
	body := strings.Repeat("0123456789", 10000)
	for _, keep := range []bool{false, true} {
		b := bodyReader{src: strings.NewReader(body), max: 50000, keep: keep, expect: []byte("789")}
		if _, err := b.run(nil); err != nil {
			t.Fatal(err)
		}
		if !b.found || b.n != 50000 {
			t.Errorf("keep %v: found %v after %d bytes", keep, b.found, b.n)
		}
		if keep && string(b.all) != body[:50000] || !keep && b.all != nil {
			t.Errorf("keep %v: holds %d bytes", keep, len(b.all))
		}
	}
}
