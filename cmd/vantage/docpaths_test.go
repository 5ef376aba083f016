package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// docPath finds the daemon's HTTP paths where the docs name them: a path of
// the API, /metrics or /healthz, with its query if any, up to a character
// that cannot be part of it in prose or TOML.
var docPath = regexp.MustCompile("(?:^|[\\s`(\"'])(/(?:api/[A-Za-z0-9_./{}-]*|metrics|healthz)(?:\\?[A-Za-z0-9_=&-]+)?)")

// docPaths lists every daemon path that README.md and config.example.toml
// mention, with where each is first mentioned.
func docPaths(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range []string{"../../README.md", "../../config.example.toml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, m := range docPath.FindAllStringSubmatch(line, -1) {
				p := strings.TrimRight(m[1], ".,:;")
				if _, ok := out[p]; !ok {
					out[p] = fmt.Sprintf("%s:%d", filepath.Base(f), i+1)
				}
			}
		}
	}
	return out
}

// TestDocumentedPathsAnswer starts the daemon and requests every path the
// docs send an operator to: none may be a 404 (config.example.toml named
// /api/v1/outbox, which never existed).
func TestDocumentedPathsAnswer(t *testing.T) {
	paths := docPaths(t)
	for _, want := range []string{"/api/v1/monitors", "/api/v1/notifications", "/metrics", "/healthz"} {
		if _, ok := paths[want]; !ok {
			t.Fatalf("the docs no longer mention %s, or the path pattern misses it; found %v", want, paths)
		}
	}
	target, _ := switchTarget(t)
	addr := freeAddr(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "vantage.toml")
	conf := fmt.Sprintf("listen = %q\nstate_dir = %q\n", addr, dir) + daemonMonitor("shop", target.URL)
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, file, addr)

	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		// A placeholder ({name}) stands for a monitor the config has.
		u := "http://" + addr + regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(p, "shop")
		resp, err := http.Get(u)
		if err != nil {
			t.Errorf("%s (named at %s): %v", p, paths[p], err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("%s (named at %s): 404: %s", p, paths[p], body)
		}
	}
}
