package vantage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// The fakes never dial: these URLs only select what a fake answers.
const (
	target  = "http://shop.test/healthz"
	canary1 = "http://canary1.test/"
	canary2 = "http://canary2.test/"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeVantage answers probes from canned state: whether the target and the
// canaries are up, or an error as an unreachable agent would return.
type fakeVantage struct {
	mu          sync.Mutex
	targetUp    bool
	canaryUp    bool
	err         error
	gate        chan struct{} // when set, canary probes wait for it
	blockTarget bool          // target probes wait for ctx to end
	targetCalls int
	canaryCalls int
}

func (f *fakeVantage) set(targetUp, canaryUp bool, err error) {
	f.mu.Lock()
	f.targetUp, f.canaryUp, f.err = targetUp, canaryUp, err
	f.mu.Unlock()
}

func (f *fakeVantage) calls() (targetCalls, canaryCalls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.targetCalls, f.canaryCalls
}

func (f *fakeVantage) Probe(ctx context.Context, s probe.Spec) (result.Result, error) {
	f.mu.Lock()
	isCanary := strings.Contains(s.URL, "canary")
	if isCanary {
		f.canaryCalls++
	} else {
		f.targetCalls++
	}
	up, err, gate, block := f.targetUp, f.err, f.gate, f.blockTarget
	if isCanary {
		up = f.canaryUp
	}
	f.mu.Unlock()
	if isCanary && gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return result.Result{}, ctx.Err()
		}
	}
	if !isCanary && block {
		<-ctx.Done()
		return result.Result{}, fmt.Errorf("agent did not answer: %w", ctx.Err())
	}
	if err != nil {
		return result.Result{}, err
	}
	if up {
		return result.Result{URL: s.URL, OK: true, Class: result.ClassOK, Status: 200}, nil
	}
	return result.Result{URL: s.URL, Class: result.ClassConnectTimeout, Detail: result.DetailConnect}, nil
}

type world struct {
	clock   *testkit.Clock
	local   *fakeVantage
	remotes map[string]*fakeVantage
	r       *Runner

	mu      sync.Mutex
	changes []Change
}

func newWorld(t *testing.T, canaries []string, remotes ...string) *world {
	t.Helper()
	w := &world{clock: testkit.NewClock(t0), local: &fakeVantage{targetUp: true, canaryUp: true},
		remotes: map[string]*fakeVantage{}}
	ps := map[string]Prober{}
	for _, n := range remotes {
		f := &fakeVantage{targetUp: true, canaryUp: true}
		w.remotes[n], ps[n] = f, f
	}
	r, err := New(w.local, ps, Options{
		Canary: config.Canary{URLs: canaries, Every: time.Minute, Timeout: time.Second},
		Clock:  w.clock,
		OnChange: func(c Change) {
			w.mu.Lock()
			w.changes = append(w.changes, c)
			w.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.r = r
	return w
}

func (w *world) vantage(name string) *fakeVantage {
	if name == result.LocalVantage {
		return w.local
	}
	return w.remotes[name]
}

func (w *world) takeChanges() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, c := range w.changes {
		if c.Kind == ChangeIsolation {
			out = append(out, fmt.Sprintf("isolated=%v", c.Isolated))
		} else {
			out = append(out, fmt.Sprintf("%s %s->%s", c.Vantage, c.From, c.To))
		}
	}
	w.changes = nil
	return out
}

func (w *world) round(monitor string, names ...string) result.Outcome {
	return w.r.Round(context.Background(), monitor, probe.Spec{URL: target, Timeout: time.Second}, names)
}

func statuses(r result.Outcome) string {
	var s []string
	for _, l := range r.Vantages {
		s = append(s, l.Name+"="+string(l.Status))
	}
	return strings.Join(s, " ")
}

var errAgent = errors.New("agent fra1: 401 unauthorized")

func TestRoundScopes(t *testing.T) {
	type vs struct {
		targetUp, canaryUp bool
		err                error
	}
	upv, downv, impv, gone := vs{true, true, nil}, vs{false, true, nil}, vs{false, false, nil}, vs{false, false, errAgent}
	tests := []struct {
		name     string
		state    map[string]vs
		names    []string
		scope    result.Scope
		lines    string
		isolated bool
	}{
		{"all up", map[string]vs{"local": upv, "fra1": upv, "iad1": upv}, nil, result.ScopeNone, "local=up fra1=up iad1=up", false},
		{"down everywhere", map[string]vs{"local": downv, "fra1": downv, "iad1": downv}, nil, result.ScopeEveryone, "local=down fra1=down iad1=down", false},
		{"down from one region", map[string]vs{"local": upv, "fra1": downv, "iad1": upv}, nil, result.ScopePartial, "local=up fra1=down iad1=up", false},
		{"local failing with its canaries", map[string]vs{"local": impv, "fra1": upv, "iad1": upv}, nil, result.ScopeJustMe, "local=impaired fra1=up iad1=up", false},
		{"local cut off from everything", map[string]vs{"local": impv, "fra1": gone, "iad1": gone}, nil, result.ScopeJustMe, "local=impaired fra1=unreachable iad1=unreachable", true},
		{"agent down is not a vote", map[string]vs{"local": upv, "fra1": gone, "iad1": upv}, nil, result.ScopeNone, "local=up fra1=unreachable iad1=up", false},
		{"down where answered, agent down", map[string]vs{"local": downv, "fra1": gone, "iad1": downv}, nil, result.ScopeEveryone, "local=down fra1=unreachable iad1=down", false},
		{"subset of vantages", map[string]vs{"local": upv, "fra1": downv, "iad1": upv}, []string{"fra1"}, result.ScopeEveryone, "fra1=down", false},
		{"local only, canaries pass", map[string]vs{"local": downv}, []string{"local"}, result.ScopeEveryone, "local=down", false},
		{"local only, canaries fail", map[string]vs{"local": impv}, []string{"local"}, result.ScopeJustMe, "local=impaired", false},
		{"only remotes, all gone", map[string]vs{"fra1": gone, "iad1": gone}, []string{"fra1", "iad1"}, result.ScopeUnknown, "fra1=unreachable iad1=unreachable", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, []string{canary1, canary2}, "fra1", "iad1")
			for n, s := range tc.state {
				w.vantage(n).set(s.targetUp, s.canaryUp, s.err)
			}
			res := w.round("shop", tc.names...)
			if res.Scope != tc.scope || statuses(res) != tc.lines {
				t.Fatalf("scope %q lines %q, want %q %q", res.Scope, statuses(res), tc.scope, tc.lines)
			}
			if res.URL != target || res.StartedAt.IsZero() {
				t.Errorf("merged result lacks url or time: %q %v", res.URL, res.StartedAt)
			}
			if got := w.r.Health().Isolated; got != tc.isolated {
				t.Errorf("isolated = %v, want %v", got, tc.isolated)
			}
		})
	}
}

func TestNoCanariesTakesFailuresAtFaceValue(t *testing.T) {
	w := newWorld(t, nil)
	w.local.set(false, false, nil)
	res := w.round("shop")
	if res.Scope != result.ScopeEveryone || statuses(res) != "local=down" {
		t.Fatalf("scope %q lines %q", res.Scope, statuses(res))
	}
	if _, c := w.local.calls(); c != 0 {
		t.Errorf("%d canary probes without canaries configured", c)
	}
}

func TestCanaryRecheckOnlyWhenStale(t *testing.T) {
	w := newWorld(t, []string{canary1, canary2})
	w.round("shop")
	if _, c := w.local.calls(); c != 0 {
		t.Fatalf("a good round checked canaries (%d probes)", c)
	}
	w.local.set(false, true, nil)
	steps := []struct {
		advance time.Duration
		want    int // canary probes so far
	}{
		{0, 2},                // first failure: check both canaries
		{0, 2},                // again at once: the check is fresh
		{14 * time.Second, 2}, // within every/4 = 15 s
		{time.Second, 4},      // 15 s old: stale
		{time.Second, 4},
	}
	for i, s := range steps {
		w.clock.Advance(s.advance)
		res := w.round("shop")
		if res.Scope != result.ScopeEveryone {
			t.Fatalf("step %d: scope %q", i, res.Scope)
		}
		if _, c := w.local.calls(); c != s.want {
			t.Fatalf("step %d: %d canary probes, want %d", i, c, s.want)
		}
	}
}

func TestConcurrentFailuresShareOneCanaryCheck(t *testing.T) {
	w := newWorld(t, []string{canary1, canary2}, "fra1")
	gate := make(chan struct{})
	w.local.mu.Lock()
	w.local.gate = gate
	w.local.mu.Unlock()
	w.local.set(false, false, nil)

	const monitors = 30
	results := make([]result.Outcome, monitors)
	var wg sync.WaitGroup
	for i := range monitors {
		wg.Go(func() { results[i] = w.round(fmt.Sprintf("m%d", i)) })
	}
	testkit.WaitFor(t, "every round to reach the local vantage", func() bool { tc, _ := w.local.calls(); return tc == monitors })
	close(gate)
	wg.Wait()
	if _, c := w.local.calls(); c != 2 {
		t.Fatalf("%d canary probes for %d failing monitors, want 2 (one check)", c, monitors)
	}
	if _, c := w.remotes["fra1"].calls(); c != 0 {
		t.Errorf("a vantage that saw the target up had its canaries checked %d times", c)
	}
	for i, r := range results {
		if r.Scope != result.ScopeJustMe {
			t.Errorf("monitor %d: scope %q", i, r.Scope)
		}
	}
	if got := w.takeChanges(); !slices.Equal(got, []string{"local healthy->impaired"}) {
		t.Errorf("changes = %v", got)
	}
	h, _ := w.r.Health().Vantage(result.LocalVantage)
	if h.State != Impaired || len(h.Monitors) != monitors || !strings.Contains(h.Error, "no canary answered OK") {
		t.Errorf("local health %+v", h)
	}
}

func TestHealthTransitions(t *testing.T) {
	w := newWorld(t, []string{canary1}, "fra1", "iad1")
	w.remotes["fra1"].set(true, true, errAgent)
	w.round("shop")
	w.round("api")
	w.round("shop")
	if got := w.takeChanges(); !slices.Equal(got, []string{"fra1 healthy->unreachable"}) {
		t.Fatalf("changes = %v", got)
	}
	s := w.r.Health()
	h, _ := s.Vantage("fra1")
	if h.State != Unreachable || !slices.Equal(h.Monitors, []string{"shop", "api"}) || !strings.Contains(h.Error, "401") || !h.Since.Equal(t0) {
		t.Fatalf("fra1 health %+v", h)
	}
	if s.Isolated {
		t.Error("isolated with a healthy local vantage")
	}
	w.clock.Advance(time.Minute)
	w.remotes["fra1"].set(true, true, nil)
	w.round("shop")
	if got := w.takeChanges(); !slices.Equal(got, []string{"fra1 unreachable->healthy"}) {
		t.Fatalf("changes = %v", got)
	}
	h, _ = w.r.Health().Vantage("fra1")
	if h.State != Healthy || h.Monitors != nil || h.Error != "" || !h.Since.Equal(t0.Add(time.Minute)) {
		t.Fatalf("fra1 health after recovery %+v", h)
	}
}

func TestIsolationIsOneNotice(t *testing.T) {
	w := newWorld(t, []string{canary1, canary2}, "fra1", "iad1")
	w.local.set(false, false, nil)
	w.remotes["fra1"].set(false, false, errAgent)
	w.remotes["iad1"].set(false, false, errAgent)
	for i := range 10 {
		w.clock.Advance(time.Second)
		if res := w.round(fmt.Sprintf("m%d", i)); res.Scope != result.ScopeJustMe {
			t.Fatalf("round %d: scope %q", i, res.Scope)
		}
	}
	got := w.takeChanges()
	if n := countPrefix(got, "isolated="); n != 1 || got[len(got)-1] != "isolated=true" {
		t.Fatalf("changes while losing the network = %v, want one isolated=true", got)
	}
	if len(got) != 4 {
		t.Errorf("changes = %v, want one per vantage plus the isolation", got)
	}
	s := w.r.Health()
	if !s.Isolated || s.IsolatedSince.IsZero() {
		t.Fatalf("snapshot %+v", s)
	}

	// The network comes back: the next scheduled check clears everything.
	w.local.set(true, true, nil)
	w.remotes["fra1"].set(true, true, nil)
	w.remotes["iad1"].set(true, true, nil)
	w.clock.Advance(time.Minute)
	w.r.Tick(context.Background())
	got = w.takeChanges()
	if countPrefix(got, "isolated=false") != 1 || countPrefix(got, "isolated=true") != 0 {
		t.Fatalf("changes when the network returns = %v", got)
	}
	for _, h := range w.r.Health().Vantages {
		if h.State != Healthy {
			t.Errorf("%s still %s", h.Name, h.State)
		}
	}
}

func TestLocalOnlyIsolation(t *testing.T) {
	w := newWorld(t, []string{canary1})
	w.local.set(false, false, nil)
	w.round("shop")
	if !w.r.Health().Isolated {
		t.Fatal("an impaired local vantage without remotes is not isolated")
	}
}

func TestTickSchedule(t *testing.T) {
	w := newWorld(t, []string{canary1, canary2}, "fra1")
	ctx := context.Background()
	w.r.Tick(ctx)
	w.clock.Advance(30 * time.Second)
	w.r.Tick(ctx)
	for _, n := range []string{"local", "fra1"} {
		if _, c := w.vantage(n).calls(); c != 2 {
			t.Fatalf("%s: %d canary probes after two ticks within every, want 2", n, c)
		}
	}
	w.clock.Advance(30 * time.Second)
	w.r.Tick(ctx)
	if _, c := w.local.calls(); c != 4 {
		t.Fatalf("%d canary probes after every elapsed, want 4", c)
	}
	h, _ := w.r.Health().Vantage("fra1")
	if h.Canary != "ok" || !h.CanaryAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("fra1 canary %q at %v", h.Canary, h.CanaryAt)
	}
}

func TestImpairedVantageSeeingUpIsNoVote(t *testing.T) {
	w := newWorld(t, []string{canary1}, "fra1")
	w.local.set(true, false, nil)
	w.r.Tick(context.Background()) // the schedule finds local's canaries down
	w.remotes["fra1"].set(false, true, nil)
	res := w.round("shop")
	if res.Scope != result.ScopeEveryone || statuses(res) != "local=impaired fra1=down" {
		t.Fatalf("scope %q lines %q", res.Scope, statuses(res))
	}
}

func TestRun(t *testing.T) {
	w := newWorld(t, []string{canary1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.r.Run(ctx); close(done) }()
	testkit.WaitFor(t, "the first canary pass", func() bool { _, c := w.local.calls(); return c == 1 && w.clock.Pending() == 1 })
	w.clock.Advance(time.Minute)
	testkit.WaitFor(t, "the second canary pass", func() bool { _, c := w.local.calls(); return c == 2 && w.clock.Pending() == 1 })
	cancel()
	<-done
}

func TestRoundDeadline(t *testing.T) {
	w := newWorld(t, nil, "fra1")
	w.r.opts.Margin = 20 * time.Millisecond
	w.remotes["fra1"].blockTarget = true
	start := time.Now()
	res := w.r.Round(context.Background(), "shop", probe.Spec{URL: target, Timeout: 20 * time.Millisecond}, nil)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("round took %v", el)
	}
	if res.Scope != result.ScopeNone || statuses(res) != "local=up fra1=unreachable" {
		t.Fatalf("scope %q lines %q", res.Scope, statuses(res))
	}
	if !strings.Contains(res.Vantages[1].Error, "deadline") {
		t.Errorf("error %q does not say the deadline passed", res.Vantages[1].Error)
	}
	if h, _ := w.r.Health().Vantage("fra1"); h.State != Unreachable {
		t.Errorf("fra1 health %s after missing the deadline", h.State)
	}
}

func TestCancelledRoundBlamesNoVantage(t *testing.T) {
	w := newWorld(t, nil, "fra1")
	w.remotes["fra1"].blockTarget = true
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := w.r.Round(ctx, "shop", probe.Spec{URL: target}, []string{"fra1"})
	if res.Scope != result.ScopeUnknown {
		t.Fatalf("scope %q", res.Scope)
	}
	if h, _ := w.r.Health().Vantage("fra1"); h.State != Healthy {
		t.Errorf("our own shutdown made fra1 %s", h.State)
	}
}

func TestUnknownVantageName(t *testing.T) {
	w := newWorld(t, nil)
	res := w.round("shop", "local", "nowhere", "local")
	if statuses(res) != "local=up nowhere=unreachable" || !strings.Contains(res.Vantages[1].Error, "not configured") {
		t.Fatalf("lines %q: %+v", statuses(res), res.Vantages)
	}
	if _, ok := w.r.Health().Vantage("nowhere"); ok {
		t.Error("an unknown name got a health entry")
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	f := &fakeVantage{}
	tests := []struct {
		name    string
		remotes map[string]Prober
		canary  []string
	}{
		{"remote named local", map[string]Prober{"local": f}, nil},
		{"empty name", map[string]Prober{"": f}, nil},
		{"nil prober", map[string]Prober{"fra1": nil}, nil},
		{"bad canary", nil, []string{"ftp://x/"}},
	}
	for _, tc := range tests {
		if _, err := New(nil, tc.remotes, Options{Canary: config.Canary{URLs: tc.canary}}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	r, err := New(nil, map[string]Prober{"b": f, "a": f}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Names(); !slices.Equal(got, []string{"local", "a", "b"}) {
		t.Errorf("names = %v", got)
	}
}

func TestLocalAdapter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	r, err := New(Local(nil), nil, Options{Canary: config.Canary{URLs: []string{srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Round(context.Background(), "shop", probe.Spec{URL: srv.URL + "/healthz", Timeout: 2 * time.Second}, nil)
	if !res.OK || res.Status != http.StatusNoContent || res.Scope != result.ScopeNone {
		t.Fatalf("result %+v", res)
	}
	r.Tick(context.Background())
	if h, _ := r.Health().Vantage(result.LocalVantage); h.Canary != "ok" {
		t.Errorf("local canary %q against a live loopback server", h.Canary)
	}
}

func countPrefix(ss []string, p string) int {
	n := 0
	for _, s := range ss {
		if strings.HasPrefix(s, p) {
			n++
		}
	}
	return n
}
