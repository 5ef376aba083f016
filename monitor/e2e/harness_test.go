package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The suite must fail loudly, with the fix, when a proxy is missing.
func TestMissingProxyNamesTheFix(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	_, err := lookBinary("nginx", empty)
	if err == nil {
		t.Fatal("lookBinary found nginx in an empty PATH and directory")
	}
	msg := missingBinary("nginx", "nginx-light", err)
	for _, want := range []string{"nginx is not installed", "apt-get install -y --no-install-recommends nginx-light", "VANTAGE_E2E=off"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}

func TestLookBinaryFallsBackToDirs(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	bin := filepath.Join(dir, "haproxy")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := lookBinary("haproxy", dir)
	if err != nil || got != bin {
		t.Fatalf("lookBinary = %q, %v; want %q", got, err, bin)
	}
	// A file that is not executable is not a binary.
	if err := os.Chmod(bin, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := lookBinary("haproxy", dir); err == nil {
		t.Fatalf("lookBinary found non-executable %q", got)
	}
}

// A proxy that cannot bind its port must come back as an error carrying its
// own complaint, with the process already gone, so startWithRetry can try
// another port and a failure message shows why.
func TestStartProxyReportsEarlyExit(t *testing.T) {
	t.Parallel()
	optOut(t)
	// HAProxy, because it gives up on a taken port at once; nginx retries
	// bind() for 2.5 s.
	bin := requireBinary(t, "haproxy", "haproxy")
	taken := listenLoopback(t)
	defer taken.Close()
	dir := t.TempDir()
	port := portOf(taken.Addr())
	conf := filepath.Join(dir, "haproxy.cfg")
	d := deadPort(t) // every route goes nowhere; HAProxy never gets that far
	writeTemplate(t, conf, haproxyConf, confFor(dir, port, upstreams{healthy: d, appError: d, dead: d, slow: d, reset: d, hangup: d, garbage: d, badHead: d, half: d}))
	p, err := startProxy(t, "haproxy", dir, port, bin, "-db", "-f", conf)
	if err == nil {
		t.Fatalf("haproxy started on taken port %d: %s", port, p.base)
	}
	if !strings.Contains(err.Error(), "exited before listening") || !strings.Contains(err.Error(), "Address already in use") {
		t.Errorf("error does not say why haproxy stopped: %v", err)
	}
}
