package vantages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// The addresses exist only on the bridge inside the web namespace and the
// veths joined to it; nothing routes them anywhere else.
const (
	coordIP    = "10.77.0.2"
	a1IP       = "10.77.0.3"
	a2IP       = "10.77.0.4"
	targetIP   = "10.77.0.10"
	canaryIP   = "10.77.0.11"
	agentPort  = "9208"
	targetURL  = "http://" + targetIP + "/healthz"
	canaryURL  = "http://" + canaryIP + "/canary"
	netnsDir   = "/run/netns"
	prefixLen  = "/24"
	stopWithin = 10 * time.Second
)

// roles are the namespaces, each a host of the lab: web holds the bridge,
// the target and the canary; coord the coordinator; a1 and a2 one agent each.
var roles = []string{"web", "coord", "a1", "a2"}

var agentIPs = map[string]string{"a1": a1IP, "a2": a2IP}

// vantageBin is the `vantage` binary TestMain builds; buildErr says why
// there is none.
var (
	vantageBin string
	buildErr   error
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if !optedOut() {
		dir, err := os.MkdirTemp("", "vantage-e2e-vantages-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "making a temp dir for the vantage binary: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		vantageBin, buildErr = buildVantage(dir)
	}
	return m.Run()
}

// buildVantage builds the real command once for every test: the tests run
// it as agents and coordinator, as an operator would.
func buildVantage(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("finding the go command to build cmd/vantage: %w", err)
	}
	bin := filepath.Join(dir, "vantage")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/vantage-monitor/vantage/cmd/vantage")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building cmd/vantage: %w\n%s", err, out)
	}
	return bin, nil
}

func optedOut() bool { return strings.EqualFold(os.Getenv("VANTAGE_E2E"), "off") }

func optOut(t *testing.T) {
	t.Helper()
	if optedOut() {
		t.Skip("VANTAGE_E2E=off: end-to-end tests with agents in network namespaces opted out")
	}
}

// noNamespaces is the failure when the lab cannot be built: what failed and
// how to fix it, never a skip, because CI runs as root with iproute2.
func noNamespaces(step string, err error) string {
	return fmt.Sprintf("cannot make the network namespaces for the vantage end-to-end tests (%s: %v). "+
		"They need root (CI's .ci/run runs as root) and iproute2 (`apt-get install -y --no-install-recommends iproute2`); "+
		"opt out with VANTAGE_E2E=off", step, err)
}

// lookIP finds iproute2's ip, which is in /usr/sbin or /sbin on Debian,
// not on an ordinary user's PATH.
func lookIP() (string, error) {
	if p, err := exec.LookPath("ip"); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(d, "ip")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("ip is not on PATH nor in /usr/sbin or /sbin")
}

// lab is the namespaces, the web servers and the agents of one test.
type lab struct {
	t       *testing.T
	ip      string
	dir     string
	ns      map[string]string // role → namespace name
	keyFile string
	key     []byte
	web     *webServer
	agents  map[string]*proc
}

// newLab builds the topology: a bridge in web with the target's and the
// canary's addresses, and one veth from each other namespace into it, all
// on 10.77.0.0/24. Everything is torn down when the test ends.
func newLab(t *testing.T) *lab {
	t.Helper()
	optOut(t)
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	ipBin, err := lookIP()
	if err != nil {
		t.Fatal(noNamespaces("looking for iproute2", err))
	}
	l := &lab{t: t, ip: ipBin, dir: t.TempDir(), ns: map[string]string{}, agents: map[string]*proc{}}
	for _, r := range roles {
		name := fmt.Sprintf("vte%d-%s", os.Getpid(), r)
		if out, err := exec.Command(ipBin, "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatal(noNamespaces("ip netns add "+name, fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))))
		}
		t.Cleanup(func() {
			if out, err := exec.Command(ipBin, "netns", "del", name).CombinedOutput(); err != nil {
				t.Errorf("deleting namespace %s: %v: %s", name, err, out)
			}
		})
		l.ns[r] = name
		l.must("ip", "-n", name, "link", "set", "lo", "up")
	}
	web := l.ns["web"]
	l.must("ip", "-n", web, "link", "add", "br0", "type", "bridge")
	l.must("ip", "-n", web, "addr", "add", targetIP+prefixLen, "dev", "br0")
	l.must("ip", "-n", web, "addr", "add", canaryIP+prefixLen, "dev", "br0")
	l.must("ip", "-n", web, "link", "set", "br0", "up")
	for r, addr := range map[string]string{"coord": coordIP, "a1": a1IP, "a2": a2IP} {
		// Both ends are made inside their namespaces: no device ever
		// appears among the host's interfaces.
		port := "v-" + r
		l.must("ip", "link", "add", "name", port, "netns", web, "type", "veth", "peer", "name", "eth0", "netns", l.ns[r])
		l.must("ip", "-n", web, "link", "set", port, "master", "br0", "up")
		l.must("ip", "-n", l.ns[r], "addr", "add", addr+prefixLen, "dev", "eth0")
		l.must("ip", "-n", l.ns[r], "link", "set", "eth0", "up")
	}

	keyText := agent.GenerateKey()
	l.keyFile = filepath.Join(l.dir, "agent.key")
	if err := os.WriteFile(l.keyFile, []byte(keyText+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := agent.ParseKeys(keyText)
	if err != nil {
		t.Fatal(err)
	}
	l.key = keys[0]
	l.web = startWeb(t, web)
	for name := range agentIPs {
		l.startAgent(name)
	}
	return l
}

// must runs an ip command ("ip" is replaced by the binary found); a failure
// here means the namespaces cannot be built.
func (l *lab) must(args ...string) {
	l.t.Helper()
	if out, err := exec.Command(l.ip, args[1:]...).CombinedOutput(); err != nil {
		l.t.Fatal(noNamespaces(strings.Join(args, " "), fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))))
	}
}

// cut makes ips unreachable from role (the kernel answers "no route" at
// once) until the returned func restores the path.
func (l *lab) cut(role string, ips ...string) (restore func()) {
	l.t.Helper()
	for _, ip := range ips {
		l.must("ip", "-n", l.ns[role], "route", "add", "unreachable", ip+"/32")
	}
	return func() {
		l.t.Helper()
		for _, ip := range ips {
			l.must("ip", "-n", l.ns[role], "route", "del", "unreachable", ip+"/32")
		}
	}
}

// proc is a process the lab started in a namespace; its output goes to a
// file so that a failure can show it.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func (l *lab) start(role, name string, args ...string) *proc {
	l.t.Helper()
	p := &proc{name: name, log: filepath.Join(l.dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		l.t.Fatal(err)
	}
	defer f.Close()
	p.cmd = exec.Command(l.ip, append([]string{"netns", "exec", l.ns[role], vantageBin}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		l.t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	l.t.Cleanup(func() { p.stop(l.t) })
	return p
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop ends the process with SIGTERM, as systemd would, and kills it if it
// does not exit in time.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if !p.running() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopWithin):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within %s of SIGTERM; killed. Output:\n%s", p.name, stopWithin, p.output())
	}
}

func (l *lab) startAgent(name string, flags ...string) {
	l.t.Helper()
	addr := agentIPs[name] + ":" + agentPort
	p := l.start(name, "agent-"+name, append([]string{"agent", "-listen", addr, "-key-file", l.keyFile}, flags...)...)
	l.agents[name] = p
	c := l.client("coord")
	var err error
	answered := false
	testkit.Eventually(10*time.Second, func() bool {
		var resp *http.Response
		if resp, err = c.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			answered = resp.StatusCode == http.StatusOK
		}
		return answered || !p.running()
	})
	if !answered {
		l.t.Fatalf("agent %s is not answering on %s from coord (%v). Output:\n%s", name, addr, err, p.output())
	}
}

// run runs the vantage binary in role's namespace to completion.
func (l *lab) run(role string, args ...string) (stdout, stderr string, code int) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.ip, append([]string{"netns", "exec", l.ns[role], vantageBin}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		l.t.Fatalf("running vantage %s in %s: %v\n%s", strings.Join(args, " "), role, err, e.String())
	}
	return o.String(), e.String(), code
}

// check runs `vantage check -config -json` in coord and returns its result.
func (l *lab) check(cfg string) result.Outcome {
	l.t.Helper()
	out, errOut, code := l.run("coord", "check", "-config", cfg, "-json", "-timeout", "1s", targetURL)
	if code != 0 && code != 1 {
		l.t.Fatalf("vantage check exited %d:\n%s%s", code, out, errOut)
	}
	var r result.Outcome
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		l.t.Fatalf("vantage check -json printed no result (%v):\n%s%s", err, out, errOut)
	}
	if r.OK != (code == 0) {
		l.t.Errorf("vantage check exited %d for a result with ok=%v", code, r.OK)
	}
	return r
}

// client is an HTTP client whose connections start in role's namespace.
func (l *lab) client(role string) *http.Client {
	ns := l.ns[role]
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := inNamespace(ns, func() error {
					var err error
					c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
		},
	}
}

// inNamespace runs fn on an OS thread that has joined the network namespace
// ns. Sockets keep the namespace they were made in, so a listener or a
// connection made by fn works from any goroutine afterwards. The thread is
// never unlocked: it ends with its goroutine instead of going back to the
// scheduler in the wrong namespace.
func inNamespace(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(filepath.Join(netnsDir, ns))
		if err != nil {
			errc <- fmt.Errorf("opening namespace %s: %w", ns, err)
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("entering namespace %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// webServer is the target and the canary, in the web namespace. It counts
// the target's requests: a probe that reached it is a hit.
type webServer struct {
	hits   atomic.Int64
	status atomic.Int32
}

func startWeb(t *testing.T, ns string) *webServer {
	t.Helper()
	w := &webServer{}
	w.status.Store(http.StatusOK)
	serve := func(addr string, h http.HandlerFunc) {
		var ln net.Listener
		if err := inNamespace(ns, func() error {
			var err error
			ln, err = net.Listen("tcp", addr)
			return err
		}); err != nil {
			t.Fatal(noNamespaces("listening on "+addr+" in "+ns, err))
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	serve(targetIP+":80", func(rw http.ResponseWriter, r *http.Request) {
		w.hits.Add(1)
		rw.WriteHeader(int(w.status.Load()))
		fmt.Fprintln(rw, "shop")
	})
	serve(canaryIP+":80", func(rw http.ResponseWriter, r *http.Request) {
		rw.WriteHeader(http.StatusNoContent)
	})
	return w
}

// writeConfig writes the coordinator's watchlist: one monitor on the target
// from local, a1 and a2, the canary, and a fast schedule.
func (l *lab) writeConfig(name string) string {
	l.t.Helper()
	path := filepath.Join(l.dir, name+".toml")
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir = %q\nlisten = \"127.0.0.1:9207\"\n\n", filepath.Join(l.dir, name+"-state"))
	fmt.Fprintf(&b, "[defaults]\nschedule = \"@every 1s\"\ntimeout = \"1s\"\nconfirm = 1\nrecover = 1\nretry_delay = \"0\"\n\n")
	fmt.Fprintf(&b, "[[monitor]]\nname = \"shop\"\nurl = %q\n\n", targetURL)
	for _, n := range []string{"a1", "a2"} {
		fmt.Fprintf(&b, "[[vantage]]\nname = %q\nurl = \"http://%s:%s\"\nkey_file = %q\n\n", n, agentIPs[n], agentPort, l.keyFile)
	}
	fmt.Fprintf(&b, "[canary]\nurls = [%q]\nevery = \"2s\"\ntimeout = \"1s\"\n", canaryURL)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		l.t.Fatal(err)
	}
	return path
}
