package config

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAPITable(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("RUNTIME_DIRECTORY", "")
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatalf("the test's own group: %v", err)
	}
	write("api-token", "0123456789abcdef0123456789abcdef\n")
	write("short-token", "abc\n")

	path := write("ok.toml", "state_dir = \"st\"\npublic_url = \"https://vantage.example.com/\"\n[api]\nsocket = \"run/ctl.sock\"\nsocket_group = \""+g.Name+"\"\ntoken_file = \"api-token\"\n")
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.API.Socket != filepath.Join(dir, "run", "ctl.sock") {
		t.Errorf("socket = %q, want it next to the config", cfg.API.Socket)
	}
	if cfg.API.Token.Reveal() != "0123456789abcdef0123456789abcdef" {
		t.Errorf("token = %q, want the file's content, trimmed", cfg.API.Token.Reveal())
	}
	if cfg.PublicURL != "https://vantage.example.com" {
		t.Errorf("public_url = %q, want it without the trailing slash", cfg.PublicURL)
	}
	if gid, err := SocketGroupID(g.Name); err != nil || gid != os.Getgid() {
		t.Errorf("SocketGroupID(%q) = %d, %v, want %d", g.Name, gid, err, os.Getgid())
	}
	if gid, err := SocketGroupID(g.Gid); err != nil || gid != os.Getgid() {
		t.Errorf("SocketGroupID(%q) = %d, %v, want %d", g.Gid, gid, err, os.Getgid())
	}

	// The default: the state directory, or systemd's runtime directory.
	path = write("default.toml", "state_dir = \"st\"\n")
	if cfg, err := Load(path); err != nil || cfg.API.Socket != filepath.Join(dir, "st", ControlSocketName) || !cfg.API.Token.IsZero() {
		t.Errorf("default socket = %v, %v; want control.sock in the state dir and no token", cfg, err)
	}
	t.Setenv("RUNTIME_DIRECTORY", "/run/vantage:/run/other")
	if cfg, err := Load(path); err != nil || cfg.API.Socket != "/run/vantage/control.sock" {
		t.Errorf("socket under RuntimeDirectory= = %v, %v; want /run/vantage/control.sock", cfg, err)
	}
	t.Setenv("RUNTIME_DIRECTORY", "")

	for name, tc := range map[string]struct{ doc, want string }{
		"no group":     {"[api]\nsocket_group = \"no-such-group-vantage\"\n", ":2: api: socket_group: group \"no-such-group-vantage\" does not exist on this host"},
		"empty socket": {"\n[api]\nsocket = \"\"\n", ":3: api: socket: is empty"},
		"long socket":  {"[api]\nsocket = \"/" + strings.Repeat("x", 120) + "\"\n", ":2: api: socket: /xxx"},
		"no token":     {"[api]\ntoken_file = \"missing-token\"\n", ":2: api: token_file: cannot read " + filepath.Join(dir, "missing-token")},
		"short token":  {"[api]\ntoken_file = \"short-token\"\n", ":2: api: token_file: the token in " + filepath.Join(dir, "short-token") + " has 3 characters"},
		"unknown key":  {"[api]\nsockett = \"x\"\n", ":2: api: unknown key \"sockett\" (did you mean \"socket\"?)"},
		"public query": {"public_url = \"https://v.example/?a=1\"\n", ":1: public_url: \"https://v.example/?a=1\" has a query"},
		"public user":  {"public_url = \"https://u:p@v.example\"\n", ":1: public_url: \"https://u:p@v.example\" holds a user name"},
		"public ftp":   {"public_url = \"ftp://v.example\"\n", ":1: public_url: \"ftp://v.example\": scheme \"ftp\""},
	} {
		t.Run(name, func(t *testing.T) {
			path := write("bad.toml", tc.doc)
			_, err := Load(path)
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) != 1 || !strings.HasPrefix(ve.Errors[0].Error(), path+tc.want) {
				t.Fatalf("Load = %v, want one error starting %q", err, path+tc.want)
			}
		})
	}
}

func TestControlSocketForTheCLI(t *testing.T) {
	noEnv := env{lookup: func(string) (string, bool) { return "", false }, home: func() (string, error) { return "/home/ana", nil }}
	nothing := func(string) bool { return false }
	for name, tc := range map[string]struct {
		doc    string
		exists func(string) bool
		want   string
	}{
		"[api] socket":      {"[api]\nsocket = \"ctl.sock\"\n", nothing, "/etc/vantage/ctl.sock"},
		"shipped unit":      {"state_dir = \"/var/lib/x\"\n", func(p string) bool { return p == "/run/vantage/control.sock" }, "/run/vantage/control.sock"},
		"state_dir":         {"state_dir = \"/var/lib/x\"\n[[monitor]]\nname = \"a\"\n", nothing, "/var/lib/x/control.sock"},
		"default state dir": {"", nothing, "/home/ana/.local/state/vantage/control.sock"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := controlSocket("/etc/vantage/vantage.toml", []byte(tc.doc), noEnv, tc.exists, "/run/vantage")
			if err != nil || got != tc.want {
				t.Errorf("controlSocket = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := controlSocket("/etc/vantage/vantage.toml", []byte("[api\n"), noEnv, nothing, ""); err == nil {
		t.Error("a file that does not parse: no error")
	}
}
