package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The README's watchlist is what newcomers copy first: it must validate.
func TestREADMEWatchlistValidates(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := fencedBlocks(string(readme), "toml")
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```toml block")
	}
	for i, b := range blocks {
		dir := t.TempDir()
		path := filepath.Join(dir, "readme.toml")
		if err := os.WriteFile(path, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		// The secrets the README's blocks name, as the operator would have
		// them (next to the file when run by hand).
		for name, v := range map[string]string{"slack-token": "xoxb-readme", "smtp-pass": "pw", "fra1.key": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"admin-password": "readme-pass", "api-token": "Bearer readme-token"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if code, out, errOut := runCLI(t, "validate", "-config", path); code != exitOK {
			t.Errorf("README toml block %d does not validate (exit %d):\n%s%s", i+1, code, out, errOut)
		}
	}
}

func fencedBlocks(doc, lang string) []string {
	var blocks []string
	for {
		i := strings.Index(doc, "```"+lang+"\n")
		if i < 0 {
			return blocks
		}
		doc = doc[i+len(lang)+4:]
		j := strings.Index(doc, "```")
		if j < 0 {
			return blocks
		}
		blocks = append(blocks, doc[:j])
		doc = doc[j+3:]
	}
}

// exercisedBy maps every shell command the README shows to where it is
// exercised, so that a command added to the README without a test fails
// here. Commands that need a running systemd (PID 1) are exercised through
// what they run: the unit files are checked by systemd-analyze, and
// `systemctl reload` is the unit's ExecReload=/bin/kill -HUP.
var exercisedBy = map[string]string{
	"go run ./cmd/vantage demo":            "cmd/vantage/demo_test.go runs the same subcommand",
	"go test -race -count=1 ./...":         ".ci/run runs exactly this",
	"make install PREFIX=/usr":             "TestMakeInstall (systemd/install_test.go)",
	"make deb":                             "TestDeb (systemd/deb_test.go)",
	"dpkg -i dist/vantage_*.deb":           "TestDeb installs it with dpkg --root into a scratch root",
	"systemctl enable --now vantage":       "TestUnitsVerify (systemd-analyze verify) and TestRunNotifiesSystemd (Type=notify READY=1)",
	"vantage validate -config":             "TestValidateValidFile, TestValidateInvalidFiles, and TestMakeInstall (the installed starter config validates)",
	"vantage validate /etc/vantage/":       "TestValidatePositionalFiles (cmd/vantage/cli_test.go)",
	"vantage agent --gen-key":              "TestAgentCommandErrors (cmd/vantage/agent_test.go) runs -gen-key",
	"vantage check --config":               "TestCheckWithConfigUsesVantages (cmd/vantage/check_vantage_test.go)",
	"systemctl reload vantage":             "TestRunReloadsOnSIGHUP and TestRunNotifiesSystemd (ExecReload sends SIGHUP)",
	"journalctl -u vantage":                "TestJournalText, TestJournalJSON (cmd/vantage/internal/logging): journal detection and priorities",
	"vantage notify-test ops-slack":        "TestNotifyTest* (cmd/vantage/notifytest_test.go)",
	"vantage agent -gen-key":               "TestAgentCommandErrors (cmd/vantage/agent_test.go) runs -gen-key",
	"systemctl enable --now vantage-agent": "TestUnitsVerify (vantage-agent.service)",
	"vantage check -config":                "TestCheckWithConfigUsesVantages (cmd/vantage/check_vantage_test.go)",
	"systemctl stop vantage":               "TestRunSurvivesKill and TestRunReloadsOnSIGHUP (stop on SIGTERM keeps the store consistent)",
	"cp -a /var/lib/vantage":               "plain copy of the state directory",
	"vantage silence":                      "TestSilenceAndAckAgainstTheDaemon (cmd/vantage/control_test.go) runs add, list and expire against the real daemon",
	"vantage ack":                          "TestSilenceAndAckAgainstTheDaemon (cmd/vantage/control_test.go) acks an incident of the real daemon",
	"systemctl start vantage":              "TestUnitsVerify",
	"curl -s 'http://127.0.0.1:9207/api/v1/monitors/shop/history?window=30d'": "TestDocumentedPathsAnswer requests this path (the README names it beside the command) from the real daemon; TestHistoryOfAnOutage (cmd/vantage/history_e2e_test.go) checks the fields",
	"curl -s 'http://127.0.0.1:9207/api/v1/incidents?state=open&since=7d'":    "TestDocumentedPathsAnswer requests this path (the README names it beside the command) from the real daemon; TestIncidentsAPIQuery (monitor/web/history_api_test.go) checks the filters",
}

func TestREADMECommandsAreExercised(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range fencedBlocks(string(readme), "sh") {
		for _, line := range strings.Split(strings.TrimSpace(b), "\n") {
			for _, cmd := range strings.Split(line, "&&") {
				cmd = strings.TrimSpace(cmd)
				if cmd == "" {
					continue
				}
				found := false
				for prefix := range exercisedBy {
					if strings.HasPrefix(cmd, prefix) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("README command %q is not exercised by any test listed in exercisedBy", cmd)
				}
			}
		}
	}
}

// TestREADMELayoutListsEveryPackage keeps README's Layout table true: one
// row per package of the module, none for a package that is gone.
func TestREADMELayoutListsEveryPackage(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	if i := strings.Index(layout, "\n## "); i >= 0 {
		layout = layout[:i]
	}
	rows := map[string]int{}
	for _, line := range strings.Split(layout, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		path, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
		rows[path]++
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/vantage-monitor/vantage/"
	pkgs := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		pkgs[strings.TrimPrefix(p, module)] = true
	}
	for p := range pkgs {
		if rows[p] != 1 {
			t.Errorf("package %s has %d rows in README's Layout table, want 1", p, rows[p])
		}
	}
	for p := range rows {
		if !pkgs[p] {
			t.Errorf("README's Layout table lists %s, which is not a package", p)
		}
	}
}

// TestREADMEFlagsAreDefined: every flag README's commands give a vantage
// subcommand (`vantage check --config`, `go run ./cmd/vantage demo
// --keep-running`) is one that subcommand's definition has, so the README
// cannot tell a newcomer to use a flag that is gone or misspelt.
func TestREADMEFlagsAreDefined(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, b := range fencedBlocks(string(readme), "sh") {
		for _, line := range strings.Split(strings.TrimSpace(b), "\n") {
			for _, c := range strings.Split(line, "&&") {
				words := strings.Fields(c)
				for len(words) > 0 && words[0] != "vantage" && words[0] != "./cmd/vantage" {
					words = words[1:]
				}
				if len(words) < 2 {
					continue
				}
				cmd, ok := commands()[words[1]]
				if !ok {
					t.Errorf("README command %q: no subcommand %q", strings.TrimSpace(c), words[1])
					continue
				}
				fs := definedFlags(cmd)
				for _, w := range words[2:] {
					if w == ">" || w == "|" {
						break
					}
					name, isFlag := strings.CutPrefix(w, "-")
					if !isFlag {
						continue
					}
					name, _, _ = strings.Cut(strings.TrimPrefix(name, "-"), "=")
					if fs.Lookup(name) == nil {
						t.Errorf("README command %q: vantage %s has no flag %s", strings.TrimSpace(c), cmd.name, w)
					}
					checked++
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no README command gives a flag; is the parsing broken?")
	}
}
