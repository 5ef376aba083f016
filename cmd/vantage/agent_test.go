package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/probe"
)

// helperEnv carries the arguments of a `vantage` run in a child process.
const helperEnv = "VANTAGE_AGENT_HELPER_ARGS"

// TestAgentHelperProcess is not a test: it is the `vantage` command run
// in a child process by TestAgentProcess (the os/exec helper-process
// pattern), so the real command, flags and signal handling run in a
// process of their own without building a binary.
func TestAgentHelperProcess(t *testing.T) {
	args := os.Getenv(helperEnv)
	if args == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil {
		t.Fatalf("%s: %v", helperEnv, err)
	}
	code := dispatch(ctx, argv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// startAgentProcess runs `vantage agent args...` and returns its base URL
// once it listens.
func startAgentProcess(t *testing.T, args ...string) (url string, cmd *exec.Cmd, logs *testkit.Buffer) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^TestAgentHelperProcess$")
	argv, _ := json.Marshal(append([]string{"agent"}, args...))
	cmd.Env = append(os.Environ(), helperEnv+"="+string(argv))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the agent: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addrRe := regexp.MustCompile(`msg="agent listening" addr=(\S+)`)
	found := make(chan string, 1)
	logs = &testkit.Buffer{}
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := addrRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr := <-found:
		return "http://" + addr, cmd, logs
	case <-logDone:
		t.Fatalf("the agent exited before listening:\n%s", logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent did not listen within 20s:\n%s", logs)
	}
	return "", nil, nil
}

func writeKeyFile(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.key")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAgentProcess(t *testing.T) {
	var hits atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("all good"))
	}))
	defer target.Close()

	current, next := agent.GenerateKey(), agent.GenerateKey()
	keyFile := writeKeyFile(t, "# current", current, "# next", next)
	url, cmd, logs := startAgentProcess(t, "-listen", "127.0.0.1:0", "-key-file", keyFile)
	keys, err := agent.ParseKeys(current + "\n" + next)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Both keys of a rotation are accepted.
	for i, k := range keys {
		r, err := (&agent.Client{URL: url, Key: k}).Probe(ctx, probe.Spec{URL: target.URL, ExpectBody: "all good"})
		if err != nil || !r.OK {
			t.Fatalf("probe with key %d through the agent: err %v, result %s", i+1, err, r.Headline())
		}
	}
	if hits.Load() != 2 {
		t.Fatalf("target hit %d times, want 2", hits.Load())
	}

	// A wrong key gets 401 and no probe.
	wrong, _ := agent.ParseKeys(agent.GenerateKey())
	_, err = (&agent.Client{URL: url, Key: wrong[0]}).Probe(ctx, probe.Spec{URL: target.URL})
	if !agent.IsKind(err, agent.KindAuth) {
		t.Fatalf("wrong key: err %v, want an auth error", err)
	}
	if hits.Load() != 2 {
		t.Fatalf("a wrong key reached the target (%d hits)", hits.Load())
	}

	// A replayed request is rejected.
	body, _ := json.Marshal(probe.Spec{URL: target.URL})
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := agent.NewNonce()
	auth := agent.Sign(keys[0], http.MethodPost, agent.ProbePath, ts, nonce, body)
	send := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url+agent.ProbePath, bytes.NewReader(body))
		req.Header.Set(agent.HeaderTimestamp, ts)
		req.Header.Set(agent.HeaderNonce, nonce)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("raw request: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, msg := send(); code != http.StatusOK {
		t.Fatalf("signed request: %d %s", code, msg)
	}
	if code, msg := send(); code != http.StatusUnauthorized || !strings.Contains(msg, "replay") {
		t.Fatalf("replayed request: %d %s, want 401 for the replay", code, msg)
	}
	if hits.Load() != 3 {
		t.Fatalf("target hit %d times, want 3: the replay ran a probe", hits.Load())
	}

	// /healthz says ok and nothing else.
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(hb) != "ok\n" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, hb)
	}

	// SIGTERM stops it cleanly.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exit after SIGTERM: %v\n%s", err, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("agent did not stop within 10s of SIGTERM")
	}
	for _, secret := range []string{current, next} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the logs contain a key:\n%s", logs)
		}
	}
}

func TestAgentCommandErrors(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("abcd\n"), 0o600)
	badConf := filepath.Join(dir, "agent.toml")
	os.WriteFile(badConf, []byte("listen = \"127.0.0.1:0\"\nkey-file = \"x\"\n"), 0o600)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no key file", []string{"agent", "-listen", "127.0.0.1:0"}, exitUsage, "-key-file"},
		{"no listen", []string{"agent", "-key-file", short}, exitUsage, "-listen"},
		{"short key", []string{"agent", "-listen", "127.0.0.1:0", "-key-file", short}, exitFailed, "at least 32 are required"},
		{"missing key file", []string{"agent", "-listen", "127.0.0.1:0", "-key-file", filepath.Join(dir, "nope")}, exitFailed, "no such file"},
		{"unknown config key", []string{"agent", "-config", badConf}, exitUsage, `line 2: unknown key "key-file"`},
		{"half TLS", []string{"agent", "-listen", "127.0.0.1:0", "-key-file", short, "-tls-cert", "c.pem"}, exitUsage, "go together"},
		{"bad rate", []string{"agent", "-listen", "127.0.0.1:0", "-key-file", short, "-rate", "-1"}, exitUsage, "-rate"},
		{"stray argument", []string{"agent", "extra"}, exitUsage, "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit %d mentioning %q", code, errOut, tt.code, tt.want)
			}
		})
	}

	code, out, _ := runCLI(t, "agent", "-gen-key")
	if code != exitOK {
		t.Fatalf("-gen-key: exit %d", code)
	}
	if keys, err := agent.ParseKeys(out); err != nil || len(keys) != 1 {
		t.Fatalf("-gen-key printed %q: %v", out, err)
	}
	_, out2, _ := runCLI(t, "agent", "-gen-key")
	if out == out2 {
		t.Fatalf("-gen-key printed the same key twice")
	}
}

func TestAgentConfigFileAndOverride(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "agent.key"), []byte(agent.GenerateKey()+"\n"), 0o600)
	conf := filepath.Join(dir, "agent.toml")
	os.WriteFile(conf, []byte("listen = \"127.0.0.1:1\"\nkey_file = \"agent.key\"\nrefuse_private = true\nrate = 3\n"), 0o600)
	o, err := parseAgentFlags([]string{"-config", conf, "-listen", "127.0.0.1:0", "-max-concurrency", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := agent.Config{Listen: "127.0.0.1:0", KeyFile: filepath.Join(dir, "agent.key"), RefusePrivate: true, MaxConcurrency: 2, Rate: 3}
	if o.cfg != want {
		t.Fatalf("config = %+v\nwant     %+v", o.cfg, want)
	}
	// And it serves.
	url, _, _ := startAgentProcess(t, "-config", conf, "-listen", "127.0.0.1:0")
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
}
