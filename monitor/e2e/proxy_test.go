package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
)

// The proxies' upstream timeouts. They are short so the suite stays fast, and
// the slow upstream never answers, so any value past them would do.
const (
	proxyReadTimeout    = "1s"
	proxyConnectTimeout = "500ms"
)

// routes maps each URL path prefix, served by both proxies, to the upstream
// behind it. noServer exists only in HAProxy, whose backend has no server.
var routes = []struct {
	path string
	port func(upstreams) int
}{
	{"/healthy/", func(u upstreams) int { return u.healthy }},
	{"/dead/", func(u upstreams) int { return u.dead }},
	{"/slow/", func(u upstreams) int { return u.slow }},
	{"/reset/", func(u upstreams) int { return u.reset }},
	{"/hangup/", func(u upstreams) int { return u.hangup }},
	{"/garbage/", func(u upstreams) int { return u.garbage }},
	{"/bad-header/", func(u upstreams) int { return u.badHead }},
	{"/half/", func(u upstreams) int { return u.half }},
	{"/app-error/", func(u upstreams) int { return u.appError }},
}

const noServerPath = "/no-server/"

// readyPath answers 204 with the start's token once the proxy serves.
const readyPath = "/__e2e_ready"

// readyToken is unique per start (each has its own temp dir), so a ready
// answer cannot come from another process that holds the port.
func readyToken(dir string, port int) string {
	return fmt.Sprintf("%x-%d", sha256.Sum256([]byte(dir)), port)
}

// requireBinary finds a proxy binary or fails the test saying how to install
// it. Only VANTAGE_E2E=off turns the suite off: CI installs both proxies, and
// a skip there would hide a broken image.
func requireBinary(t *testing.T, name, debianPackage string) string {
	t.Helper()
	// /usr/sbin is not on an ordinary user's PATH on Debian.
	p, err := lookBinary(name, "/usr/sbin")
	if err != nil {
		t.Fatal(missingBinary(name, debianPackage, err))
	}
	return p
}

// lookBinary finds name on PATH, then in dirs.
func lookBinary(name string, dirs ...string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, statErr := os.Stat(p); statErr == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("looking for %s on PATH and in %v: %w", name, dirs, err)
}

func missingBinary(name, debianPackage string, err error) string {
	return fmt.Sprintf("%s is not installed (%v): the end-to-end suite runs the real proxy. "+
		"Install it with `apt-get install -y --no-install-recommends %s` "+
		"(CI's .ci/run does), or opt out with VANTAGE_E2E=off", name, err, debianPackage)
}

func optOut(t *testing.T) {
	t.Helper()
	if v := os.Getenv("VANTAGE_E2E"); strings.EqualFold(v, "off") {
		t.Skip("VANTAGE_E2E=off: end-to-end tests against real nginx and HAProxy opted out")
	}
}

var nginxConf = template.Must(template.New("nginx").Parse(`# written by the vantage e2e tests
daemon off;
# One process: nothing to orphan, no user switch for the worker.
master_process off;
worker_processes 1;
{{if .Root}}# As root, nginx would chown its temp dirs to nobody; keep them root's.
user root;{{end}}
pid "{{.Dir}}/nginx.pid";
error_log "{{.Dir}}/error.log" info;
events { worker_connections 64; }
http {
	access_log "{{.Dir}}/access.log";
	client_body_temp_path "{{.Dir}}/client_body";
	proxy_temp_path "{{.Dir}}/proxy";
	fastcgi_temp_path "{{.Dir}}/fastcgi";
	uwsgi_temp_path "{{.Dir}}/uwsgi";
	scgi_temp_path "{{.Dir}}/scgi";
	proxy_connect_timeout {{.ConnectTimeout}};
	proxy_send_timeout {{.ReadTimeout}};
	proxy_read_timeout {{.ReadTimeout}};
	server {
		listen 127.0.0.1:{{.Port}};
		location = {{.ReadyPath}} { add_header X-E2E-Ready "{{.Token}}" always; return 204; }
{{- range .Routes}}
		location {{.Path}} { proxy_pass http://127.0.0.1:{{.Port}}; }
{{- end}}
	}
}
`))

var haproxyConf = template.Must(template.New("haproxy").Parse(`# written by the vantage e2e tests
global
	maxconn 64
	log stdout format raw local0 info
defaults
	mode http
	log global
	option httplog
	timeout connect {{.ConnectTimeout}}
	timeout client 10s
	timeout server {{.ReadTimeout}}
	# One retry after a refused connect, so the dead upstream answers fast.
	retries 1
frontend fe
	bind 127.0.0.1:{{.Port}}
	http-request return status 204 hdr X-E2E-Ready "{{.Token}}" if { path {{.ReadyPath}} }
{{- range $i, $r := .Routes}}
	use_backend be{{$i}} if { path_beg {{$r.Path}} }
{{- end}}
	default_backend be_no_server
{{- range $i, $r := .Routes}}
backend be{{$i}}
	server s{{$i}} 127.0.0.1:{{$r.Port}}
{{- end}}
# No server at all: every request gets HAProxy's own 503.
backend be_no_server
`))

type confRoute struct {
	Path string
	Port int
}

type confData struct {
	Dir            string
	Port           int
	ReadyPath      string
	Token          string // answered on ReadyPath: proves it is this process listening
	Root           bool
	ConnectTimeout string
	ReadTimeout    string
	Routes         []confRoute
}

// proxy is a running proxy process.
type proxy struct {
	name string
	base string // http://127.0.0.1:port
	logs *testkit.Buffer
	dir  string
}

// Logs returns what the proxy wrote to stdout, stderr and its log files so
// far, for failure messages.
func (p *proxy) Logs() string {
	var b strings.Builder
	b.WriteString(p.logs.String())
	for _, f := range []string{"error.log", "access.log"} {
		if data, err := os.ReadFile(filepath.Join(p.dir, f)); err == nil && len(data) > 0 {
			fmt.Fprintf(&b, "--- %s\n%s", f, data)
		}
	}
	return b.String()
}

// LogsAbout returns the lines of Logs that mention path: the proxy's own
// account of one request.
func (p *proxy) LogsAbout(path string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(p.Logs(), "\n") {
		if strings.Contains(l, path) {
			b.WriteString(l)
		}
	}
	return b.String()
}

func confFor(dir string, port int, u upstreams) confData {
	d := confData{
		Dir:            dir,
		Port:           port,
		ReadyPath:      readyPath,
		Token:          readyToken(dir, port),
		Root:           os.Geteuid() == 0,
		ConnectTimeout: proxyConnectTimeout,
		ReadTimeout:    proxyReadTimeout,
	}
	for _, r := range routes {
		d.Routes = append(d.Routes, confRoute{r.path, r.port(u)})
	}
	return d
}

// startNginx runs nginx in front of u on a free loopback port.
func startNginx(t *testing.T, u upstreams) *proxy {
	t.Helper()
	bin := requireBinary(t, "nginx", "nginx-light")
	return startWithRetry(t, "nginx", bin, func(dir string, port int) []string {
		conf := filepath.Join(dir, "nginx.conf")
		writeTemplate(t, conf, nginxConf, confFor(dir, port, u))
		// -e: before it reads the config, nginx opens its compiled-in
		// error log, which is not writable for an ordinary user.
		return []string{"-p", dir + "/", "-c", conf, "-e", filepath.Join(dir, "error.log")}
	})
}

// startHAProxy runs HAProxy in front of u on a free loopback port.
func startHAProxy(t *testing.T, u upstreams) *proxy {
	t.Helper()
	bin := requireBinary(t, "haproxy", "haproxy")
	return startWithRetry(t, "haproxy", bin, func(dir string, port int) []string {
		conf := filepath.Join(dir, "haproxy.cfg")
		writeTemplate(t, conf, haproxyConf, confFor(dir, port, u))
		// -db: stay in the foreground, one process.
		return []string{"-db", "-f", conf}
	})
}

// startWithRetry starts a proxy on a fresh port, trying again on a new port
// when it fails: the free port freePort returned may have been taken by
// another test process before the proxy could bind it.
func startWithRetry(t *testing.T, name, bin string, setup func(dir string, port int) []string) *proxy {
	t.Helper()
	var errs []error
	for range 3 {
		dir := t.TempDir()
		port := freePort(t)
		p, err := startProxy(t, name, dir, port, bin, setup(dir, port)...)
		if err == nil {
			return p
		}
		errs = append(errs, err)
	}
	t.Fatalf("starting %s: %v", name, errors.Join(errs...))
	return nil
}

func writeTemplate(t *testing.T, path string, tmpl *template.Template, data confData) {
	t.Helper()
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatalf("render %s: %v", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// startProxy starts bin and waits until it accepts on port. Once it does,
// the proxy is stopped when the test ends: SIGTERM first, SIGKILL if it
// lingers. When it does not, it is already stopped and the error says why.
func startProxy(t *testing.T, name, dir string, port int, bin string, args ...string) (*proxy, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	logs := &testkit.Buffer{}
	cmd.Stdout = logs
	cmd.Stderr = logs
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p := &proxy{name: name, base: "http://" + loopback(port), logs: logs, dir: dir}
	stop := func() error {
		cancel()
		if err := <-exited; err != nil && !isTermination(err) {
			return err
		}
		return nil
	}

	token := readyToken(dir, port)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 500 * time.Millisecond}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := checkReady(client, p.base+readyPath, token)
		if err == nil {
			t.Cleanup(func() {
				if err := stop(); err != nil {
					t.Logf("%s exited: %v\n%s", name, err, p.Logs())
				}
			})
			return p, nil
		}
		select {
		case werr := <-exited:
			cancel()
			return nil, fmt.Errorf("%s exited before listening on port %d: %v\n%s", name, port, werr, p.Logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = stop()
			return nil, fmt.Errorf("%s did not answer on port %d within 10s: %v\n%s", name, port, err, p.Logs())
		}
	}
}

// checkReady asks the proxy for its ready token.
func checkReady(c *http.Client, url, token string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-E2E-Ready"); resp.StatusCode != http.StatusNoContent || got != token {
		return fmt.Errorf("%s answered %d with token %q, not this start's", url, resp.StatusCode, got)
	}
	return nil
}

// isTermination reports whether err is the exit the cleanup's SIGTERM causes.
func isTermination(err error) bool {
	if errors.Is(err, context.Canceled) {
		return true // exec reports the cancelled context for a clean exit
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
		return true
	}
	// HAProxy exits with 143 (128+SIGTERM) after handling the signal.
	return ee.ExitCode() == 0 || ee.ExitCode() == 143
}
