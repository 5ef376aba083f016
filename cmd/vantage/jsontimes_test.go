package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// zeroTime is how encoding/json writes a time.Time that has not happened.
const zeroTime = "0001-01-01"

// zeroTimes lists every place in the JSON document doc that holds a zero
// time, as a path from the root ($.monitor.open_incident.resolved_at).
func zeroTimes(t *testing.T, what string, doc []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%s is not one JSON document: %v\n%s", what, err, doc)
	}
	var found []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if strings.Contains(k, zeroTime) {
					found = append(found, path+" has the key "+k)
				}
				walk(path+"."+k, x[k])
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			if strings.Contains(x, zeroTime) {
				found = append(found, fmt.Sprintf("%s = %q", path, x))
			}
		}
	}
	walk("$", v)
	return found
}

// jsonField is the raw JSON of the field at path (keys from the root) in
// doc; ok is false when a key is missing.
func jsonField(t *testing.T, doc []byte, path ...string) (raw string, ok bool) {
	t.Helper()
	cur := json.RawMessage(doc)
	for _, k := range path {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(cur, &m); err != nil {
			return "", false
		}
		if cur, ok = m[k]; !ok {
			return "", false
		}
	}
	return string(cur), true
}

// TestNoZeroTimeInJSON: a time that has not happened is null in every JSON
// the daemon serves and in `vantage check --json`, never Go's zero time
// (issue 12, point 5). The daemon is real and has what makes zero times:
// an open incident (no resolved_at yet), a monitor not checked yet (no
// last_check), and a notification its receiver keeps refusing.
func TestNoZeroTimeInJSON(t *testing.T) {
	target, _ := switchTarget(t) // 502 on every path
	closed := freeAddr(t)        // the Slack API: nothing listens
	addr := freeAddr(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slack-token"), []byte("xoxb-zero-times\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("listen = %q\nstate_dir = %q\n[notify]\ngroup_wait = \"0\"\n", addr, dir) + daemonMonitor("shop", target.URL) + fmt.Sprintf(`
[[monitor]]
name = "yearly"
url = %q
schedule = "0 0 1 1 *"

[[receiver]]
name = "ops"
type = "slack"
channel = "CZERO"
token_file = "slack-token"
api_url = "http://%s/api/"
timeout = "1s"
`, target.URL, closed)
	file := filepath.Join(dir, "vantage.toml")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startDaemon(t, file, addr)
	p.view("shop", "down with an open incident", down)

	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return body
	}
	p.waitFor("the DOWN alert to be tried and refused", func() bool {
		var b struct {
			Notifications []struct {
				Attempts  int    `json:"attempts"`
				LastError string `json:"last_error"`
			} `json:"notifications"`
		}
		if err := json.Unmarshal(get("/api/v1/notifications"), &b); err != nil {
			return false
		}
		return len(b.Notifications) > 0 && b.Notifications[0].Attempts > 0 && b.Notifications[0].LastError != ""
	})

	docs := map[string][]byte{}
	for _, path := range []string{"/api/v1/monitors", "/api/v1/monitors/shop", "/api/v1/monitors/yearly", "/api/v1/notifications", "/api/v1/notifications?state=pending"} {
		docs["GET "+path] = get(path)
	}
	// The times that have not happened are there, as null.
	for _, f := range []struct {
		doc  string
		path []string
	}{
		{"GET /api/v1/monitors/shop", []string{"monitor", "open_incident", "resolved_at"}},
		{"GET /api/v1/monitors/yearly", []string{"monitor", "last_check"}},
	} {
		if raw, ok := jsonField(t, docs[f.doc], f.path...); !ok || raw != "null" {
			t.Errorf("%s: %s is %q (present %v), want null\n%s", f.doc, strings.Join(f.path, "."), raw, ok, docs[f.doc])
		}
	}

	tlsTarget := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	tlsTarget.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake the check refuses
	tlsTarget.StartTLS()
	t.Cleanup(tlsTarget.Close)
	for _, args := range [][]string{
		{"check", "--json", target.URL},
		{"check", "--json", "--config", file, target.URL},
		{"check", "--json", tlsTarget.URL}, // a certificate nobody trusts: a TLS failure, with its tls info
	} {
		code, out, errOut := runCLI(t, args...)
		if code != exitFailed {
			t.Fatalf("vantage %s: exit %d, want %d (a failed check); stderr: %s", strings.Join(args, " "), code, exitFailed, errOut)
		}
		docs["vantage "+strings.Join(args, " ")] = []byte(out)
	}
	if raw, ok := jsonField(t, docs["vantage check --json "+tlsTarget.URL], "tls", "not_after"); !ok || raw == "null" {
		t.Errorf("check --json of a TLS failure: tls.not_after is %s (present %v), want the certificate's", raw, ok)
	}

	for what, doc := range docs {
		if found := zeroTimes(t, what, doc); len(found) > 0 || bytes.Contains(doc, []byte(zeroTime)) {
			t.Errorf("%s shows zero times, want null:\n  %s\n%s", what, strings.Join(found, "\n  "), doc)
		}
	}
}
