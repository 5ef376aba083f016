package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSlackAppKeys(t *testing.T) {
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
	write("bot", "xoxb-1-bot\n")
	write("app", "xapp-1-A0APP-123-abc\n")
	write("notapp", "xoxb-9-wrong\n")
	write("hook", "https://hooks.slack.com/services/T0/B0/x\n")
	const head = "state_dir = \"st\"\n[[receiver]]\nname = \"s\"\ntype = \"slack\"\nchannel = \"C0ALERTS\"\n"

	path := write("ok.toml", head+"token_file = \"bot\"\napp_token_file = \"app\"\nallow_users = [\"U012ABC\", \"W0ENT\"]\nallow_groups = [\"S012ABC\"]\n")
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	r := cfg.Receivers[0]
	if r.AppToken.Reveal() != "xapp-1-A0APP-123-abc" || len(r.AllowUsers) != 2 || len(r.AllowGroups) != 1 {
		t.Errorf("receiver = %+v, want the app token read and both lists", r)
	}
	found := false
	for _, s := range cfg.Secrets() {
		found = found || s.Value == "xapp-1-A0APP-123-abc"
	}
	if !found {
		t.Error("the app token is not among the config's secrets, so it would not be redacted")
	}
	if cfg, err := Load(write("none.toml", head+"token_file = \"bot\"\n")); err != nil || !cfg.Receivers[0].AppToken.IsZero() {
		t.Errorf("without app_token_file: %v, %v; want no app token", cfg, err)
	}

	for name, tc := range map[string]struct{ doc, want string }{
		"not xapp":       {"token_file = \"bot\"\napp_token_file = \"notapp\"\nallow_users = [\"U1AB\"]\n", ":7: receiver \"s\": app_token_file: " + filepath.Join(dir, "notapp") + " does not hold an app-level token (it starts with \"xoxb-\""},
		"missing file":   {"token_file = \"bot\"\napp_token_file = \"nope\"\nallow_users = [\"U1AB\"]\n", ":7: receiver \"s\": app_token_file: cannot read " + filepath.Join(dir, "nope")},
		"empty":          {"token_file = \"bot\"\napp_token_file = \"\"\n", ":7: receiver \"s\": app_token_file: is empty"},
		"nobody allowed": {"token_file = \"bot\"\napp_token_file = \"app\"\n", ":7: receiver \"s\": app_token_file: is set but neither allow_users nor allow_groups is"},
		"webhook":        {"webhook_url_file = \"hook\"\napp_token_file = \"app\"\nallow_users = [\"U1AB\"]\n", ":7: receiver \"s\": app_token_file: needs token_file or token_env"},
		"user name":      {"token_file = \"bot\"\napp_token_file = \"app\"\nallow_users = [\"@ana\"]\n", ":8: receiver \"s\": allow_users: \"@ana\" is not a Slack user ID"},
		"group name":     {"token_file = \"bot\"\napp_token_file = \"app\"\nallow_groups = [\"U1AB\"]\n", ":8: receiver \"s\": allow_groups: \"U1AB\" is not a Slack user group ID"},
		"no app token":   {"token_file = \"bot\"\nallow_users = [\"U1AB\"]\n", ":7: receiver \"s\": allow_users: is set but app_token_file is not"},
	} {
		t.Run(name, func(t *testing.T) {
			path := write("bad.toml", head+tc.doc)
			_, err := Load(path)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Load = %v, want a ValidationError", err)
			}
			for _, e := range ve.Errors {
				if strings.HasPrefix(e.Error(), path+tc.want) {
					return
				}
			}
			t.Fatalf("Load = %v, want an error starting %q", err, path+tc.want)
		})
	}
}
