package agent

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/config"
)

// TestFileCredentialsThroughAgent: a monitor's basic_auth and header_files
// travel in the probe plan to a remote vantage (inside the request signed
// with its key) and reach the target from there.
func TestFileCredentialsThroughAgent(t *testing.T) {
	creds := t.TempDir()
	for name, v := range map[string]string{"pw": "agent-side-pass\n", "tok": "tok-789\n"} {
		if err := os.WriteFile(filepath.Join(creds, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	var mu sync.Mutex
	var user, pass, token string
	tg := newTarget(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		user, pass, _ = r.BasicAuth()
		token = r.Header.Get("X-Api-Token")
		mu.Unlock()
	})
	cfg, err := config.Parse("/etc/vantage/vantage.toml", []byte(`
[[monitor]]
name = "private-api"
url = "`+tg.URL+`/"
basic_auth = { username = "probe", password_file = "pw" }
header_files = { "X-Api-Token" = "tok" }
`))
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, Options{})
	r, err := a.client(testKey).Probe(context.Background(), cfg.Monitor("private-api").Spec())
	if err != nil || !r.OK {
		t.Fatalf("Probe: %v, %+v", err, r)
	}
	mu.Lock()
	defer mu.Unlock()
	if user != "probe" || pass != "agent-side-pass" || token != "tok-789" {
		t.Errorf("the target got user %q password %q token %q", user, pass, token)
	}
}
