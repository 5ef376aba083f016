package daemon

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/config"
)

// webCert writes a certificate for 127.0.0.1 and localhost and its key into
// dir as web.crt and web.key, and returns a pool that trusts it.
func webCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	ca := testkit.NewCA(t, "vantage test CA")
	testkit.WriteKeyPair(t, ca.Leaf(t, []string{"127.0.0.1", "localhost"}), filepath.Join(dir, "web.crt"), filepath.Join(dir, "web.key"))
	return ca.Pool()
}

// TestWebConfigTLSAndBasicAuth: a Prometheus web.config with TLS and a
// bcrypt user locks the real listener: no credentials or wrong ones get
// 401, the right ones 200, and plain HTTP gets no page.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	pool := webCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webYML := fmt.Sprintf("tls_server_config:\n  cert_file: web.crt\n  key_file: web.key\nbasic_auth_users:\n  ops: %s\n", hash)
	if err := os.WriteFile(filepath.Join(dir, "web.yml"), []byte(webYML), 0o600); err != nil {
		t.Fatal(err)
	}
	tg := newTarget(t)
	f := &fixture{t: t, dir: dir, clock: testkit.NewClock(t0), logs: &testkit.Buffer{}}
	f.file = writeConfig(t, dir, "[web]\nconfig_file = \"web.yml\"\nhostnames = [\"status.example.com\"]\n"+monitorTOML("shop", tg.URL))
	f.open(nil)
	if !f.d.config().Web.Auth {
		t.Fatal("the web config's users were not noticed")
	}
	f.run()
	addr := f.d.Addr().String()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(scheme, user, pass, host string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, scheme+"://"+addr+"/api/v1/monitors", nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("https", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d %s, want 401", code, body)
	}
	if code, body := get("https", "ops", "wrong", ""); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d %s, want 401", code, body)
	}
	if code, body := get("https", "ops", "s3cret", ""); code != http.StatusOK || !strings.Contains(body, `"name":"shop"`) {
		t.Errorf("right password: %d %s, want 200 and the monitors", code, body)
	}
	if code, body := get("https", "ops", "s3cret", "status.example.com"); code != http.StatusOK {
		t.Errorf("a configured hostname: %d %s, want 200", code, body)
	}
	if code, body := get("https", "ops", "s3cret", "rebound.example"); code != http.StatusMisdirectedRequest {
		t.Errorf("an unknown Host over TLS: %d %s, want 421", code, body)
	}
	// Go's TLS server answers a plain request with 400 "Client sent an
	// HTTP request to an HTTPS server".
	if code, body := get("http", "ops", "s3cret", ""); code != http.StatusBadRequest || strings.Contains(body, `"name":"shop"`) {
		t.Errorf("plain HTTP to the TLS listener: %d %s, want no page", code, body)
	}
	if strings.Contains(f.logs.String(), "asks for no credentials") {
		t.Errorf("warned about an exposed surface that asks for credentials:\n%s", f.logs)
	}
}

// TestHostCheckOnListener: the real listener refuses a Host header that
// is neither loopback nor the listen address nor a [web] hostname, and a
// reload's new hostnames apply at once.
func TestHostCheckOnListener(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("shop", tg.URL), nil)
	f.run()
	url := "http://" + f.d.Addr().String() + "/api/v1/monitors"
	get := func(host string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(f.d.Addr().String()); code != http.StatusOK {
		t.Errorf("Host 127.0.0.1: %d, want 200", code)
	}
	if code := get("status.example.com"); code != http.StatusMisdirectedRequest {
		t.Errorf("unconfigured Host: %d, want 421", code)
	}
	path := writeConfig(t, f.dir, "[web]\nhostnames = [\"status.example.com\"]\n"+monitorTOML("shop", tg.URL))
	if err := f.d.ReloadFile(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	if code := get("status.example.com:9207"); code != http.StatusOK {
		t.Errorf("Host configured by the reload: %d, want 200", code)
	}
}

func TestWarnExposed(t *testing.T) {
	for _, tc := range []struct {
		listen string
		auth   bool
		warn   bool
	}{
		{"127.0.0.1:9207", false, false},
		{"127.0.0.2:9207", false, false},
		{"[::1]:9207", false, false},
		{"localhost:9207", false, false},
		{"0.0.0.0:9207", false, true},
		{":9207", false, true},
		{"[::]:9207", false, true},
		{"192.0.2.10:9207", false, true},
		{"0.0.0.0:9207", true, false},
	} {
		var buf bytes.Buffer
		warnExposed(slog.New(slog.NewTextHandler(&buf, nil)), tc.listen, config.Web{Auth: tc.auth})
		got := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "asks for no credentials") && strings.Contains(buf.String(), "listen="+tc.listen)
		if got != tc.warn || (!tc.warn && buf.Len() > 0) {
			t.Errorf("listen %s, auth %v: logged %q, want a warning: %v", tc.listen, tc.auth, buf.String(), tc.warn)
		}
	}
}
