package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeSlack is the part of Slack's Web API a bot receiver uses.
type fakeSlack struct {
	mu    sync.Mutex
	calls []string // method and key form values
	fail  string   // an ok:false error for every call
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("%s channel=%s ts=%s thread_ts=%s auth=%s blocks=%v",
		method, r.Form.Get("channel"), r.Form.Get("ts"), r.Form.Get("thread_ts"), r.Header.Get("Authorization")+r.Form.Get("token"), r.Form.Get("blocks") != ""))
	fail := f.fail
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if fail != "" {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": fail})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C0TEST", "ts": "1700000000.000100"})
}

func slackConfig(t *testing.T, apiURL string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slack-token"), []byte("xoxb-test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "vantage.toml")
	body := fmt.Sprintf(`
[[monitor]]
name = "shop"
url = "http://127.0.0.1:1/"

[[receiver]]
name = "ops-slack"
type = "slack"
channel = "C0TEST"
token_file = "slack-token"
api_url = %q
timeout = "3s"
`, apiURL)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestNotifyTestPostsThenUpdatesTheSameMessage(t *testing.T) {
	fake := &fakeSlack{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	file := slackConfig(t, srv.URL+"/api/")

	code, out, errOut := runCLI(t, "notify-test", "ops-slack", "-config", file)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"receiver ops-slack (slack bot, channel C0TEST)", "sending open: ", "sending resolve: ", "delivered in", "message C0TEST/1700000000.000100"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	fake.mu.Lock()
	calls := strings.Join(fake.calls, "\n")
	fake.mu.Unlock()
	for _, want := range []string{
		"chat.postMessage channel=C0TEST ts= thread_ts= auth=xoxb-test-token blocks=true",
		"chat.update channel=C0TEST ts=1700000000.000100",
		"chat.postMessage channel=C0TEST ts= thread_ts=1700000000.000100",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("Slack was not called with %q; calls:\n%s", want, calls)
		}
	}
	if strings.Contains(out+errOut, "xoxb-test-token") {
		t.Error("the token was printed")
	}
}

func TestNotifyTestSaysWhyItFailed(t *testing.T) {
	fake := &fakeSlack{fail: "channel_not_found"}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	file := slackConfig(t, srv.URL+"/api/")

	code, out, _ := runCLI(t, "notify-test", "-config", file, "ops-slack")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFailed, out)
	}
	if !strings.Contains(out, "FAILED") || !strings.Contains(out, "permanently (channel_not_found)") {
		t.Errorf("output does not say the failure is permanent and why:\n%s", out)
	}

	code, _, errOut := runCLI(t, "notify-test", "-config", file, "nosuch")
	if code != exitFailed || !strings.Contains(errOut, `no receiver "nosuch"`) || !strings.Contains(errOut, "ops-slack") {
		t.Errorf("unknown receiver: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "notify-test", "-config", file); code != exitUsage {
		t.Errorf("no receiver named: exit %d, want %d", code, exitUsage)
	}
}
