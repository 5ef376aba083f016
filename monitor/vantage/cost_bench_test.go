package vantage

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// The cost goal: a round from K vantages costs the coordinator little more
// than K local probes. The agents and the target run in a helper process
// (this test binary, re-executed), so getrusage(RUSAGE_SELF) counts the
// coordinator's CPU alone; BenchmarkLocalProbes is the baseline, K probes
// of the same target from this process, in parallel as a round runs them.
//
//	go test -run '^$' -bench 'Round|LocalProbes' -benchtime 200x ./monitor/vantage/

// costHelperEnv makes the test binary a cost helper instead of running
// tests: it serves the target and costHelperAgentsEnv agents on loopback,
// prints their URLs as one JSON line, and exits when its stdin closes.
const (
	costHelperEnv       = "VANTAGE_COST_HELPER"
	costHelperAgentsEnv = "VANTAGE_COST_HELPER_AGENTS"
	costHelperKeyEnv    = "VANTAGE_COST_HELPER_KEY"
)

// costKey is the shared key of the helper's agents (at least 32 bytes).
var costKey = []byte("vantage cost benchmark shared key, not a secret")

func TestMain(m *testing.M) {
	if os.Getenv(costHelperEnv) == "1" {
		if err := costHelper(); err != nil {
			fmt.Fprintf(os.Stderr, "cost helper: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// costAddrs is what the helper prints.
type costAddrs struct {
	Target string   `json:"target"`
	Agents []string `json:"agents"`
}

func costHelper() error {
	var k int
	if _, err := fmt.Sscan(os.Getenv(costHelperAgentsEnv), &k); err != nil {
		return fmt.Errorf("reading %s: %w", costHelperAgentsEnv, err)
	}
	key, err := hex.DecodeString(os.Getenv(costHelperKeyEnv))
	if err != nil {
		return fmt.Errorf("reading %s: %w", costHelperKeyEnv, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the target: %w", err)
	}
	go (&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok: all good")
	})}).Serve(ln)
	out := costAddrs{Target: "http://" + ln.Addr().String() + "/healthz"}
	for range k {
		srv, err := agent.NewServer(agent.Options{Keys: [][]byte{key}, Rate: 1e9, MaxConcurrency: 64, ReplayCacheSize: 1 << 22})
		if err != nil {
			return err
		}
		aln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listening for an agent: %w", err)
		}
		go srv.Serve(ctx, aln)
		out.Agents = append(out.Agents, "http://"+aln.Addr().String())
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return err
	}
	io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	return nil
}

// startCostHelper runs the helper with k agents and stops it when b ends.
func startCostHelper(b *testing.B, k int) costAddrs {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), costHelperEnv+"=1", fmt.Sprintf("%s=%d", costHelperAgentsEnv, k),
		costHelperKeyEnv+"="+hex.EncodeToString(costKey))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting the cost helper: %v", err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		b.Fatalf("reading the cost helper's addresses: %v", err)
	}
	var a costAddrs
	if err := json.Unmarshal(line, &a); err != nil || len(a.Agents) != k {
		b.Fatalf("the cost helper printed %q (%v); want %d agents", line, err, k)
	}
	return a
}

// reportCostCPU adds cpu-ns/op: this process's user+system CPU per
// iteration. ns/op is wall time, mostly spent waiting for the other process.
func reportCostCPU(b *testing.B) func() {
	start := costCPU(b)
	return func() {
		b.ReportMetric(float64((costCPU(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func costCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var costKs = []int{1, 3, 5}

// BenchmarkRound is one round from K agents (local left out, so that K
// remote vantages are compared with K local probes).
func BenchmarkRound(b *testing.B) {
	for _, k := range costKs {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			addrs := startCostHelper(b, k)
			remotes := make(map[string]Prober, k)
			names := make([]string, k)
			for i, u := range addrs.Agents {
				names[i] = fmt.Sprintf("agent%d", i)
				remotes[names[i]] = &agent.Client{URL: u, Key: costKey}
			}
			r, err := New(nil, remotes, Options{})
			if err != nil {
				b.Fatal(err)
			}
			spec := probe.Spec{URL: addrs.Target, Timeout: 5 * time.Second}
			ctx := context.Background()
			check := func(res result.Outcome) {
				if !res.OK || res.Scope != result.ScopeNone || len(res.Vantages) != k {
					b.Fatalf("round: ok=%v scope=%q, %d vantages: %s", res.OK, res.Scope, len(res.Vantages), res.Headline())
				}
			}
			check(r.Round(ctx, "bench", spec, names)) // the clients' connections, opened once in a daemon's life
			b.ReportAllocs()
			defer reportCostCPU(b)()
			for b.Loop() {
				check(r.Round(ctx, "bench", spec, names))
			}
		})
	}
}

// BenchmarkLocalProbes is the baseline: K probes of the same target from
// this process, in parallel.
func BenchmarkLocalProbes(b *testing.B) {
	for _, k := range costKs {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			addrs := startCostHelper(b, 0)
			var p probe.Prober
			spec := probe.Spec{URL: addrs.Target, Timeout: 5 * time.Second}
			ctx := context.Background()
			res := make([]result.Result, k)
			b.ReportAllocs()
			defer reportCostCPU(b)()
			for b.Loop() {
				var wg sync.WaitGroup
				for i := range k {
					wg.Go(func() { res[i] = p.Run(ctx, spec) })
				}
				wg.Wait()
				for _, r := range res {
					if !r.OK {
						b.Fatalf("local probe: %s", r.Headline())
					}
				}
			}
		})
	}
}
