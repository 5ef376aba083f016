package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/vantage-monitor/vantage/monitor/config/tomlguard"
)

// ControlSocketName is the control socket's file name in the runtime or
// state directory when [api] socket is not set.
const ControlSocketName = "control.sock"

// maxSocketPath is what a Unix socket address holds (sun_path is 108 bytes
// on Linux, one of them the terminating NUL).
const maxSocketPath = 107

// minTokenLen bounds how guessable a bearer token may be: 16 characters of
// the 64 that `openssl rand -hex 32` writes.
const minTokenLen = 16

// checkAPI checks [api] and settles its defaults: the socket's path
// (absolute; $RUNTIME_DIRECTORY/control.sock under systemd's
// RuntimeDirectory=, else control.sock in the state directory), the group,
// which must exist, and the token, read from token_file.
func (l *loader) checkAPI(cfg *Config, a *API, t map[string]any) {
	add := func(key, format string, args ...any) { l.add(joinPath("api", key), "api", key, format, args...) }
	switch {
	case written(t, "socket") && a.Socket == "":
		add("socket", "is empty; leave it out to use the default (%s in the runtime or state directory)", ControlSocketName)
	case a.Socket != "":
		if !filepath.IsAbs(a.Socket) {
			a.Socket = filepath.Join(l.dir, a.Socket)
			if abs, err := filepath.Abs(a.Socket); err == nil {
				a.Socket = abs
			}
		}
	default:
		a.Socket = defaultSocket(l.env, cfg.StateDir)
	}
	if len(a.Socket) > maxSocketPath {
		add("socket", "%s is %d bytes long; a Unix socket's path holds at most %d: set a shorter one", a.Socket, len(a.Socket), maxSocketPath)
	}
	if written(t, "socket_group") {
		if _, err := SocketGroupID(a.SocketGroup); err != nil {
			add("socket_group", "%s", err)
		}
	}
	if written(t, "token_file") {
		if a.TokenFile == "" {
			add("token_file", "is empty; leave it out to serve the control API on the socket only")
			return
		}
		a.Token = l.secret("api", "api", "token_file", a.TokenFile, "", "", true)
		if n := len(a.Token.Reveal()); !a.Token.IsZero() && n < minTokenLen {
			add("token_file", "the token in %s has %d characters; use at least %d (e.g. openssl rand -hex 32)", l.secretPath(a.TokenFile), n, minTokenLen)
			a.Token = Secret{}
		}
	}
}

// defaultSocket is where the control socket goes when [api] socket is not
// set: systemd's RuntimeDirectory= ($RUNTIME_DIRECTORY, the first of
// several), which is reachable by other users when the state directory is
// not; else the state directory.
func defaultSocket(e env, stateDir string) string {
	if v, ok := e.lookup("RUNTIME_DIRECTORY"); ok && v != "" {
		if first, _, _ := strings.Cut(v, ":"); first != "" {
			return filepath.Join(first, ControlSocketName)
		}
	}
	if stateDir == "" {
		return ""
	}
	return filepath.Join(stateDir, ControlSocketName)
}

// SocketGroupID resolves [api] socket_group, a group name or a numeric
// GID, to the GID the socket is given; -1 for "" (the daemon's own group).
func SocketGroupID(group string) (int, error) {
	if group == "" {
		return -1, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		var unknown user.UnknownGroupError
		if _, nerr := strconv.Atoi(group); nerr == nil {
			g, err = user.LookupGroupId(group)
		} else if errors.As(err, &unknown) {
			return 0, fmt.Errorf("group %q does not exist on this host", group)
		}
		if err != nil {
			return 0, fmt.Errorf("group %q: %w", group, err)
		}
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %q has GID %q, not a number", group, g.Gid)
	}
	return gid, nil
}

// checkPublicURL checks public_url, the base alerts link to: an http(s)
// URL with a host and no query or fragment, kept without a trailing slash
// so that public_url + "/monitors/NAME" is one slash.
func (l *loader) checkPublicURL(cfg *Config) {
	if cfg.PublicURL == "" {
		return
	}
	add := func(format string, args ...any) { l.add("public_url", "", "public_url", format, args...) }
	if err := checkHTTPURL(cfg.PublicURL); err != nil {
		add("%s", err)
		return
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil {
		add("%q is not a URL", cfg.PublicURL)
		return
	}
	switch {
	case u.User != nil:
		add("%q holds a user name or password, which every alert would show", cfg.PublicURL)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(cfg.PublicURL, "?") || strings.HasSuffix(cfg.PublicURL, "#"):
		add("%q has a query or fragment; give the base URL the pages are under (e.g. https://vantage.example.com)", cfg.PublicURL)
	default:
		cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	}
}

// ControlSocket is the control socket a daemon running with the config
// file at path listens on, as the CLI (vantage silence, vantage ack) finds
// it without loading the whole file, whose secrets it may not be allowed
// to read: [api] socket when the file sets it; else
// /run/vantage/control.sock when it exists (the shipped unit's
// RuntimeDirectory=, which the CLI's environment does not name); else
// control.sock in the state directory the file sets or the default one.
func ControlSocket(path string) (string, error) {
	data, err := tomlguard.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s for [api] socket: %w", path, err)
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	return controlSocket(path, data, osEnv(), exists, "/run/vantage")
}

func controlSocket(path string, data []byte, e env, exists func(string) bool, runDir string) (string, error) {
	if err := tomlguard.Check(data); err != nil {
		return "", fmt.Errorf("reading %s for [api] socket: %w", path, err)
	}
	// Only the two keys the path depends on; the rest of the file is
	// vantage run's and vantage validate's to check.
	var doc struct {
		StateDir string `toml:"state_dir"`
		API      struct {
			Socket string `toml:"socket"`
		} `toml:"api"`
	}
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return "", fmt.Errorf("reading %s for [api] socket: %w", path, err)
	}
	dir := baseDir(path)
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		if a, err := filepath.Abs(filepath.Join(dir, p)); err == nil {
			return a
		}
		return filepath.Join(dir, p)
	}
	if doc.API.Socket != "" {
		return abs(doc.API.Socket), nil
	}
	if s := defaultSocket(e, ""); s != "" {
		return s, nil
	}
	if p := filepath.Join(runDir, ControlSocketName); runDir != "" && exists(p) {
		return p, nil
	}
	stateDir := doc.StateDir
	if stateDir == "" {
		var err error
		if stateDir, err = defaultStateDir(e); err != nil {
			return "", fmt.Errorf("finding the control socket: state_dir %w", err)
		}
	} else {
		stateDir = abs(stateDir)
	}
	return filepath.Join(stateDir, ControlSocketName), nil
}
