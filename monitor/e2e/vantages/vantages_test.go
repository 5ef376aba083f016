package vantages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// wantRound asserts a round's scope and what each vantage saw.
func wantRound(t *testing.T, r result.Outcome, scope result.Scope, lines map[string]result.VantageStatus) {
	t.Helper()
	got := map[string]result.VantageStatus{}
	for _, l := range r.Vantages {
		got[l.Name] = l.Status
	}
	bad := r.Scope != scope || len(got) != len(lines)
	for name, st := range lines {
		bad = bad || got[name] != st
	}
	if bad {
		js, _ := json.MarshalIndent(r.Vantages, "", "  ")
		t.Fatalf("scope %q with vantages %v; want scope %q with %v\n%s", r.Scope, got, scope, lines, js)
	}
}

// TestVantages runs the coordinator and two agents as real processes in
// their own namespaces and cuts paths between them. The steps share one lab
// (building it is most of the cost) and each restores what it cut.
func TestVantages(t *testing.T) {
	l := newLab(t)
	cfg := l.writeConfig("check")
	const (
		up   = result.VantageUp
		down = result.VantageDown
	)
	local := result.LocalVantage

	t.Run("up everywhere", func(t *testing.T) {
		l.t = t
		before := l.web.hits.Load()
		r := l.check(cfg)
		wantRound(t, r, result.ScopeNone, map[string]result.VantageStatus{local: up, "a1": up, "a2": up})
		// Each vantage really probed the target: once each, no more.
		if n := l.web.hits.Load() - before; n != 3 {
			t.Errorf("the target got %d requests for a round from 3 vantages; want 3", n)
		}
	})

	t.Run("reachable from only some vantages is partial", func(t *testing.T) {
		l.t = t
		defer l.cut("a1", targetIP)()
		r := l.check(cfg)
		wantRound(t, r, result.ScopePartial, map[string]result.VantageStatus{local: up, "a1": down, "a2": up})
		if r.OK {
			t.Errorf("a partial outage is reported as ok")
		}
	})

	t.Run("wrong key gets 401 and no probe", func(t *testing.T) {
		l.t = t
		wrong, err := agent.ParseKeys(agent.GenerateKey())
		if err != nil {
			t.Fatal(err)
		}
		before := l.web.hits.Load()
		req := signProbe(t, wrong[0])
		status, body := req.send(t, l.client("coord"), a1IP)
		if status != http.StatusUnauthorized || !strings.Contains(body, "bad signature") {
			t.Errorf("a request signed with a wrong key got %d %q; want 401 bad signature", status, body)
		}
		if n := l.web.hits.Load() - before; n != 0 {
			t.Errorf("the agent probed the target %d times for a request with a wrong key", n)
		}
	})

	t.Run("replayed request is rejected", func(t *testing.T) {
		l.t = t
		before := l.web.hits.Load()
		req := signProbe(t, l.key)
		c := l.client("coord")
		status, body := req.send(t, c, a2IP)
		if status != http.StatusOK {
			t.Fatalf("a well signed request got %d %q; want 200", status, body)
		}
		var r result.Result
		if err := json.Unmarshal([]byte(body), &r); err != nil || !r.OK {
			t.Fatalf("the agent's answer is not an ok result (%v): %s", err, body)
		}
		status, body = req.send(t, c, a2IP)
		if status != http.StatusUnauthorized || !strings.Contains(body, "replayed") {
			t.Errorf("the same request sent again got %d %q; want 401 naming the replay", status, body)
		}
		if n := l.web.hits.Load() - before; n != 1 {
			t.Errorf("the target got %d probes for one request sent twice; want 1", n)
		}
	})

	t.Run("local cut off is just_me", func(t *testing.T) {
		l.t = t
		defer l.cut("coord", targetIP, canaryIP)()
		r := l.check(cfg)
		wantRound(t, r, result.ScopeJustMe, map[string]result.VantageStatus{local: result.VantageImpaired, "a1": up, "a2": up})
	})

	t.Run("daemon: local impaired opens one vantage incident, none for the target", func(t *testing.T) {
		l.t = t
		defer l.cut("coord", targetIP, canaryIP)()
		before := l.web.hits.Load()
		incs, rows := l.runDaemon(t, "impaired")
		wantIncidents(t, incs, local)
		if n := l.web.hits.Load() - before; n < 4 {
			t.Errorf("the agents probed the target %d times while the daemon ran; want rounds every second", n)
		}
		wantScopes(t, rows, result.ScopeJustMe)
	})

	t.Run("daemon: local cut off from everything raises one isolation notice", func(t *testing.T) {
		l.t = t
		defer l.cut("coord", targetIP, canaryIP, a1IP, a2IP)()
		before := l.web.hits.Load()
		incs, rows := l.runDaemon(t, "isolated")
		wantIncidents(t, incs, incident.IsolationIncident)
		if n := l.web.hits.Load() - before; n != 0 {
			t.Errorf("the target got %d requests although every path to it was cut", n)
		}
		wantScopes(t, rows, result.ScopeJustMe)
	})

	t.Run("agent down is not a vote", func(t *testing.T) {
		l.t = t
		l.agents["a2"].stop(t)
		unreachable := result.VantageUnreachable
		r := l.check(cfg)
		wantRound(t, r, result.ScopeNone, map[string]result.VantageStatus{local: up, "a1": up, "a2": unreachable})
		if !r.OK {
			t.Errorf("a target up from every answering vantage is reported down: %s", r.Headline())
		}
		// Down for every vantage that answers is everyone: the dead agent
		// neither saw it up (which would make it partial) nor counts.
		l.web.status.Store(http.StatusServiceUnavailable)
		defer l.web.status.Store(http.StatusOK)
		r = l.check(cfg)
		wantRound(t, r, result.ScopeEveryone, map[string]result.VantageStatus{local: down, "a1": down, "a2": unreachable})
	})

	t.Run("agent refusing private addresses is not a vote", func(t *testing.T) {
		l.t = t
		// The lab's addresses are private: with refuse_private, a2 refuses
		// the target and the canary alike, and the others decide.
		l.agents["a2"].stop(t)
		l.startAgent("a2", "-refuse-private")
		refused := result.VantageRefused
		before := l.web.hits.Load()
		r := l.check(cfg)
		wantRound(t, r, result.ScopeNone, map[string]result.VantageStatus{local: up, "a1": up, "a2": refused})
		if !r.OK {
			t.Errorf("a target up from every vantage that looked is reported down: %s", r.Headline())
		}
		if n := l.web.hits.Load() - before; n != 2 {
			t.Errorf("the target got %d requests from 3 vantages, one refusing; want 2", n)
		}
		l.web.status.Store(http.StatusServiceUnavailable)
		defer l.web.status.Store(http.StatusOK)
		r = l.check(cfg)
		wantRound(t, r, result.ScopeEveryone, map[string]result.VantageStatus{local: down, "a1": down, "a2": refused})
		defer l.cut("a1", targetIP)()
		l.web.status.Store(http.StatusOK)
		r = l.check(cfg)
		wantRound(t, r, result.ScopePartial, map[string]result.VantageStatus{local: up, "a1": down, "a2": refused})
	})
}

// runDaemon runs `vantage run` in coord until it has raised a vantage
// problem and run a few rounds more (a second notice or a target incident
// would show by then), stops it with SIGTERM, and returns what its store
// holds: every incident and the monitor's results.
func (l *lab) runDaemon(t *testing.T, name string) ([]incident.Incident, []store.ResultRow) {
	t.Helper()
	raised := func(out string) bool { return strings.Contains(out, `msg="vantage problem"`) }
	return l.runDaemonUntil(t, name, l.writeConfig(name), "a vantage problem", raised)
}

// runDaemonUntil is runDaemon with the config cfg (whose state_dir is
// name+"-state" in the lab's directory), run until raised holds for the
// daemon's output; what says what raised waits for.
func (l *lab) runDaemonUntil(t *testing.T, name, cfg, what string, raised func(output string) bool) ([]incident.Incident, []store.ResultRow) {
	t.Helper()
	p := l.start("coord", "daemon-"+name, "run", "-config", cfg)
	if !testkit.Eventually(15*time.Second, func() bool { return raised(p.output()) || !p.running() }) || !raised(p.output()) {
		p.stop(t)
		t.Fatalf("the daemon raised no %s within 15s. Output:\n%s", what, p.output())
	}
	time.Sleep(4 * time.Second)
	p.stop(t)
	if p.err != nil {
		t.Errorf("the daemon exited with %v after SIGTERM. Output:\n%s", p.err, p.output())
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(l.dir, name+"-state", store.FileName), store.Options{})
	if err != nil {
		t.Fatalf("opening the daemon's store: %v", err)
	}
	defer st.Close()
	incs, err := st.RecentIncidents(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.RecentResults(ctx, "shop", 100)
	if err != nil {
		t.Fatal(err)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("daemon output:\n%s", p.output())
	}
	return incs, rows
}

// wantIncidents asserts that the store holds exactly one open incident, a
// vantage notice named notice, and none for the target. A vantage incident
// opened while the host was on its way to being cut off may exist, but
// only closed as covered by the isolation notice.
func wantIncidents(t *testing.T, incs []incident.Incident, notice string) {
	t.Helper()
	var vantages, targets []string
	for _, in := range incs {
		state := "open"
		if !in.Open() {
			state = "resolved " + in.Resolution
		}
		desc := fmt.Sprintf("%s %s #%d, %s, opened %s: %s", in.Kind, in.Monitor, in.ID, state, in.OpenedAt.Format(time.StampMilli), in.Detail)
		switch in.Kind {
		case incident.KindVantage:
			if !in.Open() && in.Resolution == incident.ResolutionIsolated && notice == incident.IsolationIncident {
				continue
			}
			vantages = append(vantages, desc)
			if in.Monitor != notice {
				t.Errorf("vantage incident for %q; want only %q", in.Monitor, notice)
			}
		default:
			targets = append(targets, desc)
		}
	}
	if len(vantages) != 1 {
		t.Errorf("%d vantage incidents; want exactly one (%s): %q", len(vantages), notice, vantages)
	}
	if len(targets) != 0 {
		t.Errorf("incidents that are not vantage notices: %q; the target is up for every healthy vantage", targets)
	}
}

// wantScopes asserts the daemon recorded rounds, every one of them scoped
// as scope (the round's merged result, whichever vantage it is filed under).
func wantScopes(t *testing.T, rows []store.ResultRow, scope result.Scope) {
	t.Helper()
	if len(rows) < 3 {
		t.Errorf("the daemon recorded %d results; want a round every second", len(rows))
	}
	for _, r := range rows {
		if r.Result.Scope != scope {
			t.Errorf("a round recorded at %s from %q has scope %q; want %q", r.At.Format(time.RFC3339Nano), r.Vantage, r.Result.Scope, scope)
		}
	}
}

// signedProbe is one request to an agent, signed once, so that it can be
// sent again unchanged.
type signedProbe struct {
	body                  []byte
	timestamp, nonce, sig string
}

func signProbe(t *testing.T, key []byte) signedProbe {
	t.Helper()
	body, err := json.Marshal(probe.Spec{URL: targetURL, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := signedProbe{body: body, timestamp: strconv.FormatInt(time.Now().Unix(), 10), nonce: agent.NewNonce()}
	s.sig = agent.Sign(key, http.MethodPost, agent.ProbePath, s.timestamp, s.nonce, body)
	return s
}

// send posts the request to the agent at ip and returns its answer.
func (s signedProbe) send(t *testing.T, c *http.Client, ip string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+ip+":"+agentPort+agent.ProbePath, bytes.NewReader(s.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(agent.HeaderTimestamp, s.timestamp)
	req.Header.Set(agent.HeaderNonce, s.nonce)
	req.Header.Set("Authorization", s.sig)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("asking the agent at %s: %v", ip, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The suite must fail, naming the fix, when namespaces cannot be made; only
// VANTAGE_E2E=off turns it off.
func TestNoNamespacesNamesTheFix(t *testing.T) {
	msg := noNamespaces("ip netns add x", os.ErrPermission)
	for _, want := range []string{"ip netns add x", "permission denied", "root", "apt-get install -y --no-install-recommends iproute2", "VANTAGE_E2E=off"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}
