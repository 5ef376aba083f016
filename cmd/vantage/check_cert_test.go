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
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
)

const certDay = 24 * time.Hour

// certServer is a loopback HTTPS server presenting leaf, and the file of
// the CA that verifies it for --ca-file.
func certServer(t *testing.T, ca *testkit.CA, leaf tls.Certificate) (url, caFile string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	ca.WriteFile(t, caFile)
	return srv.URL, caFile
}

// leafLeft is a leaf for 127.0.0.1 with left to run from now (half a day
// more, so that the whole days left are not on an edge).
func leafLeft(t *testing.T, ca *testkit.CA, left time.Duration) tls.Certificate {
	t.Helper()
	now := time.Now()
	return ca.Leaf(t, []string{"127.0.0.1"}, testkit.ValidBetween(now.Add(-time.Hour), now.Add(left+12*time.Hour)))
}

// A leaf with 4 days left is UP, and check says it is under the default
// 7-day threshold, what the daemon does of it and what to do, in text and
// in JSON beside the Outcome's own fields; the exit stays 0.
func TestCheckCertUnderTheDefaultThreshold(t *testing.T) {
	ca := testkit.NewCA(t, "private root")
	url, caFile := certServer(t, ca, leafLeft(t, ca, 4*certDay))

	code, out, errOut := runCLI(t, "check", "--ca-file", caFile, url)
	if code != exitOK || !strings.HasPrefix(out, "UP") {
		t.Fatalf("exit %d, want 0 and UP: an expiring certificate is a warning\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"(4 days left)",
		"  warning   certificate expires in 4 days (",
		"): CN=127.0.0.1, serial ",
		", issuer private root\n",
		"            under 7 days of cert_warn_days 21,7,2: a warning; the daemon opens a certificate incident\n",
		"  next steps\n    1. ",
		"openssl s_client",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runCLI(t, "check", "--json", "--ca-file", caFile, url)
	if code != exitOK {
		t.Fatalf("--json: exit %d\n%s%s", code, out, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	for _, f := range []string{"url", "ok", "class", "status", "phases", "remote_addr", "tls", "evidence", "fixes", "scope"} {
		if _, ok := m[f]; !ok {
			t.Errorf("JSON lacks the Outcome's field %q", f)
		}
	}
	if m["ok"] != true || m["class"] != "ok" {
		t.Errorf("ok/class = %v/%v, want the check's own verdict, true/ok", m["ok"], m["class"])
	}
	var got struct {
		Warnings []struct {
			Kind          string   `json:"kind"`
			Severity      string   `json:"severity"`
			Detail        string   `json:"detail"`
			ThresholdDays int      `json:"threshold_days"`
			Summary       string   `json:"summary"`
			Fixes         []string `json:"fixes"`
			Cert          struct {
				DaysLeft int `json:"days_left"`
				Depth    int `json:"depth"`
			} `json:"cert"`
			Seen []struct {
				Vantage string `json:"vantage"`
				Over    bool   `json:"over"`
			} `json:"seen"`
		} `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Warnings) != 1 {
		t.Fatalf("warnings %+v, want one\n%s", got.Warnings, out)
	}
	w := got.Warnings[0]
	if w.Kind != "certificate" || w.Severity != "warning" || w.Detail != "under-7-days" || w.ThresholdDays != 7 ||
		w.Cert.DaysLeft != 4 || w.Cert.Depth != 0 || len(w.Fixes) == 0 || len(w.Seen) != 1 || w.Seen[0].Vantage != "local" || !w.Seen[0].Over {
		t.Errorf("warning %+v, want the leaf's certificate warning under 7 days, seen from local", w)
	}
	if !strings.HasPrefix(w.Summary, "certificate expires in 4 days (") {
		t.Errorf("summary %q", w.Summary)
	}
}

// --cert-warn-days sets the thresholds: under the smallest is critical,
// above the largest and an empty list say nothing; a certificate far from
// expiry adds no line and no "warnings" key.
func TestCheckCertWarnDaysFlag(t *testing.T) {
	ca := testkit.NewCA(t, "private root")
	url, caFile := certServer(t, ca, leafLeft(t, ca, 4*certDay))

	code, out, _ := runCLI(t, "check", "--ca-file", caFile, "--cert-warn-days", "5,10", url)
	if code != exitOK || !strings.Contains(out, "under 5 days, the last of cert_warn_days 10,5: critical; the daemon opens a critical certificate incident") {
		t.Errorf("--cert-warn-days 5,10: exit %d, want a critical line under 5 days\n%s", code, out)
	}
	code, out, _ = runCLI(t, "check", "--ca-file", caFile, "--cert-warn-days", "2,5", url)
	if code != exitOK || !strings.Contains(out, "under 5 days of cert_warn_days 5,2: a warning") {
		t.Errorf("--cert-warn-days 2,5: exit %d, want a warning under 5 days, not critical above 2\n%s", code, out)
	}
	for _, days := range []string{"3,1", ""} {
		code, out, _ := runCLI(t, "check", "--ca-file", caFile, "--cert-warn-days", days, url)
		if code != exitOK || strings.Contains(out, "warning") || strings.Contains(out, "next steps") {
			t.Errorf("--cert-warn-days %q: exit %d, want no warning\n%s", days, code, out)
		}
	}

	far, farCA := certServer(t, ca, leafLeft(t, ca, 300*certDay))
	code, out, _ = runCLI(t, "check", "--ca-file", farCA, far)
	if code != exitOK || strings.Contains(out, "warning") {
		t.Errorf("a year left: exit %d, want no warning\n%s", code, out)
	}
	code, out, _ = runCLI(t, "check", "--json", "--ca-file", farCA, far)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); code != exitOK || err != nil {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
	}
	if _, ok := m["warnings"]; ok {
		t.Errorf("JSON has warnings with nothing to warn of:\n%s", out)
	}

	for _, tt := range []struct{ value, want string }{
		{"0", `--cert-warn-days: "0": "0" is not a number of days from 1 to 3650`},
		{"7,x", `--cert-warn-days: "7,x": "x" is not a number of days`},
		{"7,7", `--cert-warn-days: "7,7": 7 is listed twice`},
		{"4000", `"4000" is not a number of days from 1 to 3650`},
	} {
		code, _, errOut := runCLI(t, "check", "--cert-warn-days", tt.value, url)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("--cert-warn-days %q: exit %d, stderr %q, want usage naming %q", tt.value, code, errOut, tt.want)
		}
	}
}

// An intermediate that expires before the leaf is the certificate warned
// of, and the line says it is the intermediate.
func TestCheckCertIntermediateExpiresFirst(t *testing.T) {
	root := testkit.NewCA(t, "private root")
	now := time.Now()
	inter := root.Intermediate(t, "private intermediate", testkit.ValidBetween(now.Add(-time.Hour), now.Add(3*certDay+12*time.Hour)))
	url, caFile := certServer(t, root, inter.Leaf(t, []string{"127.0.0.1"}, testkit.ValidBetween(now.Add(-time.Hour), now.Add(365*certDay))))

	code, out, errOut := runCLI(t, "check", "--ca-file", caFile, url)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"  warning   intermediate certificate expires in 3 days (",
		"): CN=private intermediate, serial ",
		", issuer private root\n",
		"under 7 days of cert_warn_days 21,7,2: a warning",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// With --config the watchlist's [defaults] cert_warn_days apply, and every
// vantage the certificate was served to is named; --cert-warn-days still
// wins.
func TestCheckCertWarnDaysFromConfig(t *testing.T) {
	ca := testkit.NewCA(t, "private root")
	url, caFile := certServer(t, ca, leafLeft(t, ca, 4*certDay))
	canary, _ := switchable(t, http.StatusNoContent)
	agentURL, key := agentServer(t)
	file := vantageConfig(t, canary.URL, agentURL, key)
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n[defaults]\ncert_warn_days = [30, 5]\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(t, "check", "--config", file, "--ca-file", caFile, url)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{", served to every vantage\n", "under 5 days, the last of cert_warn_days 30,5: critical"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, "check", "--config", file, "--ca-file", caFile, "--cert-warn-days", "3", url)
	if code != exitOK || strings.Contains(out, "warning") {
		t.Errorf("--cert-warn-days 3 over the config's: exit %d, want no warning\n%s", code, out)
	}
}
