package config

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/redact"
)

func writeCreds(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFileCredentials(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("CREDENTIALS_DIRECTORY", writeCreds(t, map[string]string{
		"shop-password": "s3cret pass\n",
		"api-token":     "Bearer tok-123\n",
		"api-key":       "k-456\n",
	}))
	cfg, err := Parse("/etc/vantage/vantage.toml", []byte(`
[[monitor]]
name = "shop"
url = "https://shop.example.com/"
basic_auth = { username = "probe", password_file = "shop-password" }
headers = { Accept = "text/html" }

[[monitor]]
name = "api"
url = "https://api.example.com/"
header_files = { Authorization = "api-token", "x-api-key" = "api-key" }
`))
	if err != nil {
		t.Fatal(err)
	}
	shop := cfg.Monitor("shop").Spec()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("probe:s3cret pass"))
	if got := shop.Headers["Authorization"]; got != want {
		t.Errorf("shop Authorization = %q, want %q (trailing newline trimmed)", got, want)
	}
	if shop.Headers["Accept"] != "text/html" {
		t.Errorf("inline headers lost: %v", shop.Headers)
	}
	api := cfg.Monitor("api").Spec()
	if api.Headers["Authorization"] != "Bearer tok-123" || api.Headers["X-Api-Key"] != "k-456" {
		t.Errorf("api headers = %v", api.Headers)
	}
	// The spec an agent gets is JSON: the credential is there (it is signed
	// with the vantage key), but the config's own JSON shows no secret.
	if b, _ := jsonOf(cfg); strings.Contains(b, "s3cret") || strings.Contains(b, "tok-123") {
		t.Errorf("the config's JSON leaks a credential: %s", b)
	}
}

func jsonOf(cfg *Config) (string, error) {
	b, err := json.Marshal(cfg)
	return string(b), err
}

func TestFileCredentialErrors(t *testing.T) {
	hermeticEnv(t)
	creds := writeCreds(t, map[string]string{"two-lines": "a\nb\n", "ok": "x"})
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	_, err := Parse("w.toml", []byte(`[[monitor]]
name = "a"
url = "https://a.example.com/"
basic_auth = { username = "probe", password_file = "missing-file" }

[[monitor]]
name = "b"
url = "https://b.example.com/"
header_files = { Authorization = "two-lines" }

[[monitor]]
name = "c"
url = "https://c.example.com/"
headers = { authorization = "Bearer inline" }
basic_auth = { username = "probe", password_file = "ok", pasword = "x" }

[[monitor]]
name = "d"
url = "https://d.example.com/"
basic_auth = { password_file = "ok" }
header_files = { "Bad Name" = "ok", "X-Empty" = "" }

[defaults]
basic_auth = { username = "probe", password_file = "ok" }
`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	got := strings.Join(ve.Lines(), "\n")
	for _, want := range []string{
		`w.toml:4: monitor "a": basic_auth.password_file: cannot read ` + filepath.Join(creds, "missing-file") + `: no such file or directory`,
		`w.toml:9: monitor "b": header_files.Authorization: ` + filepath.Join(creds, "two-lines") + ` holds more than one line`,
		`w.toml:15: monitor "c": basic_auth: unknown key "pasword"`,
		`w.toml:20: monitor "d": basic_auth.username: missing`,
		`w.toml:21: monitor "d": header_files.Bad Name: "Bad Name" is not a valid header name`,
		`w.toml:21: monitor "d": header_files.X-Empty: empty`,
		`defaults: basic_auth: is set per monitor, not in [defaults]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack\n  %s\ngot:\n%s", want, got)
		}
	}
	// With the typo fixed, the clash with the inline header is the error.
	_, err = Parse("w.toml", []byte(`[[monitor]]
name = "c"
url = "https://c.example.com/"
headers = { authorization = "Bearer inline" }
basic_auth = { username = "probe", password_file = "ok" }
`))
	if err == nil || !strings.Contains(err.Error(), `w.toml:5: monitor "c": basic_auth: sets the Authorization header, which headers.authorization sets too; use one`) {
		t.Errorf("clash: got %v", err)
	}
}

// TestSecretsCoverTheConfig: every kind of secret a config holds is known
// to the Redactor built from Secrets.
func TestSecretsCoverTheConfig(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("CREDENTIALS_DIRECTORY", writeCreds(t, map[string]string{
		"slack-token": "xoxb-slack-token-1\n",
		"hook":        "https://hooks.slack.com/services/T000/B000/hooksecretpart123\n",
		"smtp-pass":   "smtp-password-2\n",
		"agent.key":   "agent-key-3456789\n",
		"mon-pass":    "monitor-pass-4\n",
		"mon-token":   "Bearer header-file-token-5\n",
	}))
	cfg, err := Parse("/etc/vantage/vantage.toml", []byte(`
[canary]
urls = ["https://canary.example.com/?token=canary-token-6"]

[[vantage]]
name = "fra1"
url = "https://fra1:vantage-url-pass-7@fra1.example.net/"
key_file = "agent.key"

[[monitor]]
name = "a"
url = "https://user:url-password-8@a.example.com/?api_key=query-key-9"
origin = "http://o.example.com/?sig=origin-sig-10"
headers = { "X-Auth-Token" = "inline-token-11", Cookie = "session=cookie-12" }
basic_auth = { username = "probe", password_file = "mon-pass" }

[[monitor]]
name = "b"
url = "https://b.example.com/"
header_files = { Authorization = "mon-token" }

[[receiver]]
name = "slack"
type = "slack"
channel = "C1"
token_file = "slack-token"

[[receiver]]
name = "hook"
type = "slack"
webhook_url_file = "hook"

[[receiver]]
name = "mail"
type = "email"
smtp = "smtp.example.com:587"
from = "v@example.com"
to = ["o@example.com"]
username = "alerts"
password_file = "smtp-pass"
`))
	if err != nil {
		t.Fatal(err)
	}
	r := redact.New(cfg.Secrets())
	for _, s := range []string{
		"xoxb-slack-token-1", "https://hooks.slack.com/services/T000/B000/hooksecretpart123", "/services/T000/B000/hooksecretpart123",
		"hooksecretpart123", "smtp-password-2", base64.StdEncoding.EncodeToString([]byte("\x00alerts\x00smtp-password-2")),
		"agent-key-3456789", "monitor-pass-4", base64.StdEncoding.EncodeToString([]byte("probe:monitor-pass-4")),
		"header-file-token-5", "canary-token-6", "vantage-url-pass-7", "url-password-8", "query-key-9", "origin-sig-10",
		"inline-token-11", "session=cookie-12", url.QueryEscape("url-password-8"),
	} {
		if got := r.String("echo: " + s + " :end"); strings.Contains(got, s) {
			t.Errorf("%q is not redacted: %q", s, got)
		}
	}
	if got := r.String("the monitor a is down"); got != "the monitor a is down" {
		t.Errorf("plain text changed: %q", got)
	}
}

// TestFileCredentialsSent: the probe sends what the files hold.
func TestFileCredentialsSent(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("CREDENTIALS_DIRECTORY", writeCreds(t, map[string]string{"pw": "file-pass\n", "tok": "Bearer file-token\n"}))
	type seen struct{ auth, token string }
	got := make(chan seen, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("X-Token")}
	}))
	defer srv.Close()
	cfg, err := Parse("/etc/vantage/vantage.toml", []byte(`
[[monitor]]
name = "basic"
url = "`+srv.URL+`/basic"
basic_auth = { username = "probe", password_file = "pw" }

[[monitor]]
name = "bearer"
url = "`+srv.URL+`/bearer"
header_files = { Authorization = "tok", "X-Token" = "pw" }
`))
	if err != nil {
		t.Fatal(err)
	}
	var p probe.Prober
	for name, want := range map[string]seen{
		"basic":  {"Basic " + base64.StdEncoding.EncodeToString([]byte("probe:file-pass")), ""},
		"bearer": {"Bearer file-token", "file-pass"},
	} {
		if r := p.Run(context.Background(), cfg.Monitor(name).Spec()); !r.OK {
			t.Fatalf("%s: probe failed: %s", name, r.Error)
		}
		if g := <-got; g != want {
			t.Errorf("%s: the server got %+v, want %+v", name, g, want)
		}
	}
}
