package main

// vantage silence and vantage ack: clients of the running daemon's control
// socket (daemon/control.go, docs/control.md). They never open the store:
// the daemon does the work and records who asked, from the socket's peer
// credentials.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
)

// controlTimeout bounds one request to the daemon.
const controlTimeout = 30 * time.Second

// maxControlAnswer bounds what the CLI reads of an answer.
const maxControlAnswer = 8 << 20

// socketFlags are the flags every control command takes: where the socket
// is, directly or through the config.
type socketFlags struct {
	config, socket string
	json           bool
}

func (o *socketFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", config.DefaultPath(), "the daemon's TOML watchlist `file`, read for [api] socket and state_dir")
	fs.StringVar(&o.socket, "socket", "", "the daemon's control socket `path` (default: from --config, see docs/control.md)")
	fs.BoolVar(&o.json, "json", false, "print the daemon's answer as JSON, for scripts")
}

// path is the socket to dial: --socket, else what the config says.
func (o *socketFlags) path() (string, error) {
	if o.socket != "" {
		return o.socket, nil
	}
	return config.ControlSocket(o.config)
}

type silenceFlagValues struct {
	socketFlags
	monitors, tags, classes, vantages, scopes stringList
	dur                                       time.Duration
	until                                     timeValue
	comment                                   string
	all                                       bool
}

func defineSilenceFlags(fs *flag.FlagSet, o *silenceFlagValues) {
	o.define(fs)
	fs.Var(&o.monitors, "monitor", "add: silence the monitor `name` (repeatable; any of them matches)")
	fs.Var(&o.tags, "tag", "add: silence the monitors carrying the `tag` (repeatable)")
	fs.Var(&o.classes, "class", "add: silence incidents of the `class`, e.g. bad_gateway (repeatable)")
	fs.Var(&o.vantages, "vantage", "add: silence incidents seen down from the vantage `name` (repeatable)")
	fs.Var(&o.scopes, "scope", "add: silence incidents of the `scope`: everyone, partial, just_me or unknown (repeatable)")
	fs.Var((*spanValue)(&o.dur), "for", "add: how long the silence lasts, from now (e.g. 2h)")
	fs.Var(&o.until, "until", "add: when the silence ends, an RFC 3339 `time` (2026-12-08T06:00:00+01:00)")
	fs.StringVar(&o.comment, "comment", "", "add: a `text` saying why, for whoever reads the alert or the list")
	fs.BoolVar(&o.all, "all", false, "list: the expired silences too")
}

type ackFlagValues struct {
	socketFlags
	comment string
}

func defineAckFlags(fs *flag.FlagSet, o *ackFlagValues) {
	o.define(fs)
	fs.StringVar(&o.comment, "comment", "", "a `text` saying what you are doing about it, shown in the incident's history and its thread")
}

// spanValue is --for: a positive duration, with no default to show.
type spanValue time.Duration

func (v *spanValue) String() string {
	if *v == 0 {
		return ""
	}
	return time.Duration(*v).String()
}

func (v *spanValue) Placeholder() string { return "duration" }

func (v *spanValue) Set(s string) error {
	d := (*durationValue)(v)
	if err := d.Set(s); err != nil {
		return err
	}
	if *v <= 0 {
		return &flagValueError{fmt.Sprintf("%s is not a positive duration", s)}
	}
	return nil
}

// timeValue is an RFC 3339 time flag.
type timeValue struct{ t time.Time }

func (v *timeValue) String() string {
	if v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339)
}

func (v *timeValue) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return &flagValueError{fmt.Sprintf("%q is not an RFC 3339 time (e.g. 2026-12-08T06:00:00Z or 2026-12-08T07:00:00+01:00)", s)}
	}
	v.t = t
	return nil
}

func runSilence(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("silence")
	var o silenceFlagValues
	defineSilenceFlags(fs, &o)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return usageError(stderr, "silence", err.Error())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(pos) == 0 {
		return usageError(stderr, "silence", "say what to do: add, list or expire ID")
	}
	only := func(op string, allowed ...string) error {
		for name := range set {
			switch name {
			case "config", "socket", "json":
				continue
			}
			ok := false
			for _, a := range allowed {
				ok = ok || a == name
			}
			if !ok {
				return fmt.Errorf("--%s does not apply to silence %s", name, op)
			}
		}
		return nil
	}
	var call func(c *controlClient) error
	switch pos[0] {
	case "add":
		if err := only("add", "monitor", "tag", "class", "vantage", "scope", "for", "until", "comment"); err != nil {
			return usageError(stderr, "silence", err.Error())
		}
		if len(pos) != 1 {
			return usageError(stderr, "silence", "silence add takes no arguments; name what to silence with --monitor, --tag, --class, --vantage or --scope")
		}
		req, err := o.request()
		if err != nil {
			return usageError(stderr, "silence", err.Error())
		}
		call = func(c *controlClient) error {
			var s silence.Silence
			raw, err := c.do(ctx, http.MethodPost, "/api/v1/silences", req, &s)
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(stdout, raw)
			}
			fmt.Fprintf(stdout, "silence %d added: %s, %s, by %s\n", s.ID, describeMatchers(s.Matchers), describeSpan(s, time.Now()), s.CreatedBy)
			if s.Comment != "" {
				fmt.Fprintf(stdout, "  %s\n", s.Comment)
			}
			return nil
		}
	case "list":
		if err := only("list", "all"); err != nil {
			return usageError(stderr, "silence", err.Error())
		}
		if len(pos) != 1 {
			return usageError(stderr, "silence", "silence list takes no arguments")
		}
		call = func(c *controlClient) error {
			p := "/api/v1/silences"
			if o.all {
				p += "?all=1"
			}
			var list struct {
				Silences []silence.Silence `json:"silences"`
			}
			raw, err := c.do(ctx, http.MethodGet, p, nil, &list)
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(stdout, raw)
			}
			writeSilences(stdout, list.Silences, time.Now())
			return nil
		}
	case "expire":
		if err := only("expire"); err != nil {
			return usageError(stderr, "silence", err.Error())
		}
		if len(pos) != 2 {
			return usageError(stderr, "silence", "silence expire takes one silence ID (see vantage silence list)")
		}
		id, err := strconv.ParseInt(pos[1], 10, 64)
		if err != nil || id <= 0 {
			return usageError(stderr, "silence", fmt.Sprintf("%q is not a silence ID (see vantage silence list)", pos[1]))
		}
		call = func(c *controlClient) error {
			var s silence.Silence
			raw, err := c.do(ctx, http.MethodPost, "/api/v1/silences/"+strconv.FormatInt(id, 10)+"/expire", nil, &s)
			if err != nil {
				return err
			}
			if o.json {
				return writeJSON(stdout, raw)
			}
			fmt.Fprintf(stdout, "silence %d expired: %s", s.ID, describeMatchers(s.Matchers))
			if s.ExpiredBy != "" {
				fmt.Fprintf(stdout, ", by %s", s.ExpiredBy)
			}
			fmt.Fprintln(stdout)
			return nil
		}
	default:
		return usageError(stderr, "silence", fmt.Sprintf("unknown operation %q: add, list or expire ID", pos[0]))
	}
	return withControl(&o.socketFlags, "silence "+pos[0], stderr, call)
}

// request is the silence add flags as the API takes them.
func (o *silenceFlagValues) request() (map[string]any, error) {
	m := silence.Matchers{Monitors: o.monitors, Tags: o.tags, Vantages: o.vantages}
	for _, c := range o.classes {
		m.Classes = append(m.Classes, result.Class(c))
	}
	for _, s := range o.scopes {
		m.Scopes = append(m.Scopes, result.Scope(s))
	}
	if len(m.Monitors)+len(m.Tags)+len(m.Classes)+len(m.Vantages)+len(m.Scopes) == 0 {
		return nil, errors.New("name what to silence: --monitor, --tag, --class, --vantage or --scope")
	}
	req := map[string]any{"matchers": m}
	switch {
	case o.dur != 0 && !o.until.t.IsZero():
		return nil, errors.New("give --for or --until, not both")
	case o.dur != 0:
		req["for"] = o.dur.String()
	case !o.until.t.IsZero():
		req["end"] = o.until.t
	default:
		return nil, errors.New("say how long: --for 2h or --until 2026-12-08T06:00:00Z")
	}
	if o.comment != "" {
		req["comment"] = o.comment
	}
	return req, nil
}

func runAck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("ack")
	var o ackFlagValues
	defineAckFlags(fs, &o)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return usageError(stderr, "ack", err.Error())
	}
	if len(pos) != 1 {
		return usageError(stderr, "ack", "name one incident ID (the API's /api/v1/incidents?state=open lists them)")
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(pos[0], "#"), 10, 64)
	if err != nil || id <= 0 {
		return usageError(stderr, "ack", fmt.Sprintf("%q is not an incident ID", pos[0]))
	}
	var body any
	if o.comment != "" {
		body = map[string]string{"comment": o.comment}
	}
	return withControl(&o.socketFlags, "ack", stderr, func(c *controlClient) error {
		var inc incident.Incident
		raw, err := c.do(ctx, http.MethodPost, "/api/v1/incidents/"+strconv.FormatInt(id, 10)+"/ack", body, &inc)
		if err != nil {
			return err
		}
		if o.json {
			return writeJSON(stdout, raw)
		}
		fmt.Fprintf(stdout, "incident %d (%s) acknowledged", inc.ID, inc.Monitor)
		if inc.Ack != nil {
			fmt.Fprintf(stdout, " by %s", inc.Ack.By)
			if !inc.Ack.At.IsZero() {
				fmt.Fprintf(stdout, " at %s", inc.Ack.At.Local().Format("2006-01-02 15:04 MST"))
			}
			if inc.Ack.Comment != "" {
				fmt.Fprintf(stdout, ": %s", inc.Ack.Comment)
			}
		}
		fmt.Fprintln(stdout)
		return nil
	})
}

func usageError(stderr io.Writer, name, msg string) int {
	fmt.Fprintf(stderr, "vantage %s: %s\nRun 'vantage %s -h' for usage.\n", name, msg, name)
	return exitUsage
}

// withControl finds the socket and runs call against it, saying what went
// wrong in one line.
func withControl(o *socketFlags, what string, stderr io.Writer, call func(*controlClient) error) int {
	path, err := o.path()
	if err != nil {
		fmt.Fprintf(stderr, "vantage %s: %v (or give --socket PATH)\n", what, err)
		return exitFailed
	}
	if err := call(newControlClient(path)); err != nil {
		fmt.Fprintf(stderr, "vantage %s: %v\n", what, err)
		return exitFailed
	}
	return exitOK
}

// controlClient speaks HTTP to the daemon over its control socket.
type controlClient struct {
	path string
	hc   *http.Client
}

func newControlClient(path string) *controlClient {
	return &controlClient{path: path, hc: &http.Client{
		Timeout: controlTimeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", path)
			},
		},
	}}
}

// do sends in (nil: no body) and decodes a 2xx answer into out, returning
// the answer as it came for --json. Other statuses are errors carrying the
// daemon's message.
func (c *controlClient) do(ctx context.Context, method, p string, in, out any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://vantage"+p, body)
	if err != nil {
		return nil, fmt.Errorf("making the request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.dialError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxControlAnswer))
	if err != nil {
		return nil, fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return nil, fmt.Errorf("the daemon answered %s", resp.Status)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("the daemon's answer does not decode: %w", err)
	}
	return raw, nil
}

// dialError says why the daemon could not be reached in the words of what
// to do about it.
func (c *controlClient) dialError(err error) error {
	// The socket's own error, without the URL the transport wraps it in.
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("no daemon listening on %s: is vantage running? (dial: %w)", c.path, err)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("permission denied on %s: %s (dial: %w)", c.path, socketAccessHint(c.path), err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the daemon on %s did not answer within %s: %w", c.path, controlTimeout, err)
	}
	return fmt.Errorf("talking to the daemon on %s: %w", c.path, err)
}

// socketAccessHint names the group that may use the socket, from the
// socket file itself.
func socketAccessHint(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "run as root, or as a member of the socket's group ([api] socket_group)"
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "run as root, or as a member of the socket's group ([api] socket_group)"
	}
	gid := strconv.FormatUint(uint64(st.Gid), 10)
	name := gid
	if g, err := user.LookupGroupId(gid); err == nil {
		name = g.Name
	}
	return fmt.Sprintf("add yourself to group %s (then log in again), or run as root", name)
}

// writeJSON prints the daemon's answer indented.
func writeJSON(w io.Writer, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
		return fmt.Errorf("the daemon's answer is not JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// describeMatchers says what a silence matches, as the flags would.
func describeMatchers(m silence.Matchers) string {
	var parts []string
	add := func(what string, vals []string) {
		if len(vals) > 0 {
			parts = append(parts, what+" "+strings.Join(vals, " or "))
		}
	}
	add("monitor", m.Monitors)
	add("tag", m.Tags)
	var cs, ss []string
	for _, c := range m.Classes {
		cs = append(cs, string(c))
	}
	for _, s := range m.Scopes {
		ss = append(ss, string(s))
	}
	add("class", cs)
	add("vantage", m.Vantages)
	add("scope", ss)
	if m.Incident != 0 {
		parts = append(parts, "incident "+strconv.FormatInt(m.Incident, 10))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// describeSpan says until when a silence mutes, for a person.
func describeSpan(s silence.Silence, now time.Time) string {
	const layout = "2006-01-02 15:04 MST"
	var b strings.Builder
	if s.Start.After(now) {
		fmt.Fprintf(&b, "from %s ", s.Start.Local().Format(layout))
	}
	switch {
	case s.UntilResolved:
		b.WriteString("until the incident resolves")
	case !s.End.IsZero():
		fmt.Fprintf(&b, "until %s", s.End.Local().Format(layout))
		if s.End.After(now) {
			fmt.Fprintf(&b, " (in %s)", s.End.Sub(now).Round(time.Minute))
		}
	}
	return b.String()
}

func writeSilences(w io.Writer, list []silence.Silence, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no silences")
		return
	}
	const layout = "2006-01-02 15:04"
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATCHES\tSTART\tEND\tBY\tCOMMENT")
	for _, s := range list {
		end := "until resolved"
		if !s.End.IsZero() {
			end = s.End.Local().Format(layout)
		}
		if !s.ExpiredAt.IsZero() {
			end = "expired " + s.ExpiredAt.Local().Format(layout)
		} else if !s.End.IsZero() && !s.End.After(now) {
			end += " (ended)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, describeMatchers(s.Matchers), s.Start.Local().Format(layout), end, s.CreatedBy, oneLine(s.Comment))
	}
	_ = tw.Flush()
}

// oneLine keeps a comment on its table row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
