package main

// The chaos test of issue 10: the real `vantage run`, killed with SIGKILL at
// random moments, over two flapping monitors, delivering to a Slack Web API
// and an SMTP server that fail in the ways receivers really fail. It checks
// the promise "nothing lost, nothing doubled" from the receivers' side:
// every open and every resolve of every incident in the store arrives, and
// any second copy says "possible repeat".
//
// A fake receiver counts a message as delivered as soon as it has read it,
// whether or not the daemon ever hears the answer: that is what a real
// Slack or mail server does, and what makes an ambiguous send a double.
//
// Reading a failure: "UNMARKED DOUBLE ... requests: [d3 mail drop-after-DATA*]
// -> [d5 mail ok*]" means daemon 3 sent the mail, the server took it (*)
// and dropped the connection before its 250, and daemon 5 sent it again
// without saying "possible repeat". The seed is logged, and
// VANTAGE_CHAOS_SEED replays the random choices (not the timing).

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/monitor/web"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/render"
)

// The fault modes of the fake receivers. A plan is the list of modes for a
// message's first attempts; later attempts get chaosOK.
const (
	chaosOK = "ok"
	// Slack
	chaos429    = "429"     // rate limited, Retry-After: 1; not delivered
	chaos500    = "500"     // server error; not delivered
	chaosHang   = "hang"    // no answer until the client gives up; not delivered
	chaosOKHang = "ok-hang" // delivered, then no answer until the client gives up
	// SMTP, decided once DATA has been read
	chaos451   = "451"              // temporary reject; not delivered
	chaosDrop  = "drop-after-DATA"  // delivered, then the connection closes without the 250
	chaosStall = "stall-after-DATA" // delivered, then no 250 until the client gives up
)

// chaosPlans are the plans by receiver and event ("chaos-slack open"),
// handed out in turn to each new notification a fake sees (an incident's
// open or resolve for one receiver), so that every mode is exercised in
// every run once a few incidents have gone by. Each step is one request;
// later requests get chaosOK. A notification fails at most as often as its
// plan has faults (plus the kills), which keeps the backoffs, and the test,
// short.
type chaosPlans map[string][][]string

var (
	// While the daemon is being killed.
	chaosKillPlans = chaosPlans{
		chaosSlackName + " open": {
			{chaosOKHang}, {chaos429}, {}, {chaos500}, {chaosHang},
			{chaosOKHang, chaos500}, {chaos429, chaos500}, {chaosHang, chaosOKHang},
		},
		// A resolve is two requests, chat.update and then the thread
		// reply; a plan that starts with ok reaches the reply.
		chaosSlackName + " resolve": {
			{chaosOK, chaosOKHang}, {chaos500}, {}, {chaosOKHang}, {chaosOK, chaos429},
			{chaosOK, chaosOKHang, chaos500}, {chaosHang}, {chaosOK, chaosHang},
		},
		chaosMailName + " open":    chaosMailPlans,
		chaosMailName + " resolve": chaosMailPlans,
	}
	chaosMailPlans = [][]string{
		{chaosDrop}, {chaos451}, {}, {chaosStall}, {chaos451, chaosDrop}, {chaosDrop, chaos451},
	}
	// In the calm phase at the end, with no kills: the sequences,
	// so that no kill can turn an unmarked double into a marked one.
	chaosCalmPlans = chaosPlans{
		chaosSlackName + " open":    {{chaosOKHang, chaos500}},
		chaosSlackName + " resolve": {{chaosOK, chaosOKHang, chaos500}},
		chaosMailName + " open":     {{chaosDrop}, {chaosStall}},
		chaosMailName + " resolve":  {{chaosStall}, {chaosDrop}},
	}
)

const (
	chaosKills        = 16               // at least 15, as the issue asks
	chaosReceiverWait = time.Second      // receiver timeout: how long a hang costs
	chaosQuiesceLimit = 75 * time.Second // backoffs after repeated failures can reach tens of seconds
	chaosSlackName    = "chaos-slack"
	chaosMailName     = "chaos-mail"
)

// chaosAttempt is one request a fake saw for a message.
type chaosAttempt struct {
	call      string
	mode      string
	delivered bool
	gen       int32 // which daemon process sent it
}

// chaosDelivery is one message that reached a receiver.
type chaosDelivery struct {
	receiver string
	call     string // "post", "update", "reply" (Slack), "mail"
	id       string // the notification (receiver, incident, event): its requests share a plan
	incident int64
	event    string // "open", "resolve", "update", ... as the message says
	key      string // the outbox key, where the message shows it
	repeat   bool   // it says "possible repeat"
	late     bool   // a late resolve: it stands for the open nobody saw, too
	ts       string // Slack: the message's ts (post, update) or thread (reply)
	gen      int32
	attempt  int // 1-based
}

// chaosLedger is what both fakes share: deliveries, attempts per message,
// and the plans.
type chaosLedger struct {
	gen *atomic.Int32

	mu         sync.Mutex
	deliveries []chaosDelivery
	attempts   map[string][]chaosAttempt
	plans      map[string][]string // by notification
	handout    chaosPlans          // the plans new notifications get
	nextPlan   map[string]int      // by handout key
	modesUsed  map[string]map[string]int
	problems   []string // requests the fakes could not make sense of
	inflight   chan string
	release    chan struct{} // closed at the end: every hang returns
}

func newChaosLedger(gen *atomic.Int32) *chaosLedger {
	return &chaosLedger{
		gen:       gen,
		attempts:  map[string][]chaosAttempt{},
		plans:     map[string][]string{},
		handout:   chaosKillPlans,
		nextPlan:  map[string]int{},
		modesUsed: map[string]map[string]int{},
		inflight:  make(chan string, 1),
		release:   make(chan struct{}),
	}
}

// mode decides the fate of this request for d's notification and records it.
func (l *chaosLedger) mode(d *chaosDelivery) (mode string, attempt int, gen int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	receiver, id := d.receiver, d.id
	plan, ok := l.plans[id]
	if !ok {
		k := receiver + " " + d.event
		if plans := l.handout[k]; len(plans) > 0 {
			plan = plans[l.nextPlan[k]%len(plans)]
			l.nextPlan[k]++
		}
		l.plans[id] = plan
	}
	n := len(l.attempts[id])
	mode = chaosOK
	if n < len(plan) {
		mode = plan[n]
	}
	gen = l.gen.Load()
	l.attempts[id] = append(l.attempts[id], chaosAttempt{call: d.call, mode: mode, gen: gen})
	if l.modesUsed[receiver] == nil {
		l.modesUsed[receiver] = map[string]int{}
	}
	l.modesUsed[receiver][mode]++
	return mode, n + 1, gen
}

// deliver records d as having reached its receiver.
func (l *chaosLedger) deliver(d chaosDelivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if as := l.attempts[d.id]; d.attempt >= 1 && d.attempt <= len(as) {
		as[d.attempt-1].delivered = true
	}
	l.deliveries = append(l.deliveries, d)
}

func (l *chaosLedger) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// stalling tells the kill loop that a request is held open right now: a
// kill at this moment hits a send in flight.
func (l *chaosLedger) stalling(what string) {
	select {
	case l.inflight <- what:
	default:
	}
}

// hold blocks until the client goes away (done), the test ends, or max.
func (l *chaosLedger) hold(done <-chan struct{}, max time.Duration) {
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-done:
	case <-l.release:
	case <-t.C:
	}
}

// footerRE reads the footer every mail's text carries (render.footer):
// "vantage · incident #12 · event open · at ...". The idempotency key is
// never shown, so a mail's key stays "".
var footerRE = regexp.MustCompile(`incident #(\d+) · event (\w+)`)

// parseFooter reads which incident and event a message is for: from a
// Slack message's metadata (render.SlackMetadata, JSON, which carries the
// key too), or from a mail's footer text.
func parseFooter(s string) (id int64, event, key string, ok bool) {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		var md struct {
			EventPayload struct {
				IncidentID int64  `json:"incident_id"`
				Event      string `json:"event"`
				Key        string `json:"key"`
			} `json:"event_payload"`
		}
		if err := json.Unmarshal([]byte(s), &md); err != nil || md.EventPayload.IncidentID == 0 || md.EventPayload.Event == "" {
			return 0, "", "", false
		}
		return md.EventPayload.IncidentID, md.EventPayload.Event, md.EventPayload.Key, true
	}
	m := footerRE.FindStringSubmatch(s)
	if m == nil {
		return 0, "", "", false
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, "", "", false
	}
	return id, m[2], "", true
}

func markedRepeat(s string) bool { return strings.Contains(strings.ToLower(s), "possible repeat") }

// titleEvent reads the event from a title (render.Title) as sent in Slack's
// text field, for thread replies, which carry no footer.
func titleEvent(title string) string {
	switch {
	case strings.HasPrefix(title, "[RESOLVED"):
		return "resolve"
	case strings.HasPrefix(title, "[UPDATE"):
		return "update"
	case strings.HasPrefix(title, "[STILL"):
		return "reminder"
	case strings.HasPrefix(title, "[NOTICE"):
		return "notice"
	}
	return "open"
}

// chaosSlack is the part of Slack's Web API the bot receiver uses:
// chat.postMessage (new messages and thread replies) and chat.update.
type chaosSlack struct {
	l *chaosLedger

	mu     sync.Mutex
	nextTS int
	owner  map[string]int64 // ts -> incident of the message posted with it
}

func (f *chaosSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.l.problem("slack: unreadable request to %s: %v", r.URL.Path, err)
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	text := r.Form.Get("text")
	blocks := blockText(r.Form.Get("blocks"))
	d := chaosDelivery{receiver: chaosSlackName, repeat: markedRepeat(text + "\n" + blocks)}
	switch {
	case method == "chat.postMessage" && r.Form.Get("thread_ts") == "":
		id, ev, key, ok := parseFooter(r.Form.Get("metadata"))
		if !ok {
			f.l.problem("slack: chat.postMessage without a footer: text %q", text)
			break
		}
		d.call, d.incident, d.event, d.key, d.late = "post", id, ev, key, strings.HasPrefix(text, "[LATE]")
	case method == "chat.postMessage" && strings.Contains(r.Form.Get("metadata"), `"part":"detail"`):
		// The details after a new message: best effort, never retried, so
		// not one of the deliveries the ledger counts.
		writeSlack(w, http.StatusOK, map[string]any{"ok": true, "channel": "CCHAOS", "ts": r.Form.Get("thread_ts") + "1"})
		return
	case method == "chat.postMessage":
		thread := r.Form.Get("thread_ts")
		f.mu.Lock()
		id, ok := f.owner[thread]
		f.mu.Unlock()
		if !ok {
			f.l.problem("slack: reply in thread %s that no post created: text %q", thread, text)
			break
		}
		d.call, d.incident, d.event, d.ts = "reply", id, titleEvent(text), thread
	case method == "chat.update":
		ts := r.Form.Get("ts")
		id, ev, key, ok := parseFooter(r.Form.Get("metadata"))
		if !ok {
			f.l.problem("slack: chat.update of %s without a footer: text %q", ts, text)
			break
		}
		d.call, d.incident, d.event, d.key, d.ts = "update", id, ev, key, ts
	default:
		f.l.problem("slack: unexpected call %s", method)
	}
	if d.call == "" {
		writeSlack(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_arguments"})
		return
	}

	d.id = fmt.Sprintf("%s #%d %s", chaosSlackName, d.incident, d.event)
	mode, attempt, gen := f.l.mode(&d)
	d.attempt, d.gen = attempt, gen
	deliver := func() string {
		ts := d.ts
		if d.call == "post" {
			f.mu.Lock()
			f.nextTS++
			ts = fmt.Sprintf("1700000000.%06d", f.nextTS)
			if f.owner == nil {
				f.owner = map[string]int64{}
			}
			f.owner[ts] = d.incident
			f.mu.Unlock()
			d.ts = ts
		}
		f.l.deliver(d)
		return ts
	}
	switch mode {
	case chaos429:
		w.Header().Set("Retry-After", "1")
		writeSlack(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
	case chaos500:
		writeSlack(w, http.StatusInternalServerError, map[string]any{"ok": false, "error": "internal_error"})
	case chaosHang:
		f.l.stalling("slack " + mode)
		f.l.hold(r.Context().Done(), 10*chaosReceiverWait)
	case chaosOKHang:
		deliver()
		f.l.stalling("slack " + mode)
		f.l.hold(r.Context().Done(), 10*chaosReceiverWait)
	default:
		ts := deliver()
		writeSlack(w, http.StatusOK, map[string]any{"ok": true, "channel": "CCHAOS", "ts": ts})
	}
}

func writeSlack(w http.ResponseWriter, status int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// blockText is every text in a Block Kit JSON array, one per line.
func blockText(raw string) string {
	if raw == "" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return raw
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "text" {
					out = append(out, s)
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}

// chaosSMTP is a go-smtp backend that reads each mail whole, then decides
// by the mail's plan whether to take it, refuse it (451), or take it and
// then fail to say so.
type chaosSMTP struct{ l *chaosLedger }

func (b *chaosSMTP) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &chaosSession{b: b, c: c}, nil
}

type chaosSession struct {
	b *chaosSMTP
	c *smtp.Conn
}

func (s *chaosSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *chaosSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *chaosSession) Reset()                               {}
func (s *chaosSession) Logout() error                        { return nil }

func (s *chaosSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	l := s.b.l
	subject, body, err := readMail(raw)
	if err != nil {
		l.problem("smtp: unreadable mail: %v", err)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unreadable"}
	}
	id, ev, key, ok := parseFooter(body)
	if !ok {
		l.problem("smtp: mail without a footer: subject %q", subject)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "no footer"}
	}
	d := chaosDelivery{receiver: chaosMailName, call: "mail", id: fmt.Sprintf("%s #%d %s", chaosMailName, id, ev),
		key: key, incident: id, event: ev, repeat: markedRepeat(subject), late: strings.HasPrefix(subject, "[LATE]")}
	mode, attempt, gen := l.mode(&d)
	d.attempt, d.gen = attempt, gen
	switch mode {
	case chaos451:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	case chaosDrop:
		l.deliver(d)
		// Close the socket itself, so the 250 the server would write next
		// never leaves.
		_ = s.c.Conn().Close()
		return nil
	case chaosStall:
		l.deliver(d)
		l.stalling("smtp " + mode)
		l.hold(nil, 10*chaosReceiverWait)
		_ = s.c.Conn().Close()
		return nil
	}
	l.deliver(d)
	return nil
}

// readMail returns a mail's decoded subject and text/plain body.
func readMail(raw []byte) (subject, text string, err error) {
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return "", "", err
	}
	dec := new(mime.WordDecoder)
	subject, err = dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		return "", "", fmt.Errorf("subject: %w", err)
	}
	text, err = textPart(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
	return subject, text, err
}

func textPart(ctype, cte string, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return "", errors.New("no text/plain part")
			}
			if err != nil {
				return "", err
			}
			s, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err == nil && s != "" {
				return s, nil
			}
		}
	}
	if mt != "text/plain" {
		return "", nil
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		return "", errors.New("base64 text part: not expected from go-mail")
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// chaosPKI writes a CA to caFile and returns a server TLS config for
// 127.0.0.1 signed by it: the email receiver speaks STARTTLS, as in
// production, and trusts the server through ca_file.
func chaosPKI(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	ca := testkit.NewCA(t, "vantage chaos CA")
	ca.WriteFile(t, caFile)
	return ca.ServerTLS(t, "127.0.0.1")
}

func startChaosSMTP(t *testing.T, l *chaosLedger, tlsConf *tls.Config) string {
	t.Helper()
	srv := smtp.NewServer(&chaosSMTP{l: l})
	srv.Domain = "localhost"
	srv.TLSConfig = tlsConf
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("chaos: cannot start the fake SMTP server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// chaosTarget answers 200 or 500 as the test says. 500 (server_error) has
// no shared cause, so no open waits for a group: grouping is not what this
// test is about.
type chaosTarget struct {
	srv  *httptest.Server
	down atomic.Bool
}

func newChaosTarget(t *testing.T) *chaosTarget {
	t.Helper()
	ct := &chaosTarget{}
	ct.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if ct.down.Load() {
			http.Error(w, "chaos: down", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(ct.srv.Close)
	return ct
}

// chaosProc is one `vantage run`.
type chaosProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startChaosProc(t *testing.T, bin, file string, logs io.Writer) *chaosProc {
	t.Helper()
	p := &chaosProc{cmd: exec.Command(bin, "run", "-config", file), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logs, logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("chaos: cannot start vantage run: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *chaosProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill9 kills p and checks that it was still running: a daemon that died
// by itself is a failure, not a kill.
func (p *chaosProc) kill9(t *testing.T, logs *testkit.Buffer) {
	t.Helper()
	if p.exited() {
		t.Fatalf("chaos: vantage run exited by itself (%v) before the kill; log:\n%s", p.err, tail(logs.String(), 8000))
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("chaos: kill -9: %v", err)
	}
	<-p.done
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		t.Fatalf("chaos: vantage run after kill -9: %v", p.err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("chaos: vantage run ended with %v before the kill landed; log:\n%s", p.err, tail(logs.String(), 8000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func getJSON(url string, v any) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestChaosKill9UnderReceiverFaults runs the daemon through chaosKills
// kill -9s at random moments while two monitors flap and both receivers
// fail in every mode, then lets it settle and compares the incidents in
// the store with what the receivers got. The seed is logged; set
// VANTAGE_CHAOS_SEED to replay a run's choices (the timing still varies).
func TestChaosKill9UnderReceiverFaults(t *testing.T) {
	started := time.Now()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VANTAGE_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("VANTAGE_CHAOS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("chaos seed %d (VANTAGE_CHAOS_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	bin := vantageBinary(t)
	built := time.Now()
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	var gen atomic.Int32
	ledger := newChaosLedger(&gen)

	slack := httptest.NewServer(&chaosSlack{l: ledger})
	t.Cleanup(slack.Close)
	smtpAddr := startChaosSMTP(t, ledger, chaosPKI(t, filepath.Join(dir, "smtp-ca.pem")))
	targets := map[string]*chaosTarget{"chaos-a": newChaosTarget(t), "chaos-b": newChaosTarget(t)}
	names := []string{"chaos-a", "chaos-b"}
	// Registered after the servers, so it runs before they close: a held
	// request would otherwise keep httptest's Close waiting.
	t.Cleanup(func() { close(ledger.release) })

	if err := os.WriteFile(filepath.Join(dir, "slack-token"), []byte("xoxb-chaos\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "state_dir = %q\nlisten = %q\nlog_level = \"info\"\n", stateDir, addr)
	// group_wait 0: opens go out at once; max_attempts 100: the faults are
	// bounded per message, and a give-up would be a loss of the test's own
	// making.
	cfg.WriteString("\n[notify]\ngroup_wait = \"0\"\nmax_attempts = 100\n")
	for _, n := range names {
		// Flap detection off: each down phase is an incident of its own,
		// with an open and a resolve to deliver.
		fmt.Fprintf(&cfg, `
[[monitor]]
name = %q
url = %q
schedule = "@every 1s"
timeout = "500ms"
confirm = 1
recover = 1
retry_delay = "0"
flap_threshold = 0
`, n, targets[n].srv.URL+"/"+n)
	}
	fmt.Fprintf(&cfg, `
[[receiver]]
name = %q
type = "slack"
channel = "CCHAOS"
token_file = "slack-token"
api_url = %q
timeout = %q

[[receiver]]
name = %q
type = "email"
smtp = %q
from = "vantage@chaos.test"
to = ["oncall@chaos.test"]
tls = "starttls"
ca_file = "smtp-ca.pem"
timeout = %q
`, chaosSlackName, slack.URL+"/api/", chaosReceiverWait.String(), chaosMailName, smtpAddr, chaosReceiverWait.String())
	file := filepath.Join(dir, "vantage.toml")
	if err := os.WriteFile(file, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "validate", "-config", file); code != exitOK {
		t.Fatalf("chaos: the test's config does not validate (exit %d):\n%s%s", code, out, errOut)
	}

	// The targets flap on their own clock, independent of the kills.
	flapCtx, stopFlapping := context.WithCancel(context.Background())
	var flappers sync.WaitGroup
	for i, n := range names {
		frng := rand.New(rand.NewPCG(seed, uint64(10+i)))
		tg := targets[n]
		flappers.Go(func() {
			for {
				// Down long enough for the open to go out before the
				// resolve is planned, even behind a hang or a 429.
				phases := []struct {
					down bool
					d    time.Duration
				}{{true, time.Duration(2500 + frng.IntN(2000))}, {false, time.Duration(2000 + frng.IntN(2000))}}
				for _, ph := range phases {
					tg.down.Store(ph.down)
					select {
					case <-flapCtx.Done():
						return
					case <-time.After(ph.d * time.Millisecond):
					}
				}
			}
		})
	}
	defer stopFlapping()

	logs := &testkit.Buffer{}
	kills, inflightKills := 0, 0
	for kills < chaosKills {
		gen.Add(1)
		fmt.Fprintf(logs, "\n===== chaos: daemon %d =====\n", gen.Load())
		p := startChaosProc(t, bin, file, logs)
		// Half of the kills land at a random moment, half while a fake
		// holds a request open (a send in flight, maybe delivered).
		if rng.IntN(2) == 0 {
			time.Sleep(time.Duration(500+rng.IntN(3000)) * time.Millisecond)
		} else {
			// Drain a stale notice from the previous daemon.
			select {
			case <-ledger.inflight:
			default:
			}
			select {
			case what := <-ledger.inflight:
				time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
				inflightKills++
				fmt.Fprintf(logs, "===== chaos: kill during %s =====\n", what)
			case <-time.After(3 * time.Second):
			}
		}
		p.kill9(t, logs)
		kills++
	}
	killPhase := time.Since(built)

	// Calm: one last daemon, no more kills. The targets stop flapping and
	// everything resolves; then both fail once more and recover while the
	// fakes play the sequences, and the daemon runs until the
	// outbox is empty.
	stopFlapping()
	flappers.Wait()
	for _, tg := range targets {
		tg.down.Store(false)
	}
	gen.Add(1)
	fmt.Fprintf(logs, "\n===== chaos: final daemon %d =====\n", gen.Load())
	final := startChaosProc(t, bin, file, logs)
	state := func(what string, limit time.Duration, done func(ms []web.MonitorView, ns []web.NotificationView) bool) {
		t.Helper()
		deadline := time.Now().Add(limit)
		var last string
		for {
			if final.exited() {
				t.Fatalf("chaos: the final vantage run exited (%v) while waiting for %s; log:\n%s", final.err, what, tail(logs.String(), 8000))
			}
			var ms struct {
				Monitors []web.MonitorView `json:"monitors"`
			}
			var ns struct {
				Notifications []web.NotificationView `json:"notifications"`
			}
			err := getJSON("http://"+addr+"/api/v1/monitors", &ms)
			if err == nil {
				err = getJSON("http://"+addr+"/api/v1/notifications", &ns)
			}
			if err == nil {
				if len(ms.Monitors) == len(names) && done(ms.Monitors, ns.Notifications) {
					return
				}
				var parts []string
				for _, m := range ms.Monitors {
					parts = append(parts, fmt.Sprintf("%s %s", m.Name, m.State))
				}
				for _, n := range ns.Notifications {
					parts = append(parts, fmt.Sprintf("%s %s %s attempts=%d next=%s err=%q", n.Key, n.Event, n.State, n.Attempts,
						n.NextAttemptAt.Format(time.TimeOnly), n.LastError))
				}
				last = strings.Join(parts, "\n  ")
			} else {
				last = err.Error()
			}
			if time.Now().After(deadline) {
				t.Fatalf("chaos: no %s within %s; last state:\n  %s\nlog:\n%s", what, limit, last, tail(logs.String(), 8000))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	allUp := func(ms []web.MonitorView, _ []web.NotificationView) bool {
		for _, m := range ms {
			if m.State != incident.StateUp || m.OpenIncident != nil {
				return false
			}
		}
		return true
	}
	state("recovery after the kills", 15*time.Second, allUp)
	calmStart := time.Now()
	ledger.mu.Lock()
	ledger.handout = chaosCalmPlans
	ledger.mu.Unlock()
	for _, tg := range targets {
		tg.down.Store(true)
	}
	// Up again only once every open has been tried: a resolve planned
	// before would withdraw an open nobody saw, which is not what this
	// phase is about.
	state("incident on both monitors, its opens tried", 20*time.Second, func(ms []web.MonitorView, ns []web.NotificationView) bool {
		for _, m := range ms {
			if m.OpenIncident == nil {
				return false
			}
		}
		for _, n := range ns {
			if n.Event == "open" && n.Attempts == 0 {
				return false
			}
		}
		return true
	})
	for _, tg := range targets {
		tg.down.Store(false)
	}
	state("quiet: every incident resolved and the outbox empty", chaosQuiesceLimit,
		func(ms []web.MonitorView, ns []web.NotificationView) bool { return allUp(ms, ns) && len(ns) == 0 })
	if err := final.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-final.done:
		if final.err != nil {
			t.Fatalf("chaos: the final vantage run after SIGTERM: %v; log:\n%s", final.err, tail(logs.String(), 8000))
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("chaos: the final vantage run did not stop after SIGTERM; log:\n%s", tail(logs.String(), 8000))
	}
	t.Logf("chaos: %d kills (%d during a held request); build %s, kill phase %s, calm phase %s, %s in all",
		kills, inflightKills, built.Sub(started).Round(time.Millisecond), killPhase.Round(time.Millisecond),
		time.Since(calmStart).Round(time.Millisecond), time.Since(started).Round(time.Millisecond))

	// The store's incidents: the truth the deliveries are held against.
	st, err := store.Open(context.Background(), filepath.Join(stateDir, store.FileName), store.Options{PruneInterval: -1})
	if err != nil {
		t.Fatalf("chaos: reading the store: %v", err)
	}
	incs, err := st.RecentIncidents(context.Background(), "", 100000)
	_ = st.Close()
	if err != nil {
		t.Fatalf("chaos: reading the incidents: %v", err)
	}

	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	report := chaosCheck(incs, ledger)
	for _, line := range report.info {
		t.Log(line)
	}
	for _, line := range report.failures {
		t.Error(line)
	}
	if len(report.failures) > 0 {
		t.Logf("log of the last daemons:\n%s", tail(logs.String(), 6000))
	}
}

type chaosReport struct {
	info, failures []string
}

// chaosCheck compares the incidents with the deliveries. Called with l.mu
// held.
func chaosCheck(incs []incident.Incident, l *chaosLedger) chaosReport {
	var r chaosReport
	fail := func(format string, args ...any) { r.failures = append(r.failures, fmt.Sprintf(format, args...)) }
	info := func(format string, args ...any) { r.info = append(r.info, fmt.Sprintf(format, args...)) }

	for _, p := range l.problems {
		fail("fake receiver: %s", p)
	}
	byID := map[int64]incident.Incident{}
	perMonitor := map[string]int{}
	for _, in := range incs {
		byID[in.ID] = in
		perMonitor[in.Monitor]++
		if in.Open() {
			fail("incident #%d of %s is still open after the targets recovered", in.ID, in.Monitor)
		}
	}
	info("chaos: %d incidents in the store (%v), %d deliveries", len(incs), perMonitor, len(l.deliveries))
	if len(incs) == 0 {
		fail("no incident was opened: the run tested nothing")
	}

	// Every mode must have been exercised, or the run was too short to
	// mean anything.
	for rx, modes := range map[string][]string{
		chaosSlackName: {chaosOK, chaos429, chaos500, chaosHang, chaosOKHang},
		chaosMailName:  {chaosOK, chaos451, chaosDrop, chaosStall},
	} {
		var used []string
		for _, m := range modes {
			if l.modesUsed[rx][m] == 0 {
				fail("%s: mode %s was never exercised", rx, m)
			}
			used = append(used, fmt.Sprintf("%s=%d", m, l.modesUsed[rx][m]))
		}
		info("chaos: %s requests by mode: %s", rx, strings.Join(used, " "))
	}

	type slot struct {
		receiver, call string
		incident       int64
		event          string
	}
	groups := map[slot][]chaosDelivery{}
	for _, d := range l.deliveries {
		in, ok := byID[d.incident]
		switch {
		case !ok:
			fail("%s got a %s %s for incident #%d, which is not in the store", d.receiver, d.call, d.event, d.incident)
			continue
		case d.event != "open" && d.event != "resolve":
			fail("%s got a %s %s for incident #%d: only opens and resolves were expected", d.receiver, d.call, d.event, d.incident)
			continue
		case d.event == "resolve" && in.Open():
			fail("%s got a resolve for incident #%d, which is open", d.receiver, d.incident)
		case d.late && (d.event != "resolve" || d.call != "post" && d.call != "mail"):
			fail("%s got a late %s carrying %s for incident #%d", d.receiver, d.call, d.event, d.incident)
		case d.call == "post" && d.event != "open" && !d.late, d.call != "post" && d.call != "mail" && d.event != "resolve":
			fail("%s got a %s carrying %s for incident #%d", d.receiver, d.call, d.event, d.incident)
		}
		s := slot{d.receiver, d.call, d.incident, d.event}
		groups[s] = append(groups[s], d)
	}

	// Slack: which messages each incident owns, to check updates land on
	// one of them and to spot the ones left red.
	posted := map[int64][]string{}
	updated := map[string]bool{}
	for _, d := range l.deliveries {
		switch d.call {
		case "post":
			posted[d.incident] = append(posted[d.incident], d.ts)
		case "update":
			updated[d.ts] = true
		}
	}
	for _, d := range l.deliveries {
		if d.call == "update" && !slices.Contains(posted[d.incident], d.ts) {
			fail("chat.update of %s for incident #%d: that message is not one of the incident's (%v)", d.ts, d.incident, posted[d.incident])
		}
	}

	ids := make([]int64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	want := []slot{
		{chaosSlackName, "post", 0, "open"},
		{chaosSlackName, "update", 0, "resolve"},
		{chaosSlackName, "reply", 0, "resolve"},
		{chaosMailName, "mail", 0, "open"},
		{chaosMailName, "mail", 0, "resolve"},
	}
	// A late resolve (the open was overdue behind the receiver's backlog
	// when the incident ended) is the one message that receiver gets for
	// the incident: it stands for the open and the resolve.
	late := map[string]bool{}
	for _, d := range l.deliveries {
		if d.late {
			late[fmt.Sprintf("%s #%d", d.receiver, d.incident)] = true
		}
	}
	findings := map[string]int{}
	for _, id := range ids {
		in := byID[id]
		for _, w := range want {
			w.incident = id
			if w.event == "resolve" && in.Open() {
				continue
			}
			if late[fmt.Sprintf("%s #%d", w.receiver, id)] {
				continue
			}
			if len(groups[w]) == 0 {
				why := "requests: " + chaosStory(l.attempts[fmt.Sprintf("%s #%d %s", w.receiver, id, w.event)])
				if len(l.attempts[fmt.Sprintf("%s #%d open", w.receiver, id)]) == 0 {
					// Withdrawn unseen when it resolved, or never sent.
					why = "the receiver never saw a request for the incident's open"
				}
				fail("LOST: %s never got the %s of incident #%d (%s, %s – %s) as a %s; %s",
					w.receiver, w.event, id, in.Monitor, in.OpenedAt.Format("15:04:05.000"), in.ResolvedAt.Format("15:04:05.000"), w.call, why)
			}
		}
		if ts := posted[id]; len(ts) > 1 && !in.Open() {
			var red []string
			for _, t := range ts {
				if !updated[t] {
					red = append(red, t)
				}
			}
			if len(red) > 0 {
				info("chaos: incident #%d has %d Slack messages; %v never turned resolved (the daemon never learned their ts)", id, len(ts), red)
			}
		}
	}

	// Doubles: every copy after the first must say "possible repeat".
	// chat.update rewrites one message in place: doing it twice shows
	// nothing twice, so it is not counted.
	slots := make([]slot, 0, len(groups))
	for s := range groups {
		slots = append(slots, s)
	}
	sort.Slice(slots, func(i, j int) bool {
		a, b := slots[i], slots[j]
		if a.incident != b.incident {
			return a.incident < b.incident
		}
		return a.receiver+a.call+a.event < b.receiver+b.call+b.event
	})
	marked := 0
	for _, s := range slots {
		ds := groups[s]
		if s.call == "update" || len(ds) < 2 {
			continue
		}
		for i, d := range ds[1:] {
			if d.repeat {
				marked++
				info("chaos: marked copy %d of the %s of incident #%d at %s (%s); requests: %s",
					i+2, s.event, s.incident, s.receiver, s.call, chaosStory(l.attempts[d.id]))
				continue
			}
			story := chaosStory(l.attempts[d.id])
			findings[s.receiver+" "+s.call+": "+chaosModes(l.attempts[d.id])]++
			fail("UNMARKED DOUBLE: %s got copy %d of the %s of incident #%d (%s) without \"possible repeat\"; attempts: %s",
				s.receiver, i+2, s.event, s.incident, s.call, story)
		}
	}
	info("chaos: %d second copies were marked \"possible repeat\"", marked)
	if len(findings) > 0 {
		keys := make([]string, 0, len(findings))
		for k := range findings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			info("chaos: unmarked doubles after %s: %d", k, findings[k])
		}
	}
	return r
}

// chaosModes is the sequence of modes of a message's attempts, with
// "kill" where a daemon died between two of them.
func chaosModes(as []chaosAttempt) string {
	var parts []string
	for i, a := range as {
		if i > 0 && a.gen != as[i-1].gen {
			parts = append(parts, "kill")
		}
		parts = append(parts, a.call+" "+a.mode)
	}
	return strings.Join(parts, ",")
}

// chaosStory tells a notification's requests, e.g. "[d1 post ok-hang*] ->
// [d1 post 500] -> [d2 post ok*]": daemon number, call, mode, and * where
// it was delivered.
func chaosStory(as []chaosAttempt) string {
	parts := make([]string, len(as))
	for i, a := range as {
		mark := ""
		if a.delivered {
			mark = "*"
		}
		parts[i] = fmt.Sprintf("[d%d %s %s%s]", a.gen, a.call, a.mode, mark)
	}
	return strings.Join(parts, " -> ")
}

// TestChaosCheck pins the rules the chaos test judges by, on made-up
// ledgers: what counts as lost, as an unmarked double, and as unexpected.
func TestChaosCheck(t *testing.T) {
	at := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	resolved := incident.Incident{ID: 1, Monitor: "chaos-a", Kind: incident.KindTarget, OpenedAt: result.TimeOf(at), ResolvedAt: result.TimeOf(at.Add(time.Minute))}
	d := func(rx, call, event string, repeat bool, ts string) chaosDelivery {
		return chaosDelivery{receiver: rx, call: call, incident: 1, event: event, repeat: repeat, ts: ts,
			id: fmt.Sprintf("%s #1 %s", rx, event)}
	}
	complete := []chaosDelivery{
		d(chaosSlackName, "post", "open", false, "1.1"),
		d(chaosSlackName, "update", "resolve", false, "1.1"),
		d(chaosSlackName, "reply", "resolve", false, "1.1"),
		d(chaosMailName, "mail", "open", false, ""),
		d(chaosMailName, "mail", "resolve", false, ""),
	}
	allModes := map[string]map[string]int{
		chaosSlackName: {chaosOK: 1, chaos429: 1, chaos500: 1, chaosHang: 1, chaosOKHang: 1},
		chaosMailName:  {chaosOK: 1, chaos451: 1, chaosDrop: 1, chaosStall: 1},
	}
	with := func(extra ...chaosDelivery) []chaosDelivery { return append(slices.Clone(complete), extra...) }
	without := func(i int) []chaosDelivery { return slices.Delete(slices.Clone(complete), i, i+1) }

	for _, tc := range []struct {
		name  string
		incs  []incident.Incident
		ds    []chaosDelivery
		modes map[string]map[string]int
		want  string // "" means no failure
	}{
		{"every event once", []incident.Incident{resolved}, complete, allModes, ""},
		{"a marked second mail", []incident.Incident{resolved}, with(d(chaosMailName, "mail", "open", true, "")), allModes, ""},
		{"an unmarked second mail", []incident.Incident{resolved}, with(d(chaosMailName, "mail", "open", false, "")), allModes, "UNMARKED DOUBLE: chaos-mail got copy 2 of the open of incident #1"},
		{"an unmarked second post", []incident.Incident{resolved}, with(d(chaosSlackName, "post", "open", false, "1.2")), allModes, "UNMARKED DOUBLE: chaos-slack got copy 2 of the open"},
		{"an unmarked second reply", []incident.Incident{resolved}, with(d(chaosSlackName, "reply", "resolve", false, "1.1")), allModes, "UNMARKED DOUBLE: chaos-slack got copy 2 of the resolve"},
		{"chat.update twice rewrites one message", []incident.Incident{resolved}, with(d(chaosSlackName, "update", "resolve", false, "1.1")), allModes, ""},
		{"no resolve mail", []incident.Incident{resolved}, without(4), allModes, "LOST: chaos-mail never got the resolve of incident #1"},
		{"no thread reply", []incident.Incident{resolved}, without(2), allModes, "LOST: chaos-slack never got the resolve of incident #1"},
		{"no open post", []incident.Incident{resolved}, without(0), allModes, "LOST: chaos-slack never got the open"},
		{"an update of another message", []incident.Incident{resolved}, with(d(chaosSlackName, "update", "resolve", false, "9.9")), allModes, "that message is not one of the incident's"},
		{"an update event", []incident.Incident{resolved}, with(d(chaosSlackName, "reply", "update", false, "1.1")), allModes, "only opens and resolves were expected"},
		{"a late resolve stands for the open and the resolve", []incident.Incident{resolved}, append(slices.Clone(complete[3:]),
			chaosDelivery{receiver: chaosSlackName, call: "post", incident: 1, event: "resolve", late: true, ts: "1.1", id: "chaos-slack #1 resolve"}), allModes, ""},
		{"a late open", []incident.Incident{resolved}, with(chaosDelivery{receiver: chaosMailName, call: "mail", incident: 1, event: "open", late: true}), allModes, "got a late mail carrying open"},
		{"an unknown incident", []incident.Incident{resolved}, with(chaosDelivery{receiver: chaosMailName, call: "mail", incident: 7, event: "open"}), allModes, "incident #7, which is not in the store"},
		{"an incident left open", []incident.Incident{resolved, {ID: 2, Monitor: "chaos-b", OpenedAt: result.TimeOf(at)}}, complete, allModes, "incident #2 of chaos-b is still open"},
		{"no incidents", nil, nil, allModes, "no incident was opened"},
		{"a mode never used", []incident.Incident{resolved}, complete, map[string]map[string]int{chaosSlackName: allModes[chaosSlackName]}, "chaos-mail: mode drop-after-DATA was never exercised"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newChaosLedger(&atomic.Int32{})
			l.deliveries, l.modesUsed = tc.ds, tc.modes
			r := chaosCheck(tc.incs, l)
			got := strings.Join(r.failures, "\n")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("failures, want none:\n%s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("failures do not say %q:\n%s", tc.want, got)
			}
		})
	}
}

// TestChaosReadsTheRenderedFooter checks that the fakes find the incident,
// event and key in what the renderer really writes, in Slack blocks and in
// a mail's quoted-printable text part.
func TestChaosReadsTheRenderedFooter(t *testing.T) {
	md, err := json.Marshal(render.SlackMetadata(&notify.Message{IncidentID: 12, Event: incident.NotifyResolve,
		Key: "target:chaos-a@2026-12-02T08:00:00Z/resolved|chaos-slack"}, render.SlackPartParent))
	if err != nil {
		t.Fatal(err)
	}
	id, ev, key, ok := parseFooter(string(md))
	if !ok || id != 12 || ev != "resolve" || key != "target:chaos-a@2026-12-02T08:00:00Z/resolved|chaos-slack" {
		t.Errorf("parseFooter(metadata) = %d %q %q %v", id, ev, key, ok)
	}
	if id, ev, key, ok := parseFooter("vantage · incident #12 · event resolve · at 2026-12-02 08:00:00 UTC"); !ok || id != 12 || ev != "resolve" || key != "" {
		t.Errorf("parseFooter(footer) = %d %q %q %v", id, ev, key, ok)
	}
	if _, _, _, ok := parseFooter("vantage · event open"); ok {
		t.Error("a footer without an incident was read")
	}
	raw := "Subject: =?UTF-8?q?[RESOLVED]_chaos-a_(possible_repeat)?=\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"vantage =C2=B7 incident #3 =C2=B7 event open =C2=B7 at 2026-12-02 08:00:00 UTC\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n"
	subject, text, err := readMail([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !markedRepeat(subject) {
		t.Errorf("subject %q not read as a possible repeat", subject)
	}
	if id, ev, key, ok := parseFooter(text); !ok || id != 3 || ev != "open" || key != "" {
		t.Errorf("footer of the mail: %d %q %q %v in %q", id, ev, key, ok, text)
	}
	if got := blockText(`[{"type":"context","elements":[{"type":"mrkdwn","text":"vantage · incident #4"}]}]`); got != "vantage · incident #4" {
		t.Errorf("blockText = %q", got)
	}
}
