package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// A coordinator's assertions are compiled and applied by the agent, and
// their failures come back with the evidence.
func TestAgentRunsTheSpecsAssertions(t *testing.T) {
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": "degraded", "id": 9007199254740992, "checks": [{"healthy": true}, {"healthy": false}]}`)
	})
	a := newAgent(t, Options{})
	c := a.client(testKey)
	tests := []struct {
		name   string
		spec   probe.Spec
		detail string
		found  string
	}{
		{"all hold", probe.Spec{ExpectJSON: []probe.JSONAssertion{{Path: "$.status", Matches: "^deg"}, {Path: "$.id", Equals: int64(9007199254740992)}},
			ExpectHeader: map[string]string{"Content-Type": "~^application/json"}}, "", ""},
		{"json path", probe.Spec{ExpectJSON: []probe.JSONAssertion{{Path: "$.checks[*].healthy", Equals: true}}}, result.DetailJSONPath, "[true,false]"},
		// 2^53+1 rounds to the body's 2^53 as a float64: the agent keeps the
		// integer the coordinator sent.
		{"a large integer stays exact", probe.Spec{ExpectJSON: []probe.JSONAssertion{{Path: "$.id", Equals: int64(9007199254740993)}}}, result.DetailJSONPath, "9007199254740992"},
		{"header", probe.Spec{ExpectHeader: map[string]string{"Content-Type": "text/html"}}, result.DetailHeader, "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.URL = tg.URL
			r, err := c.Probe(context.Background(), tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if tc.detail == "" {
				if !r.OK {
					t.Fatalf("got %s %s: %s", r.Class, r.Detail, r.Error)
				}
				return
			}
			if r.Class != result.ClassContentMismatch || r.Detail != tc.detail || r.Evidence.Assertion == nil || r.Evidence.Assertion.Found != tc.found {
				t.Fatalf("got %s %s %+v (%s), want %s found %q", r.Class, r.Detail, r.Evidence.Assertion, r.Error, tc.detail, tc.found)
			}
		})
	}
}

// A spec whose assertions or CA do not compile is refused before any
// probe, naming the field.
func TestAgentRefusesBadAssertions(t *testing.T) {
	tg := newTarget(t, nil)
	a := newAgent(t, Options{})
	for _, tc := range []struct {
		name string
		spec map[string]any
		want string
	}{
		{"path", map[string]any{"expect_json": []any{map[string]any{"path": "$.[", "equals": "ok"}}}, "expect_json[0].path"},
		{"equals and matches", map[string]any{"expect_json": []any{map[string]any{"path": "$.a", "equals": "ok", "matches": "o"}}}, "expect_json[0]: set one of"},
		{"equals an object", map[string]any{"expect_json": []any{map[string]any{"path": "$.a", "equals": map[string]any{}}}}, "expect_json[0].equals"},
		{"header regexp", map[string]any{"expect_header": map[string]string{"X-A": "~("}}, `expect_header["X-A"]`},
		{"ca", map[string]any{"ca_pem": "junk"}, "ca_pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec["url"] = tg.URL
			body, err := json.Marshal(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			resp, msg := a.do(t, rawRequest{body: body})
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(msg, "bad probe spec") || !strings.Contains(msg, tc.want) {
				t.Fatalf("status %d (%s), want 400 naming %q", resp.StatusCode, msg, tc.want)
			}
		})
	}
	if n := tg.hits.Load(); n != 0 {
		t.Errorf("target hit %d times by refused specs", n)
	}
}

// The coordinator's ca_pem is the agent's trust for that probe: a private
// CA the agent's own roots do not know.
func TestAgentHonoursCAPEM(t *testing.T) {
	a := newAgent(t, Options{})
	// Valid by the agent's clock, which its prober verifies with.
	valid := testkit.ValidBetween(a.clock.Now().Add(-time.Hour), a.clock.Now().Add(24*time.Hour))
	ca := testkit.NewCA(t, "coordinator's private CA", valid)
	leaf := ca.Intermediate(t, "private issuing CA", valid).Leaf(t, []string{"127.0.0.1"}, valid)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "private") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	c := a.client(testKey)
	r, err := c.Probe(context.Background(), probe.Spec{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if r.Class != result.ClassTLSError || r.Detail != result.DetailUnknownAuthority {
		t.Fatalf("without ca_pem: %s %s (%s), want tls_error unknown-authority", r.Class, r.Detail, r.Error)
	}
	r, err = c.Probe(context.Background(), probe.Spec{URL: srv.URL, CAPEM: string(ca.PEM()), ExpectBody: "private"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK {
		t.Fatalf("with ca_pem: %s %s (%s)", r.Class, r.Detail, r.Error)
	}
	if r.TLS == nil || r.TLS.Earliest == nil || r.TLS.Serial == "" {
		t.Errorf("tls info %+v", r.TLS)
	}
}
