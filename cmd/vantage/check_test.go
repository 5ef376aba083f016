package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = dispatch(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckExitStatus(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("all good"))
	}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.22.1")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n"))
	}))
	defer bad.Close()

	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"passes", []string{"check", ok.URL}, exitOK, "UP", ""},
		{"flags after the URL", []string{"check", ok.URL, "--expect-body", "all good"}, exitOK, "UP", ""},
		{"content mismatch fails", []string{"check", "--expect-body", "nope", ok.URL}, exitFailed, "content_mismatch", ""},
		{"502 fails", []string{"check", bad.URL}, exitFailed, "bad_gateway", ""},
		{"502 accepted when expected", []string{"check", "--expect-status", "500-599", bad.URL}, exitOK, "UP", ""},
		{"no URL", []string{"check"}, exitUsage, "", "a URL is required"},
		{"two URLs", []string{"check", ok.URL, bad.URL}, exitUsage, "", "one URL expected"},
		{"bad flag", []string{"check", "--nope", ok.URL}, exitUsage, "", "flag provided but not defined"},
		{"bad status set", []string{"check", "--expect-status", "99", ok.URL}, exitUsage, "", "--expect-status"},
		{"bad scheme", []string{"check", "ftp://example.com/"}, exitUsage, "", "scheme"},
		{"bad header", []string{"check", "--header", "nocolon", ok.URL}, exitUsage, "", "--header"},
		{"-4 and -6", []string{"check", "-4", "-6", ok.URL}, exitUsage, "", "exclude"},
		{"bad max-body", []string{"check", "--max-body", "lots", ok.URL}, exitUsage, "", "byte count"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out, tt.inStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.inStdout, out)
			}
			if !strings.Contains(errOut, tt.inStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.inStderr, errOut)
			}
		})
	}
}

// The JSON field names are a public contract: scripts parse them.
func TestCheckJSONContract(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Probe") != "yes" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, "check", "--json", "--method", "post", "--header", "X-Probe: yes", srv.URL)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitFailed, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	for _, f := range []string{"url", "ok", "class", "status", "gateway", "via", "detail", "error", "phases", "remote_addr", "evidence", "fixes"} {
		if _, ok := m[f]; !ok {
			t.Errorf("JSON lacks field %q", f)
		}
	}
	if m["class"] != "service_unavailable" || m["status"] != float64(503) || m["ok"] != false {
		t.Errorf("class/status/ok = %v/%v/%v, want service_unavailable/503/false", m["class"], m["status"], m["ok"])
	}
	phases, _ := m["phases"].(map[string]any)
	for _, f := range []string{"dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms"} {
		if _, ok := phases[f].(float64); !ok {
			t.Errorf("phases.%s is not a number: %v", f, phases[f])
		}
	}
	if _, _, err := net.SplitHostPort(m["remote_addr"].(string)); err != nil {
		t.Errorf("remote_addr %q is not host:port: %v", m["remote_addr"], err)
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := runCLI(t, "help")
	if code != exitOK {
		t.Fatalf("help exit %d", code)
	}
	for name := range commands() {
		if !strings.Contains(out, "  "+name+" ") {
			t.Errorf("help does not list %q:\n%s", name, out)
		}
	}
	code, out, _ = runCLI(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "vantage "+version) {
		t.Errorf("version: exit %d, output %q", code, out)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "1MiB": 1 << 20, "512KiB": 512 << 10, "2MB": 2e6, "10B": 10} {
		got, err := parseByteSize(in)
		if err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "lots", "1TiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) accepted", in)
		}
	}
}
