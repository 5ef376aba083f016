package daemon

// The control API: the daemon's state-changing endpoints (silences, ack,
// re-check), served on a Unix socket whose mode (0660) and group are the
// access control, and, with [api] token_file, on the HTTP listener under
// /api/v1/control/ behind that bearer token. docs/control.md is its
// contract. It only decodes, checks and answers: what an action does, and
// its record of who did it, are daemon/actions.go's.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
)

// controlActions is what the control API acts through; *Daemon is the real
// one (daemon/actions.go), and the tests pass a recording fake to prove
// that a refused request reaches none of them.
type controlActions interface {
	AddSilence(ctx context.Context, s silence.Silence, by string) (silence.Silence, error)
	Silences(ctx context.Context, all bool) ([]silence.Silence, error)
	ExpireSilence(ctx context.Context, id int64, by string) (silence.Silence, error)
	Ack(ctx context.Context, id int64, by, comment string) (incident.Incident, error)
	Recheck(ctx context.Context, monitor, by string) (result.Outcome, error)
}

var _ controlActions = (*Daemon)(nil)

const (
	// maxControlBody bounds a request's body: a silence with many matchers
	// is a few hundred bytes.
	maxControlBody = 64 << 10
	// maxComment bounds a silence's or an ack's comment, which alerts and
	// the incident's history show.
	maxComment = 1024
	// maxSilenceFor bounds a silence's length: a longer one is a config
	// change, for a [[maintenance]] window.
	maxSilenceFor = 366 * 24 * time.Hour
	// maxUserHeader bounds X-Vantage-User, which becomes part of "by".
	maxUserHeader = 64
	// controlPrefix is where the API lives on the socket; on the HTTP
	// listener it is httpControlPrefix, beside the read-only /api/v1.
	controlPrefix     = "/api/v1"
	httpControlPrefix = "/api/v1/control"
	// maxSocketPath is what a Unix socket address holds on Linux.
	maxSocketPath = 107
)

// control serves the control API over act.
type control struct {
	act    controlActions
	log    *slog.Logger
	now    func() time.Time
	redact func(string) string
}

// byKey carries who is asking, as the listener established it.
type byKey struct{}

func withBy(ctx context.Context, by string) context.Context {
	return context.WithValue(ctx, byKey{}, by)
}

func byOf(ctx context.Context) string {
	if by, ok := ctx.Value(byKey{}).(string); ok && by != "" {
		return by
	}
	return "unknown"
}

// handler routes the API's paths under prefix. Patterns carry no method,
// so that a wrong one gets the API's JSON 405, not ServeMux's text.
func (c *control) handler(prefix string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(prefix+"/silences", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			c.listSilences(w, r)
		case http.MethodPost:
			c.addSilence(w, r)
		default:
			methodNotAllowed(w, r, "GET, HEAD, POST")
		}
	})
	mux.HandleFunc(prefix+"/silences/{id}/expire", post(c.expireSilence))
	mux.HandleFunc(prefix+"/incidents/{id}/ack", post(c.ack))
	// {rest...}: monitor names are free text and may hold a slash.
	mux.HandleFunc(prefix+"/monitors/{rest...}", post(c.recheck))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		controlError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+" (see docs/control.md)")
	})
	return mux
}

func post(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, "POST")
			return
		}
		h(w, r)
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allow string) {
	w.Header().Set("Allow", allow)
	controlError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+allow)
}

// SilenceRequest is the body of POST /api/v1/silences: the matchers, and
// how long (For, a Go duration) or until when (End); Start defaults to now.
// UntilResolved, with Matchers.Incident, lasts until that incident
// resolves. Its JSON is a public interface (docs/control.md).
type SilenceRequest struct {
	Matchers      silence.Matchers `json:"matchers"`
	For           string           `json:"for,omitempty"`
	Start         *time.Time       `json:"start,omitempty"`
	End           *time.Time       `json:"end,omitempty"`
	UntilResolved bool             `json:"until_resolved,omitempty"`
	Comment       string           `json:"comment,omitempty"`
}

// AckRequest is the body of POST /api/v1/incidents/{id}/ack; it may be
// empty.
type AckRequest struct {
	Comment string `json:"comment,omitempty"`
}

// SilenceList is the answer of GET /api/v1/silences.
type SilenceList struct {
	Silences []silence.Silence `json:"silences"`
}

func (c *control) addSilence(w http.ResponseWriter, r *http.Request) {
	var req SilenceRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	s, err := req.silence(c.now())
	if err != nil {
		controlError(w, http.StatusBadRequest, err.Error())
		return
	}
	by := byOf(r.Context())
	got, err := c.act.AddSilence(r.Context(), s, by)
	if err != nil {
		c.actionError(w, "adding the silence", err)
		return
	}
	c.reply(w, http.StatusCreated, got)
}

// silence checks the request's shape and makes the silence it asks for;
// what the daemon holds against it (an unknown incident) is AddSilence's.
func (req *SilenceRequest) silence(now time.Time) (silence.Silence, error) {
	m := req.Matchers
	if len(m.Monitors)+len(m.Tags)+len(m.Classes)+len(m.Vantages)+len(m.Scopes) == 0 && m.Incident == 0 {
		return silence.Silence{}, errors.New("matchers: none given; a silence must name a monitor, tag, class, vantage, scope or incident (it would mute everything)")
	}
	for _, l := range []struct {
		key  string
		vals []string
	}{{"monitors", m.Monitors}, {"tags", m.Tags}, {"vantages", m.Vantages}} {
		for _, v := range l.vals {
			if strings.TrimSpace(v) == "" {
				return silence.Silence{}, fmt.Errorf("matchers: %s: an empty value", l.key)
			}
		}
	}
	for _, cl := range m.Classes {
		if !cl.Valid() {
			return silence.Silence{}, fmt.Errorf("matchers: classes: %q is not a class (%s)", cl, classList())
		}
	}
	for _, sc := range m.Scopes {
		switch sc {
		case result.ScopeEveryone, result.ScopePartial, result.ScopeJustMe, result.ScopeUnknown:
		default:
			return silence.Silence{}, fmt.Errorf("matchers: scopes: %q is not a scope (everyone, partial, just_me, unknown)", sc)
		}
	}
	if m.Incident < 0 {
		return silence.Silence{}, fmt.Errorf("matchers: incident: %d is not an incident ID", m.Incident)
	}
	if len(req.Comment) > maxComment {
		return silence.Silence{}, fmt.Errorf("comment: %d bytes, at most %d", len(req.Comment), maxComment)
	}
	start := now
	if req.Start != nil {
		start = *req.Start
	}
	s := silence.Silence{Matchers: m, Start: start, Comment: req.Comment}
	switch {
	case req.UntilResolved:
		if req.For != "" || req.End != nil {
			return silence.Silence{}, errors.New("until_resolved: give it alone, without for or end")
		}
		if m.Incident == 0 {
			return silence.Silence{}, errors.New("until_resolved: needs matchers.incident, the incident whose resolve ends it")
		}
		s.UntilResolved = true
		return s, nil
	case req.For != "" && req.End != nil:
		return silence.Silence{}, errors.New("for and end: give one of them")
	case req.For != "":
		d, err := time.ParseDuration(req.For)
		if err != nil {
			return silence.Silence{}, fmt.Errorf("for: %q is not a duration (e.g. 30m, 2h)", req.For)
		}
		if d <= 0 {
			return silence.Silence{}, fmt.Errorf("for: %s is not positive", req.For)
		}
		if d > maxSilenceFor {
			return silence.Silence{}, fmt.Errorf("for: %s is longer than %s; use a [[maintenance]] window", req.For, "366 days")
		}
		s.End = start.Add(d)
	case req.End != nil:
		s.End = *req.End
	default:
		return silence.Silence{}, errors.New("missing for (a duration, e.g. 2h) or end (an RFC 3339 time)")
	}
	switch {
	case !s.End.After(now):
		return silence.Silence{}, fmt.Errorf("end: %s is in the past", s.End.Format(time.RFC3339))
	case !s.End.After(s.Start):
		return silence.Silence{}, fmt.Errorf("end: %s is not after the start %s", s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339))
	case s.End.Sub(s.Start) > maxSilenceFor:
		return silence.Silence{}, errors.New("end: more than 366 days after the start; use a [[maintenance]] window")
	}
	return s, nil
}

func classList() string {
	var names []string
	for _, c := range result.AllClasses() {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}

func (c *control) listSilences(w http.ResponseWriter, r *http.Request) {
	all := false
	switch v := r.URL.Query().Get("all"); v {
	case "", "0", "false":
	case "1", "true":
		all = true
	default:
		controlError(w, http.StatusBadRequest, fmt.Sprintf("all: %q is not 1 or 0", v))
		return
	}
	list, err := c.act.Silences(r.Context(), all)
	if err != nil {
		c.actionError(w, "listing silences", err)
		return
	}
	if list == nil {
		list = []silence.Silence{}
	}
	c.reply(w, http.StatusOK, SilenceList{Silences: list})
}

func (c *control) expireSilence(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "silence")
	if !ok || !emptyBody(w, r) {
		return
	}
	by := byOf(r.Context())
	s, err := c.act.ExpireSilence(r.Context(), id, by)
	if err != nil {
		c.actionError(w, fmt.Sprintf("expiring silence %d", id), err)
		return
	}
	c.reply(w, http.StatusOK, s)
}

func (c *control) ack(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "incident")
	if !ok {
		return
	}
	var req AckRequest
	if !decodeBody(w, r, &req, true) {
		return
	}
	if len(req.Comment) > maxComment {
		controlError(w, http.StatusBadRequest, fmt.Sprintf("comment: %d bytes, at most %d", len(req.Comment), maxComment))
		return
	}
	by := byOf(r.Context())
	inc, err := c.act.Ack(r.Context(), id, by, req.Comment)
	if err != nil {
		c.actionError(w, fmt.Sprintf("acknowledging incident %d", id), err)
		return
	}
	c.reply(w, http.StatusOK, inc)
}

func (c *control) recheck(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("rest"), "/recheck")
	if !ok || name == "" {
		controlError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+" (POST /api/v1/monitors/NAME/recheck)")
		return
	}
	if !emptyBody(w, r) {
		return
	}
	by := byOf(r.Context())
	out, err := c.act.Recheck(r.Context(), name, by)
	if err != nil {
		c.actionError(w, fmt.Sprintf("re-checking %s", name), err)
		return
	}
	// The actions log what they change; a re-check changes only what its
	// round does, so who asked for it is said here.
	c.log.Info("monitor re-checked", "by", by, "monitor", name, "class", out.Class)
	c.reply(w, http.StatusOK, out)
}

// pathID reads the positive integer ID in the path, or answers 400.
func pathID(w http.ResponseWriter, r *http.Request, what string) (int64, bool) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		controlError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a %s ID (a positive integer)", v, what))
		return 0, false
	}
	return id, true
}

// decodeBody reads one JSON object of at most maxControlBody bytes into v,
// refusing unknown fields and trailing data, or answers 400 or 413. An
// empty body is allowed when optional.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			controlError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", maxControlBody))
			return false
		}
		controlError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return true
		}
		controlError(w, http.StatusBadRequest, "empty request body; send a JSON object (see docs/control.md)")
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		controlError(w, http.StatusBadRequest, "request body: "+strings.TrimPrefix(err.Error(), "json: "))
		return false
	}
	if dec.More() {
		controlError(w, http.StatusBadRequest, "request body: data after the JSON object")
		return false
	}
	return true
}

// emptyBody refuses a body on an endpoint that takes none, so that a
// client sending options it thinks apply learns they do not.
func emptyBody(w http.ResponseWriter, r *http.Request) bool {
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxControlBody))
	if t := strings.TrimSpace(string(b)); t != "" && t != "{}" {
		controlError(w, http.StatusBadRequest, "this endpoint takes no request body")
		return false
	}
	return true
}

// actionError answers an action's error: the unknown things are 404, what
// the action refuses as it stands 400, the rest is the daemon's fault (the
// store), 500.
func (c *control) actionError(w http.ResponseWriter, doing string, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrUnknownIncident), errors.Is(err, ErrUnknownSilence), errors.Is(err, ErrUnknownMonitor):
		code = http.StatusNotFound
	case errors.Is(err, ErrInvalidAction):
		code = http.StatusBadRequest
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = http.StatusServiceUnavailable
	}
	if code >= 500 {
		c.log.Error("control API: "+doing+" failed", "err", err)
	}
	controlError(w, code, c.redact(doing+": "+err.Error()))
}

func (c *control) reply(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.actionError(w, "encoding the answer", err)
		return
	}
	controlHeaders(w)
	w.WriteHeader(code)
	_, _ = io.WriteString(w, c.redact(string(b))+"\n")
}

func controlHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// controlError answers {"error": msg}.
func controlError(w http.ResponseWriter, code int, msg string) {
	controlHeaders(w)
	w.WriteHeader(code)
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg}) // cannot fail: a struct with one string field
	_, _ = w.Write(append(b, '\n'))
}

// tokenGate lets a request on the HTTP listener through to next only with
// "Authorization: Bearer TOKEN" where TOKEN is token() (the config's, so a
// reload's new token applies); anything else is 401 and reaches no action.
// Without a token the API is not served here at all: 401 too, saying
// where it is. "by" is "token", or "token:NAME" with X-Vantage-User.
func tokenGate(token func() config.Secret, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := token()
		if want.IsZero() {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vantage control"`)
			controlError(w, http.StatusUnauthorized, "the control API is served on the control socket only; set [api] token_file to serve it here (see docs/control.md)")
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		// Comparing digests keeps the time independent of the token's
		// length as well as of its content.
		gd, wd := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want.Reveal()))
		if !ok || subtle.ConstantTimeCompare(gd[:], wd[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vantage control", error="invalid_token"`)
			msg := "missing Authorization: Bearer TOKEN"
			if ok {
				msg = "wrong bearer token"
			}
			controlError(w, http.StatusUnauthorized, msg)
			return
		}
		by := "token"
		if u := sanitizeUser(r.Header.Get("X-Vantage-User")); u != "" {
			by = "token:" + u
		}
		next.ServeHTTP(w, r.WithContext(withBy(r.Context(), by)))
	})
}

func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// sanitizeUser keeps of X-Vantage-User what a name holds (letters, digits,
// . _ - @ +), at most maxUserHeader bytes, so that "by" cannot carry
// control characters or markup into logs and alerts.
func sanitizeUser(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxUserHeader {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("._-@+", r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// withControl serves the control API under httpControlPrefix on the HTTP
// listener, behind tokenGate, and everything else as before.
func (d *Daemon) withControl(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(httpControlPrefix+"/", tokenGate(func() config.Secret { return d.config().API.Token }, d.control().handler(httpControlPrefix)))
	mux.Handle("/", h)
	return mux
}

func (d *Daemon) control() *control {
	return &control{act: d, log: d.log.With("api", "control"), now: d.clock.Now, redact: d.opts.Redact.String}
}

// serveControl starts the control socket: the API at controlPrefix, "by"
// the peer's credentials. Its path and group are the config's at start.
func (d *Daemon) serveControl(serveErr chan<- error) error {
	api := d.config().API
	if api.Socket == "" {
		return errors.New("control socket: no path ([api] socket, or a state directory)")
	}
	gid, err := config.SocketGroupID(api.SocketGroup)
	if err != nil {
		return fmt.Errorf("control socket: [api] socket_group: %w", err)
	}
	ln, err := listenControl(api.Socket, gid)
	if err != nil {
		return err
	}
	c := d.control()
	srv := &http.Server{
		Handler:           c.handler(controlPrefix),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, conn net.Conn) context.Context {
			return withBy(ctx, peerName(conn))
		},
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("control socket: %w", err)
		}
	}()
	d.down.Push("stopping the control socket", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(ctx)
		if rerr := os.Remove(api.Socket); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("removing %s: %w", api.Socket, rerr))
		}
		return err
	})
	d.log.Info("control socket", "path", api.Socket, "group", api.SocketGroup)
	return nil
}

// listenControl binds the control socket at path with mode 0660 and group
// gid (-1: the daemon's), whatever the umask: it is bound in a private
// directory beside path, given its mode and group there, and renamed into
// place, so that nobody can connect before its permissions are set. A
// socket file left by a daemon that was killed is replaced; one that
// answers (another daemon) or a file that is not a socket is an error.
func listenControl(path string, gid int) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("control socket: creating %s: %w", dir, err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dir, ".c")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	bind := filepath.Join(tmp, "s")
	if len(bind) > maxSocketPath {
		// The private name does not fit where path does: bind in place.
		// Its mode is then the umask's (the shipped unit's is 0077) until
		// the chmod below.
		bind = path
	}
	ln, err := net.Listen("unix", bind)
	if err != nil {
		return nil, fmt.Errorf("control socket: binding %s: %w", path, err)
	}
	ul := ln.(*net.UnixListener)
	// The file is renamed, and removed by the daemon's cleanup.
	ul.SetUnlinkOnClose(false)
	fail := func(doing string, err error) (net.Listener, error) {
		_ = ul.Close()
		_ = os.Remove(bind)
		return nil, fmt.Errorf("control socket %s: %s: %w", path, doing, err)
	}
	if err := os.Chmod(bind, 0o660); err != nil {
		return fail("setting its mode", err)
	}
	if gid >= 0 {
		if err := os.Chown(bind, -1, gid); err != nil {
			return fail(fmt.Sprintf("giving it group %d (is the daemon's user a member?)", gid), err)
		}
	}
	if bind == path {
		return ln, nil
	}
	if err := os.Rename(bind, path); err != nil {
		return fail("moving it into place", err)
	}
	return ln, nil
}

// removeStaleSocket removes the socket file at path when nothing listens
// on it.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control socket: %s exists and is not a socket; remove it or set [api] socket", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		_ = conn.Close()
		return fmt.Errorf("control socket: %s: another process listens on it (another vantage with the same [api] socket?)", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("control socket: removing the stale %s: %w", path, err)
	}
	return nil
}
