package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// bcrypt of "secret", cost 4 (any cost validates).
const testHash = "$2a$04$w2pNwsvYCyKr4jOkpmcTJeVpUbKnm/HSxlRDMvLAh1N.YJ/Xp9s5G"

func TestWebTable(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("auth.yml", "basic_auth_users:\n  ops: "+testHash+"\n")
	write("open.yml", "http_server_config:\n  http2: false\n")
	write("badhash.yml", "basic_auth_users:\n  ops: hunter2\n")
	write("nocert.yml", "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n")

	path := write("ok.toml", "[web]\nhostnames = [\"Status.Example.com.\", \"[2001:DB8::1]\", \"10.0.0.5\"]\nconfig_file = \"auth.yml\"\n")
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if want := []string{"status.example.com", "2001:db8::1", "10.0.0.5"}; !slices.Equal(cfg.Web.Hostnames, want) {
		t.Errorf("hostnames = %q, want %q", cfg.Web.Hostnames, want)
	}
	if cfg.Web.ConfigFile != filepath.Join(dir, "auth.yml") || !cfg.Web.Auth {
		t.Errorf("web = %+v, want the file next to the config, with auth", cfg.Web)
	}
	path = write("open.toml", "[web]\nconfig_file = \"open.yml\"\n")
	if cfg, err := Load(path); err != nil || cfg.Web.Auth {
		t.Errorf("a web config without users: auth = %v, err %v", cfg != nil && cfg.Web.Auth, err)
	}

	for name, tc := range map[string]struct{ doc, want string }{
		"missing file": {"\n[web]\nconfig_file = \"nope.yml\"\n", ":3: web: config_file: " + filepath.Join(dir, "nope.yml") + ": open "},
		"bad hash":     {"[web]\nconfig_file = \"badhash.yml\"\n", ":2: web: config_file: " + filepath.Join(dir, "badhash.yml") + ": crypto/bcrypt"},
		"no cert":      {"[web]\nconfig_file = \"nocert.yml\"\n", ":2: web: config_file: " + filepath.Join(dir, "nocert.yml") + ": "},
		"hostname":     {"[web]\nhostnames = [\"ok.example\", \"evil.example:80\"]\n", ":2: web: hostnames: \"evil.example:80\" is not a host name"},
		"unknown key":  {"[web]\nhostname = [\"a\"]\n", ":2: web: unknown key \"hostname\" (did you mean \"hostnames\"?)"},
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
