package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// switchable is a loopback server answering with the status the test sets.
func switchable(t *testing.T, status int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var st atomic.Int32
	st.Store(int32(status))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(st.Load()))
	}))
	t.Cleanup(srv.Close)
	return srv, &st
}

// agentServer is a real `vantage agent` endpoint on loopback.
func agentServer(t *testing.T) (url, key string) {
	t.Helper()
	key = agent.GenerateKey()
	keys, err := agent.ParseKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := agent.NewServer(agent.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL, key
}

// vantageConfig writes a watchlist with one canary and a vantage fra1 at
// agentURL signing with key.
func vantageConfig(t *testing.T, canary, agentURL, key string) string {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "fra1.key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`state_dir = %q
[canary]
urls = [%q]
timeout = "2s"

[[vantage]]
name = "fra1"
url = %q
key_file = %q
`, filepath.Join(dir, "state"), canary, agentURL, keyFile)
	file := filepath.Join(dir, "vantage.toml")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestCheckWithConfigUsesVantages(t *testing.T) {
	canary, canaryStatus := switchable(t, http.StatusNoContent)
	agentURL, key := agentServer(t)
	good := vantageConfig(t, canary.URL, agentURL, key)
	wrongKey := vantageConfig(t, canary.URL, agentURL, agent.GenerateKey())
	target, targetStatus := switchable(t, http.StatusOK)

	tests := []struct {
		name     string
		file     string
		target   int
		canary   int
		args     []string
		code     int
		inOut    []string
		notInOut []string
	}{
		{name: "up everywhere", file: good, target: 200, canary: 204, code: exitOK,
			inOut: []string{"scope     up for everyone", "vantage   local        up", "vantage   fra1         up"}},
		{name: "down for everyone", file: good, target: 502, canary: 204, code: exitFailed,
			inOut: []string{"scope     down for everyone", "vantage   local        down", "vantage   fra1         down"}},
		{name: "our side", file: good, target: 502, canary: 500, code: exitFailed,
			inOut: []string{"scope     our side: local, fra1 are impaired", "impaired"}},
		{name: "wrong key is unreachable, not a vote", file: wrongKey, target: 502, canary: 204, code: exitFailed,
			inOut: []string{"scope     down for everyone", "vantage   fra1         unreachable"}, notInOut: []string{"fra1         down"}},
		{name: "flags still apply", file: good, target: 502, canary: 204, args: []string{"--expect-status", "502"}, code: exitOK,
			inOut: []string{"scope     up for everyone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targetStatus.Store(int32(tt.target))
			canaryStatus.Store(int32(tt.canary))
			args := append([]string{"check", "-config", tt.file, target.URL}, tt.args...)
			code, out, errOut := runCLI(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			for _, want := range tt.inOut {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, not := range tt.notInOut {
				if strings.Contains(out, not) {
					t.Errorf("stdout has %q:\n%s", not, out)
				}
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		targetStatus.Store(http.StatusBadGateway)
		canaryStatus.Store(http.StatusNoContent)
		code, out, errOut := runCLI(t, "check", "--json", "-config", good, target.URL)
		if code != exitFailed {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		var r result.Outcome
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if r.Scope != result.ScopeEveryone || len(r.Vantages) != 2 || r.Vantages[0].Name != "local" || r.Vantages[1].Name != "fra1" {
			t.Fatalf("scope %q vantages %+v", r.Scope, r.Vantages)
		}
	})
}

func TestCheckWithBadConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(file, []byte("[[vantage]]\nname = \"fra1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "check", "-config", file, "http://127.0.0.1:1/")
	if code != exitUsage || !strings.Contains(errOut, "url") || out != "" {
		t.Fatalf("exit %d, want %d with the config errors\nstdout:\n%s\nstderr:\n%s", code, exitUsage, out, errOut)
	}
	code, _, errOut = runCLI(t, "check", "-config", filepath.Join(dir, "missing.toml"), "http://127.0.0.1:1/")
	if code != exitUsage || errOut == "" {
		t.Fatalf("missing config: exit %d, stderr %q", code, errOut)
	}
}

// upRemote is a remote vantage that sees every URL up.
type upRemote struct{}

func (upRemote) Probe(_ context.Context, s probe.Spec) (result.Result, error) {
	r := result.Result{URL: s.URL, OK: true, Class: result.ClassOK, Status: http.StatusOK}
	r.Normalize()
	return r, nil
}

func TestCheckScopeWords(t *testing.T) {
	canary, canaryStatus := switchable(t, http.StatusNoContent)
	target, _ := switchable(t, http.StatusBadGateway)
	t.Setenv("VANTAGE_TEST_KEY", agent.GenerateKey())
	cfg, err := config.Parse("test.toml", fmt.Appendf(nil, `state_dir = %q
[canary]
urls = [%q]
[[vantage]]
name = "fra1"
url = "http://127.0.0.1:9/"
key_env = "VANTAGE_TEST_KEY"
`, t.TempDir(), canary.URL))
	if err != nil {
		t.Fatal(err)
	}
	remote := func(*config.Vantage) (vantage.Prober, error) { return upRemote{}, nil }
	spec := probe.Spec{URL: target.URL}

	// Only local sees the target down, and its canary passes: partial.
	res, err := checkFromVantages(context.Background(), cfg, remote, spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := scopeWords(&res); got != "down from local only (up from fra1)" {
		t.Errorf("scope %q (%s)", got, res.Scope)
	}
	// Local's canary fails too: our side.
	canaryStatus.Store(http.StatusInternalServerError)
	res, err = checkFromVantages(context.Background(), cfg, remote, spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := scopeWords(&res); got != "our side: local is impaired" {
		t.Errorf("scope %q (%s)", got, res.Scope)
	}
}
