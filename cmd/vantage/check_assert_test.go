package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func TestCheckAssertionFlagsMakeTheSpec(t *testing.T) {
	ca := testkit.NewCA(t, "flags CA")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ca.WriteFile(t, caFile)
	o, err := parseCheckFlags([]string{"http://app.example.test/health",
		"--expect-json", "$.status=ok",
		"--expect-json", "$.checks[*].healthy=true",
		"--expect-json", "$.count=2",
		"--expect-json", `$.code="2"`,
		"--expect-json", `$.version~^2\.`,
		"--expect-json", `$.items[?@.name=='db'].ok=true`,
		"--expect-json", `$['a=b']=x`,
		"--expect-json", `$.query=a=b`,
		"--expect-json", ` $.spaced = ok `,
		"--expect-json", `$.quoted="with \"quotes\""`,
		"--expect-header", "Content-Type: application/json",
		"--expect-header", "X-Version: ~^2\\.",
		"--ca-file", caFile,
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []probe.JSONAssertion{
		{Path: "$.status", Equals: "ok"},
		{Path: "$.checks[*].healthy", Equals: true},
		{Path: "$.count", Equals: json.Number("2")},
		{Path: "$.code", Equals: "2"},
		{Path: "$.version", Matches: `^2\.`},
		{Path: `$.items[?@.name=='db'].ok`, Equals: true},
		{Path: `$['a=b']`, Equals: "x"},
		{Path: "$.query", Equals: "a=b"},
		{Path: "$.spaced", Equals: "ok"},
		{Path: "$.quoted", Equals: `with "quotes"`},
	}
	if !reflect.DeepEqual(o.spec.ExpectJSON, want) {
		t.Errorf("expect_json\n got %#v\nwant %#v", o.spec.ExpectJSON, want)
	}
	if h := o.spec.ExpectHeader; len(h) != 2 || h["Content-Type"] != "application/json" || h["X-Version"] != `~^2\.` {
		t.Errorf("expect_header %v", h)
	}
	if o.spec.CAPEM != string(ca.PEM()) {
		t.Errorf("ca_pem %q", o.spec.CAPEM)
	}
	if _, err := probe.Compile(o.spec); err != nil {
		t.Errorf("the flags' spec does not compile: %v", err)
	}
}

func TestCheckAssertionFlagErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	testkit.NewCA(t, "flags CA").WriteFile(t, ca)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--expect-json", "$.status"}, `--expect-json "$.status" is not PATH=VALUE or PATH~REGEXP`},
		{[]string{"--expect-json", "=ok"}, `--expect-json "=ok" has no path`},
		{[]string{"--expect-json", "$..=ok"}, `--expect-json "$..=ok": path: "$.." is not an RFC 9535 JSONPath`},
		{[]string{"--expect-json", "status=ok"}, `--expect-json "status=ok": path: `},
		{[]string{"--expect-json", "$.a~"}, `--expect-json "$.a~" has no regexp`},
		{[]string{"--expect-json", "$.a~(x"}, `--expect-json "$.a~(x": matches: error parsing regexp`},
		{[]string{"--expect-json", "$.a=null"}, `--expect-json "$.a=null": null is not a value to compare`},
		{[]string{"--expect-json", "$.a=[1]"}, `--expect-json "$.a=[1]": an array or object`},
		{[]string{"--expect-json", "$.ok=1", "--expect-json", "$.a=1e400"}, `--expect-json "$.a=1e400": equals: `},
		{[]string{"--expect-header", "Content-Type"}, `--expect-header "Content-Type" is not 'Name: text'`},
		{[]string{"--expect-header", "Content Type: json"}, `--expect-header: "Content Type" is not a valid header name`},
		{[]string{"--expect-header", "Content-Type: ~(json"}, `--expect-header: error parsing regexp`},
		{[]string{"--expect-header", "Content-Type: json", "--expect-header", "content-type: ~^app"}, `is already checked by "Content-Type: json"`},
		{[]string{"--ca-file", filepath.Join(dir, "missing.pem")}, "--ca-file: open " + filepath.Join(dir, "missing.pem")},
		{[]string{"--ca-file", junk}, "--ca-file " + junk + ": no PEM certificate in it"},
		{[]string{"--ca-file", empty}, "--ca-file " + empty + ": the file is empty"},
		{[]string{"--ca-file", ca, "--insecure"}, "--insecure turns off the verification --ca-file is for"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := runCLI(t, append(append([]string{"check"}, tc.args...), "http://app.example.test/")...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d with %q", code, errOut, exitUsage, tc.want)
			}
		})
	}
}

// A real `vantage check` run against a JSON server: the mismatch is
// reported as json-path with what was expected and found.
func TestCheckReportsAssertionMismatches(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": "down", "version": "2.4.1", "checks": [{"healthy": true}, {"healthy": false}]}`)
	}))
	defer srv.Close()

	code, out, errOut := runCLI(t, "check", srv.URL, "--expect-json", "$.version~^2\\.", "--expect-json", "$.status=ok")
	if code != exitFailed {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"DOWN", "200 with wrong content, json path", "content_mismatch", "detail    json-path",
		`json-path $.status: expected = "ok"; found "down"`} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = runCLI(t, "check", "--json", srv.URL, "--expect-json", "$.checks[*].healthy=true")
	if code != exitFailed {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var r result.Outcome
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if a := r.Evidence.Assertion; r.Detail != result.DetailJSONPath || a == nil || a.Path != "$.checks[*].healthy" || a.Expected != "= true" || a.Found != "[true,false]" {
		t.Errorf("detail %q assertion %+v", r.Detail, r.Evidence.Assertion)
	}

	code, out, _ = runCLI(t, "check", srv.URL, "--expect-header", "Content-Type: ~^text/")
	if code != exitFailed || !strings.Contains(out, "200 with wrong content, header") || !strings.Contains(out, "header Content-Type: expected matches ^text/; found application/json") {
		t.Errorf("exit %d:\n%s", code, out)
	}

	code, out, _ = runCLI(t, "check", srv.URL, "--expect-json", "$.version~^2\\.", "--expect-header", "content-type: json", "--expect-json", "$.checks[0].healthy=true")
	if code != exitOK || !strings.Contains(out, "UP") {
		t.Errorf("assertions that hold: exit %d\n%s", code, out)
	}
}

// --ca-file trusts a private CA, and the chain's earliest certificate is
// shown when it is not the leaf.
func TestCheckCAFile(t *testing.T) {
	root := testkit.NewCA(t, "private root")
	now := time.Now()
	inter := root.Intermediate(t, "private intermediate", testkit.ValidBetween(now.Add(-time.Hour), now.Add(3*24*time.Hour+time.Hour)))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{inter.Leaf(t, []string{"127.0.0.1"}, testkit.ValidBetween(now.Add(-time.Hour), now.Add(365*24*time.Hour)))}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	root.WriteFile(t, caFile)

	code, out, _ := runCLI(t, "check", srv.URL)
	if code != exitFailed || !strings.Contains(out, "unknown-authority") {
		t.Errorf("without --ca-file: exit %d\n%s", code, out)
	}
	code, out, errOut := runCLI(t, "check", "--ca-file", caFile, srv.URL)
	if code != exitOK {
		t.Fatalf("with --ca-file: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "chain     CN=private intermediate (depth 1, serial ") || !strings.Contains(out, "(3 days left), before the leaf") {
		t.Errorf("no chain line for the intermediate:\n%s", out)
	}
}
