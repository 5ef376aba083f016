package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
)

// fakeActions records every call the control API makes, so a test can
// prove that a refused request reached none.
type fakeActions struct {
	mu    sync.Mutex
	calls []string
	by    []string
	added []silence.Silence
	err   error
}

func (f *fakeActions) record(call, by string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	f.by = append(f.by, by)
}

func (f *fakeActions) snapshot() (calls, by []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...), append([]string(nil), f.by...)
}

func (f *fakeActions) AddSilence(_ context.Context, s silence.Silence, by string) (silence.Silence, error) {
	f.record("AddSilence", by)
	if f.err != nil {
		return silence.Silence{}, f.err
	}
	s.ID, s.CreatedBy = 7, by
	f.mu.Lock()
	f.added = append(f.added, s)
	f.mu.Unlock()
	return s, nil
}

func (f *fakeActions) Silences(_ context.Context, all bool) ([]silence.Silence, error) {
	f.record("Silences all="+strconv.FormatBool(all), "")
	return nil, f.err
}

func (f *fakeActions) ExpireSilence(_ context.Context, id int64, by string) (silence.Silence, error) {
	f.record("ExpireSilence "+strconv.FormatInt(id, 10), by)
	return silence.Silence{ID: id, ExpiredBy: by}, f.err
}

func (f *fakeActions) Ack(_ context.Context, id int64, by, comment string) (incident.Incident, error) {
	f.record("Ack "+strconv.FormatInt(id, 10)+" "+comment, by)
	return incident.Incident{ID: id, Monitor: "shop", Ack: &incident.Ack{By: by, Comment: comment}}, f.err
}

func (f *fakeActions) Recheck(_ context.Context, monitor, by string) (result.Outcome, error) {
	f.record("Recheck "+monitor, by)
	return result.Outcome{Result: result.Result{Class: result.ClassOK}}, f.err
}

var controlNow = time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)

func newTestControl(act controlActions) *control {
	return &control{act: act, log: slog.New(slog.DiscardHandler), now: func() time.Time { return controlNow }, redact: func(s string) string { return s }}
}

func do(t *testing.T, c *http.Client, method, url, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// socketClient talks HTTP over the Unix socket at path.
func socketClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
}

func TestControlSocketModeAndGroup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "control.sock")
	// bind(2) makes a socket 0777 less the umask (0755 under the usual
	// 022): 0660 is set, not masked. (The umask is the process's, shared
	// with the tests running beside this one, so it is left as it is.)
	ln, err := listenControl(path, os.Getgid())
	if err != nil {
		t.Fatalf("listenControl: %v", err)
	}
	defer ln.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %v, want a socket with 0660", fi.Mode())
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Gid) != os.Getgid() {
		t.Errorf("socket group = %d, want %d", st.Gid, os.Getgid())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the socket's directory holds %d entries, want only the socket (the private bind directory is removed)", len(entries))
	}
}

func TestControlSocketStaleIsReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "control.sock")
	// A daemon killed with -9 leaves its socket file behind.
	dead, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	dead.(*net.UnixListener).SetUnlinkOnClose(false)
	dead.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket is not there: %v", err)
	}
	ln, err := listenControl(path, -1)
	if err != nil {
		t.Fatalf("listenControl over a stale socket: %v", err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	if c, err := net.Dial("unix", path); err != nil {
		t.Errorf("the new socket does not answer: %v", err)
	} else {
		c.Close()
	}

	// A live one is another daemon's: left alone.
	if _, err := listenControl(path, -1); err == nil || !strings.Contains(err.Error(), "another process listens") {
		t.Errorf("listenControl over a live socket = %v, want it refused", err)
	}
	// A file that is not a socket is nobody's to remove.
	file := filepath.Join(dir, "not-a-socket")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listenControl(file, -1); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("listenControl over a file = %v, want it refused", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "x" {
		t.Errorf("the file was touched: %q, %v", b, err)
	}
}

func TestControlSocketNamesThePeer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := listenControl(path, -1)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeActions{}
	srv := &http.Server{
		Handler:     newTestControl(fake).handler(controlPrefix),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return withBy(ctx, peerName(c)) },
	}
	go srv.Serve(ln)
	defer srv.Close()

	code, _, body := do(t, socketClient(path), "POST", "http://vantage/api/v1/incidents/12/ack", `{"comment":"looking at the db"}`, nil)
	if code != http.StatusOK {
		t.Fatalf("ack over the socket = %d %s", code, body)
	}
	want := "uid " + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		want += " (" + u.Username + ")"
	}
	calls, by := fake.snapshot()
	if len(calls) != 1 || calls[0] != "Ack 12 looking at the db" || by[0] != want {
		t.Errorf("calls %q by %q, want one Ack by %q", calls, by, want)
	}
	var inc incident.Incident
	if err := json.Unmarshal([]byte(body), &inc); err != nil || inc.Ack == nil || inc.Ack.By != want {
		t.Errorf("answer %s: want the incident acked by %q (%v)", body, want, err)
	}
}

func TestControlHTTPNeedsTheToken(t *testing.T) {
	fake := &fakeActions{}
	token := config.NewSecret("0123456789abcdef0123456789abcdef")
	cur := token
	var mu sync.Mutex
	srv := httptest.NewServer(tokenGate(func() config.Secret { mu.Lock(); defer mu.Unlock(); return cur }, newTestControl(fake).handler(httpControlPrefix)))
	defer srv.Close()
	add := srv.URL + httpControlPrefix + "/silences"
	body := `{"matchers":{"monitors":["shop"]},"for":"2h","comment":"deploy"}`

	for name, h := range map[string]map[string]string{
		"no credentials": nil,
		"wrong token":    {"Authorization": "Bearer 0123456789abcdef0123456789abcdeX"},
		"token prefix":   {"Authorization": "Bearer 0123456789abcdef"},
		"basic":          {"Authorization": "Basic " + token.Reveal()},
		"bare token":     {"Authorization": token.Reveal()},
	} {
		t.Run(name, func(t *testing.T) {
			for _, ep := range []struct{ method, url string }{
				{"POST", add}, {"GET", add}, {"POST", srv.URL + httpControlPrefix + "/silences/3/expire"},
				{"POST", srv.URL + httpControlPrefix + "/incidents/3/ack"}, {"POST", srv.URL + httpControlPrefix + "/monitors/shop/recheck"},
			} {
				code, hdr, got := do(t, srv.Client(), ep.method, ep.url, body, h)
				if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(got, `"error"`) {
					t.Errorf("%s %s = %d %q %s, want 401 with WWW-Authenticate: Bearer and a JSON error", ep.method, ep.url, code, hdr.Get("WWW-Authenticate"), got)
				}
			}
		})
	}
	if calls, _ := fake.snapshot(); len(calls) != 0 {
		t.Fatalf("refused requests reached the actions: %q", calls)
	}

	code, _, got := do(t, srv.Client(), "POST", add, body, map[string]string{"Authorization": "Bearer " + token.Reveal(), "X-Vantage-User": "ana <script>"})
	if code != http.StatusCreated {
		t.Fatalf("with the token: %d %s", code, got)
	}
	var s silence.Silence
	if err := json.Unmarshal([]byte(got), &s); err != nil || s.ID != 7 || s.CreatedBy != "token:anascript" || !s.End.Equal(controlNow.Add(2*time.Hour)) || s.Comment != "deploy" {
		t.Errorf("answer %s (%v): want silence 7 by token:anascript until now+2h", got, err)
	}
	code, _, _ = do(t, srv.Client(), "POST", srv.URL+httpControlPrefix+"/silences/7/expire", "", map[string]string{"Authorization": "bearer " + token.Reveal()})
	if calls, by := fake.snapshot(); code != http.StatusOK || len(calls) != 2 || calls[1] != "ExpireSilence 7" || by[1] != "token" {
		t.Errorf("expire with the token: %d, calls %q by %q", code, calls, by)
	}

	// Without token_file, the API is not served over HTTP at all.
	mu.Lock()
	cur = config.Secret{}
	mu.Unlock()
	code, _, got = do(t, srv.Client(), "POST", add, body, map[string]string{"Authorization": "Bearer " + token.Reveal()})
	if code != http.StatusUnauthorized || !strings.Contains(got, "control socket only") {
		t.Errorf("without [api] token_file: %d %s, want 401 naming the socket", code, got)
	}
	if calls, _ := fake.snapshot(); len(calls) != 2 {
		t.Errorf("calls %q, want still 2", calls)
	}
}

func TestControlRequestValidation(t *testing.T) {
	fake := &fakeActions{}
	srv := httptest.NewServer(newTestControl(fake).handler(controlPrefix))
	defer srv.Close()
	u := srv.URL + controlPrefix
	past := controlNow.Add(-time.Hour).Format(time.RFC3339)
	for name, tc := range map[string]struct {
		method, path, body string
		code               int
		want               string
	}{
		"bad duration":     {"POST", "/silences", `{"matchers":{"monitors":["shop"]},"for":"2"}`, 400, `for: \"2\" is not a duration`},
		"negative for":     {"POST", "/silences", `{"matchers":{"monitors":["shop"]},"for":"-1h"}`, 400, "is not positive"},
		"unknown field":    {"POST", "/silences", `{"matchers":{"monitors":["shop"]},"for":"2h","until":"x"}`, 400, `unknown field \"until\"`},
		"unknown matcher":  {"POST", "/silences", `{"matchers":{"monitor":["shop"]},"for":"2h"}`, 400, `unknown field \"monitor\"`},
		"no matcher":       {"POST", "/silences", `{"matchers":{},"for":"2h"}`, 400, "none given"},
		"no end":           {"POST", "/silences", `{"matchers":{"monitors":["shop"]}}`, 400, "missing for"},
		"for and end":      {"POST", "/silences", `{"matchers":{"monitors":["shop"]},"for":"1h","end":"2030-01-01T00:00:00Z"}`, 400, "give one of them"},
		"end in the past":  {"POST", "/silences", `{"matchers":{"monitors":["shop"]},"end":"` + past + `"}`, 400, "is in the past"},
		"bad class":        {"POST", "/silences", `{"matchers":{"classes":["nope"]},"for":"1h"}`, 400, `\"nope\" is not a class`},
		"bad scope":        {"POST", "/silences", `{"matchers":{"scopes":["all"]},"for":"1h"}`, 400, `\"all\" is not a scope`},
		"too long":         {"POST", "/silences", `{"matchers":{"monitors":["shop"]},"for":"9000h"}`, 400, "longer than 366 days"},
		"trailing data":    {"POST", "/silences", `{"matchers":{"monitors":["shop"]},"for":"1h"} {}`, 400, "data after the JSON object"},
		"empty body":       {"POST", "/silences", ``, 400, "empty request body"},
		"too large":        {"POST", "/silences", `{"comment":"` + strings.Repeat("x", maxControlBody) + `"}`, 413, "larger than 65536 bytes"},
		"until resolved":   {"POST", "/silences", `{"matchers":{"monitors":["shop"]},"until_resolved":true}`, 400, "needs matchers.incident"},
		"bad all":          {"GET", "/silences?all=yes", ``, 400, `all: \"yes\"`},
		"bad silence id":   {"POST", "/silences/x/expire", ``, 400, `\"x\" is not a silence ID`},
		"bad incident id":  {"POST", "/incidents/0/ack", ``, 400, `\"0\" is not a incident ID`},
		"ack unknown key":  {"POST", "/incidents/3/ack", `{"note":"x"}`, 400, `unknown field \"note\"`},
		"expire with body": {"POST", "/silences/3/expire", `{"now":true}`, 400, "takes no request body"},
		"wrong method":     {"DELETE", "/silences", ``, 405, "method DELETE not allowed"},
		"get ack":          {"GET", "/incidents/3/ack", ``, 405, "use POST"},
		"no such path":     {"POST", "/monitors/shop/nope", ``, 404, "no such endpoint"},
		"outside the api":  {"GET", "/../metrics", ``, 404, "no such endpoint"},
	} {
		t.Run(name, func(t *testing.T) {
			code, hdr, got := do(t, srv.Client(), tc.method, u+tc.path, tc.body, nil)
			if code != tc.code || !strings.Contains(got, tc.want) || hdr.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s = %d %s, want %d with %q in a JSON error", tc.method, tc.path, code, got, tc.code, tc.want)
			}
		})
	}
	if calls, _ := fake.snapshot(); len(calls) != 0 {
		t.Errorf("invalid requests reached the actions: %q", calls)
	}
}

func TestControlEndpointsReachTheActions(t *testing.T) {
	fake := &fakeActions{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		newTestControl(fake).handler(controlPrefix).ServeHTTP(w, r.WithContext(withBy(r.Context(), "uid 1000 (ana)")))
	}))
	defer srv.Close()
	u := srv.URL + controlPrefix
	end := controlNow.Add(90 * time.Minute)
	for _, tc := range []struct {
		method, path, body string
		code               int
		call               string
	}{
		{"POST", "/silences", `{"matchers":{"monitors":["shop"],"tags":["edge"],"classes":["bad_gateway"],"scopes":["everyone"],"vantages":["fra1"]},"end":"` + end.Format(time.RFC3339) + `"}`, 201, "AddSilence"},
		{"POST", "/silences", `{"matchers":{"incident":4},"until_resolved":true}`, 201, "AddSilence"},
		{"GET", "/silences", ``, 200, "Silences all=false"},
		{"GET", "/silences?all=1", ``, 200, "Silences all=true"},
		{"POST", "/silences/3/expire", ``, 200, "ExpireSilence 3"},
		{"POST", "/incidents/12/ack", ``, 200, "Ack 12 "},
		{"POST", "/monitors/team%2Fshop/recheck", ``, 200, "Recheck team/shop"},
	} {
		before, _ := fake.snapshot()
		code, _, got := do(t, srv.Client(), tc.method, u+tc.path, tc.body, nil)
		calls, by := fake.snapshot()
		if code != tc.code || len(calls) != len(before)+1 || calls[len(calls)-1] != tc.call {
			t.Errorf("%s %s = %d %s, calls %q; want %d and %s", tc.method, tc.path, code, got, calls, tc.code, tc.call)
			continue
		}
		if tc.method == "POST" && by[len(by)-1] != "uid 1000 (ana)" {
			t.Errorf("%s %s: by %q", tc.method, tc.path, by[len(by)-1])
		}
		if tc.path == "/silences" && tc.method == "GET" && got != "{\"silences\":[]}\n" {
			t.Errorf("an empty list = %q, want an empty array", got)
		}
	}
	fake.mu.Lock()
	first, second := fake.added[0], fake.added[1]
	fake.mu.Unlock()
	if !first.End.Equal(end) || !first.Start.Equal(controlNow) || len(first.Matchers.Vantages) != 1 {
		t.Errorf("first silence = %+v, want start now, end %v", first, end)
	}
	if !second.UntilResolved || second.Matchers.Incident != 4 || !second.End.IsZero() {
		t.Errorf("second silence = %+v, want until incident 4 resolves", second)
	}

	for _, tc := range []struct {
		err  error
		code int
	}{
		{ErrUnknownIncident, 404}, {ErrUnknownSilence, 404}, {ErrUnknownMonitor, 404}, {fmt.Errorf("%w: no author", ErrInvalidAction), 400},
		{errors.New("store: disk I/O error"), 500}, {context.DeadlineExceeded, 503},
	} {
		fake.err = tc.err
		code, _, got := do(t, srv.Client(), "POST", u+"/incidents/99/ack", "", nil)
		if code != tc.code || !strings.Contains(got, "acknowledging incident 99: "+tc.err.Error()) {
			t.Errorf("Ack failing with %v = %d %s, want %d", tc.err, code, got, tc.code)
		}
	}
}

// The daemon serves the socket while it runs, in the state directory by
// default, and the HTTP listener refuses the control API without the token.
func TestDaemonServesTheControlSocket(t *testing.T) {
	tgt := newTarget(t)
	f := newFixture(t, monitorTOML("shop", tgt.URL), nil)
	stop := f.run()
	path := filepath.Join(f.dir, "state", config.ControlSocketName)
	exists := func() bool { _, err := os.Lstat(path); return err == nil }
	testkit.WaitFor(t, "the control socket", exists)
	fi, _ := os.Lstat(path)
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode())
	}
	// The read-only API is as it was; the control API on HTTP is refused.
	base := "http://" + f.d.Addr().String()
	if code, _, body := do(t, http.DefaultClient, "GET", base+"/api/v1/monitors", "", nil); code != 200 || !strings.Contains(body, "shop") {
		t.Errorf("GET /api/v1/monitors = %d %s", code, body)
	}
	code, hdr, body := do(t, http.DefaultClient, "POST", base+"/api/v1/control/silences", `{"matchers":{"monitors":["shop"]},"for":"2h"}`, nil)
	if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" || !strings.Contains(body, "control socket only") {
		t.Errorf("POST /api/v1/control/silences without a token = %d %s", code, body)
	}
	// Over the socket, a request that does not validate is answered there.
	code, _, body = do(t, socketClient(path), "POST", "http://vantage/api/v1/silences", `{"matchers":{},"for":"2h"}`, nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "none given") {
		t.Errorf("over the socket: %d %s, want 400", code, body)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if exists() {
		t.Errorf("the control socket is left behind at %s after a clean stop", path)
	}
}

// End to end with the daemon's own actions: a request without the right
// token changes nothing (no silence, no incident acked, no action row);
// with it, and over the socket, the change is made and names who.
func TestControlRefusedChangesNothing(t *testing.T) {
	tgt := newTarget(t)
	tgt.status.Store(http.StatusBadGateway)
	dir := t.TempDir()
	token := "0123456789abcdef0123456789abcdef"
	if err := os.WriteFile(filepath.Join(dir, "api-token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "ctl.sock")
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	f := newFixture(t, fmt.Sprintf("[api]\nsocket = %q\ntoken_file = %q\n", sock, filepath.Join(dir, "api-token"))+monitorTOML("shop", tgt.URL), nil)
	f.round("shop")
	f.round("shop")
	open := f.incidents("shop")
	if len(open) != 1 || !open[0].Open() {
		t.Fatalf("incidents %+v, want one open", open)
	}
	id := open[0].ID
	f.run()
	testkit.WaitFor(t, "the control socket", func() bool { _, err := os.Lstat(sock); return err == nil })
	base := "http://" + f.d.Addr().String() + httpControlPrefix
	ctx := context.Background()

	for name, h := range map[string]map[string]string{
		"no credentials": nil,
		"wrong token":    {"Authorization": "Bearer " + strings.Repeat("x", len(token))},
	} {
		t.Run(name, func(t *testing.T) {
			for _, r := range []struct{ path, body string }{
				{"/silences", `{"matchers":{"monitors":["shop"]},"for":"2h"}`},
				{fmt.Sprintf("/incidents/%d/ack", id), `{"comment":"mine"}`},
				{"/monitors/shop/recheck", ``},
			} {
				code, _, body := do(t, http.DefaultClient, "POST", base+r.path, r.body, h)
				if code != http.StatusUnauthorized {
					t.Errorf("POST %s = %d %s, want 401", r.path, code, body)
				}
			}
		})
	}
	if list, err := f.d.Silences(ctx, true); err != nil || len(list) != 0 {
		t.Errorf("after refused requests: silences %+v, %v; want none", list, err)
	}
	if acts, err := f.d.Store().ActionsFor(ctx, id); err != nil || len(acts) != 0 {
		t.Errorf("after refused requests: actions on incident %d %+v, %v; want none", id, acts, err)
	}
	if inc := f.incidents("shop"); inc[0].Ack != nil {
		t.Errorf("after refused requests the incident is acked: %+v", inc[0].Ack)
	}

	// With the token: the silence is made, by "token:ana".
	code, _, body := do(t, http.DefaultClient, "POST", base+"/silences", `{"matchers":{"monitors":["shop"]},"for":"2h","comment":"deploy"}`,
		map[string]string{"Authorization": "Bearer " + token, "X-Vantage-User": "ana"})
	var s silence.Silence
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &s) != nil || s.ID == 0 || s.CreatedBy != "token:ana" {
		t.Fatalf("with the token: %d %s", code, body)
	}
	// Over the socket: the ack names the Unix user.
	code, _, body = do(t, socketClient(sock), "POST", fmt.Sprintf("http://vantage/api/v1/incidents/%d/ack", id), `{"comment":"looking at the db"}`, nil)
	var inc incident.Incident
	if code != http.StatusOK || json.Unmarshal([]byte(body), &inc) != nil || inc.Ack == nil || !strings.HasPrefix(inc.Ack.By, "uid "+strconv.Itoa(os.Getuid())) {
		t.Fatalf("ack over the socket: %d %s", code, body)
	}
	acts, err := f.d.Store().ActionsFor(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var whos []string
	for _, a := range acts {
		whos = append(whos, a.By)
	}
	if len(acts) != 2 || whos[0] != "token:ana" || whos[1] != inc.Ack.By {
		t.Errorf("actions on incident %d by %q, want the silence by token:ana then the ack by %s", id, whos, inc.Ack.By)
	}
	code, _, body = do(t, socketClient(sock), "POST", "http://vantage/api/v1/incidents/999999/ack", ``, nil)
	if code != http.StatusNotFound {
		t.Errorf("ack of an unknown incident: %d %s, want 404", code, body)
	}
	// A re-check runs the round and answers with its outcome.
	code, _, body = do(t, socketClient(sock), "POST", "http://vantage/api/v1/monitors/shop/recheck", ``, nil)
	var out result.Outcome
	if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.Class != result.ClassBadGateway {
		t.Errorf("re-check over the socket: %d %s, want 200 and the 502's outcome", code, body)
	}
	code, _, body = do(t, socketClient(sock), "POST", "http://vantage/api/v1/monitors/nope/recheck", ``, nil)
	if code != http.StatusNotFound {
		t.Errorf("re-check of an unknown monitor: %d %s, want 404", code, body)
	}
}
