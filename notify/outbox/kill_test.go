package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
)

// The helper process's environment.
const (
	envMode = "VANTAGE_OUTBOX_HELPER" // "run" or "pass"
	envDB   = "VANTAGE_OUTBOX_DB"
	envURL  = "VANTAGE_OUTBOX_URL"
)

// hookNotifier POSTs the message as JSON: the smallest real receiver.
type hookNotifier struct{ url string }

func (h hookNotifier) Notify(ctx context.Context, msg *notify.Message, ref string) (string, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return "", notify.Permanent("cannot encode message", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return "", notify.Permanent("bad hook url", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("post to hook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("post to hook: HTTP %d", resp.StatusCode)
	}
	return "", nil
}

// TestHelperProcess is the daemon side of TestKillDuringSend, run in a
// child process. It does nothing in a normal test run.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envMode)
	if mode == "" {
		return
	}
	// Bounded, so that a child whose parent died does not linger.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, os.Getenv(envDB), store.Options{PruneInterval: -1})
	if err != nil {
		t.Fatalf("child: open store: %v", err)
	}
	defer s.Close()
	o := New(Options{Store: s, Poll: 10 * time.Millisecond})
	o.SetNotifiers(map[string]notify.Notifier{"hook": hookNotifier{os.Getenv(envURL)}})
	switch mode {
	case "run":
		if err := o.Run(ctx); err != nil {
			t.Fatalf("child: run: %v", err)
		}
	case "pass":
		n, err := o.DeliverDue(ctx, "hook")
		if err != nil {
			t.Fatalf("child: deliver: %v", err)
		}
		fmt.Printf("sent=%d\n", n)
	default:
		t.Fatalf("child: unknown mode %q", mode)
	}
}

// hookServer is the receiver's end: it records every message, and hangs on
// the first one until the sender goes away.
type hookServer struct {
	mu    sync.Mutex
	got   []notify.Message
	first chan struct{}
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg notify.Message
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, msg)
	n := len(h.got)
	h.mu.Unlock()
	if n == 1 {
		close(h.first)
		// The message has arrived; the answer never will.
		<-r.Context().Done()
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookServer) messages() []notify.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Message(nil), h.got...)
}

func child(t *testing.T, mode, db, url string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	// A race-enabled child otherwise sleeps a second at exit.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), envMode+"="+mode, envDB+"="+db, envURL+"="+url, "GORACE="+gorace)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if t.Failed() {
			t.Logf("child %s output:\n%s", mode, out.String())
		}
	})
	return cmd, &out
}

// childPass runs one delivery pass in a fresh process and returns how many it
// sent.
func childPass(t *testing.T, db, url string) int {
	t.Helper()
	cmd, out := child(t, "pass", db, url)
	if err := cmd.Run(); err != nil {
		t.Fatalf("child pass: %v\n%s", err, out)
	}
	var n int
	for line := range strings.Lines(out.String()) {
		if _, err := fmt.Sscanf(line, "sent=%d", &n); err == nil {
			return n
		}
	}
	t.Fatalf("child pass printed no count:\n%s", out)
	return 0
}

// The test: kill -9 in the middle of a send. The event is delivered
// at least once and at most twice, and the second delivery says it may be a
// repeat.
func TestKillDuringSend(t *testing.T) {
	t.Parallel()
	if os.Getenv(envMode) != "" {
		return // inside a helper: only TestHelperProcess runs there
	}
	hook := &hookServer{first: make(chan struct{})}
	srv := httptest.NewServer(hook)
	defer srv.Close()

	db := filepath.Join(t.TempDir(), store.FileName)
	s := openStoreAt(t, db, time.Now)
	msg := open("7-open", "hook", 7)
	put(t, s, msg, time.Time{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// First daemon: sends, and is killed while the receiver holds the
	// request.
	daemon, _ := child(t, "run", db, srv.URL)
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hook.first:
	case <-time.After(30 * time.Second):
		t.Fatal("the first daemon never sent the event")
	}
	if err := daemon.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = daemon.Wait()
	if ws, ok := daemon.ProcessState.Sys().(interface{ Signaled() bool }); ok && !ws.Signaled() {
		t.Fatalf("first daemon exited on its own: %v", daemon.ProcessState)
	}

	// The store knows the send was interrupted.
	s = openStoreAt(t, db, time.Now)
	it, err := s.OutboxItem(context.Background(), msg.Key)
	if err != nil {
		t.Fatal(err)
	}
	if it.State != store.StatePending || !it.MaybeSent || it.Attempts != 1 {
		t.Fatalf("after the kill: %+v", it)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Second daemon: delivers again, marked as a possible repeat.
	if n := childPass(t, db, srv.URL); n != 1 {
		t.Fatalf("second daemon sent %d, want 1", n)
	}
	got := hook.messages()
	if len(got) != 2 {
		t.Fatalf("receiver got %d messages, want 2", len(got))
	}
	if got[0].Key != msg.Key || got[0].Repeat {
		t.Errorf("first delivery = key %q repeat %v", got[0].Key, got[0].Repeat)
	}
	if got[1].Key != msg.Key || !got[1].Repeat {
		t.Errorf("second delivery = key %q repeat %v, want the same key marked repeat", got[1].Key, got[1].Repeat)
	}

	// Third daemon: nothing left to send.
	if n := childPass(t, db, srv.URL); n != 0 {
		t.Errorf("third daemon sent %d, want 0", n)
	}
	if n := len(hook.messages()); n != 2 {
		t.Errorf("receiver got %d messages after the third daemon, want 2", n)
	}
	s = openStoreAt(t, db, time.Now)
	if _, ok, err := s.Delivered(context.Background(), msg.Key); !ok || err != nil {
		t.Errorf("Delivered(%s) = %v, %v", msg.Key, ok, err)
	}
	if _, err := s.OutboxItem(context.Background(), msg.Key); err == nil {
		t.Error("delivered event still in the outbox")
	}
}
