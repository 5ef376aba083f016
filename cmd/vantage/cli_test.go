package main

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// validate takes files as arguments, as promtool check config does, and
// reports each.
func TestValidatePositionalFiles(t *testing.T) {
	validateEnv(t)
	valid := filepath.Join(configTestdata, "valid.toml")
	code, stdout, stderr := runCLI(t, "validate", valid)
	if code != exitOK || stdout != valid+": OK: 3 monitors, 0 receivers, 0 routes, 1 vantage\n" || stderr != "" {
		t.Errorf("validate FILE: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	invalid, err := filepath.Glob(filepath.Join(configTestdata, "invalid-*.toml"))
	if err != nil || len(invalid) == 0 {
		t.Fatalf("no invalid-*.toml: %v", err)
	}
	code, stdout, stderr = runCLI(t, "validate", valid, invalid[0], valid)
	if code != exitFailed {
		t.Errorf("one invalid file among valid ones: exit %d, want %d", code, exitFailed)
	}
	if strings.Count(stdout, ": OK:") != 2 || !strings.Contains(stderr, filepath.Base(invalid[0])) {
		t.Errorf("each file is not reported:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	if code, _, _ := runCLI(t, "validate", "--config", valid, valid); code != exitUsage {
		t.Errorf("--config and FILE together: exit %d, want %d", code, exitUsage)
	}
}

func TestHelpCommandAndVersionFlags(t *testing.T) {
	code, out, _ := runCLI(t, "help", "check")
	if code != exitOK || !strings.HasPrefix(out, "Usage: vantage check ") || !strings.Contains(out, "--expect-status") {
		t.Errorf("help check: exit %d:\n%s", code, out)
	}
	code, dashH, _ := runCLI(t, "check", "-h")
	if code != exitOK || dashH != out {
		t.Errorf("check -h (exit %d) differs from help check:\n%s", code, dashH)
	}
	if code, _, errOut := runCLI(t, "help", "nosuch"); code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("help nosuch: exit %d, stderr %q", code, errOut)
	}
	for _, f := range []string{"-v", "--version", "-version"} {
		if code, out, _ := runCLI(t, f); code != exitOK || !strings.HasPrefix(out, "vantage "+version) {
			t.Errorf("vantage %s: exit %d, %q", f, code, out)
		}
	}
}

// A usage error is said once, in one line, with a pointer to -h; no
// usage dump, nothing said twice.
func TestFlagErrorsAreOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--nope", "http://127.0.0.1/"}, "vantage check: flag provided but not defined: -nope"},
		{[]string{"validate", "-nope"}, "vantage validate: flag provided but not defined: -nope"},
		{[]string{"notify-test", "--nope", "x"}, "vantage notify-test: flag provided but not defined: -nope"},
		{[]string{"check", "--timeout", "5", "http://127.0.0.1/"}, "vantage check: --timeout: 5 is not a duration; did you mean 5s?"},
		{[]string{"demo", "-duration", "90"}, "vantage demo: --duration: 90 is not a duration; did you mean 90s?"},
		{[]string{"notify-test", "x", "--timeout=2.5"}, "vantage notify-test: --timeout: 2.5 is not a duration; did you mean 2.5s?"},
		{[]string{"agent", "--rate", "fast"}, `vantage agent: --rate: "fast" is not a valid value`},
		{[]string{"check", "127.0.0.1:8080"}, `vantage check: "127.0.0.1:8080" has no scheme: add http:// or https://`},
		{[]string{"check", "localhost:8080/healthz"}, `vantage check: "localhost:8080/healthz" has no scheme: add http:// or https://`},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
		cmd := tc.args[0]
		if code != exitUsage || out != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], tc.want) || lines[1] != "Run 'vantage "+cmd+" -h' for usage." {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant exit %d, one line starting %q and the pointer to -h", tc.args, code, out, errOut, exitUsage, tc.want)
		}
		if strings.Contains(errOut, "first path segment") {
			t.Errorf("%v: Go's URL error reached the operator: %s", tc.args, errOut)
		}
	}
}

// README.md and every -h write flags one way: --name (a one-letter switch
// as -4), and say that -name works too.
func TestFlagsSpelledOneWay(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{"README.md": string(readme)}
	for _, n := range commandNames() {
		_, out, _ := runCLI(t, n, "-h")
		texts["vantage "+n+" -h"] = out
	}
	_, out, _ := runCLI(t, "help")
	texts["vantage help"] = out
	for where, text := range texts {
		if !strings.Contains(text, "-name works too") {
			t.Errorf("%s does not say that -name works as well as --name", where)
		}
		for _, n := range commandNames() {
			definedFlags(commands()[n]).VisitAll(func(f *flag.Flag) {
				if len(f.Name) > 1 && singleDash(text, f.Name) {
					t.Errorf("%s writes -%s; the docs write --%s", where, f.Name, f.Name)
				}
			})
		}
	}
}

// singleDash reports whether text writes the flag as -name (after a space,
// a backquote or a bracket), not --name.
func singleDash(text, name string) bool {
	for _, before := range []string{" ", "`", "[", "(", "\n"} {
		for _, after := range []string{" ", "`", "=", "]", ")", "\n", ","} {
			if strings.Contains(text, before+"-"+name+after) {
				return true
			}
		}
	}
	return false
}

// The bash script completes subcommands, flags, and files for --config.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is not installed")
	}
	script := filepath.Join(t.TempDir(), "vantage.bash")
	var b strings.Builder
	writeBashCompletion(&b)
	if err := os.WriteFile(script, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "watch.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) string {
		t.Helper()
		args := append([]string{"--norc", "--noprofile", "-c",
			`source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _vantage; printf '%s\n' "${COMPREPLY[@]}"`,
			script}, words...)
		cmd := exec.Command(bash, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("completing %v: %v\n%s", words, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := complete("vantage", "val"); got != "validate" {
		t.Errorf("vantage val<TAB> = %q", got)
	}
	if got := complete("vantage", "check", "--ti"); got != "--timeout" {
		t.Errorf("vantage check --ti<TAB> = %q", got)
	}
	if got := complete("vantage", "run", "--config", "wat"); got != "watch.toml" {
		t.Errorf("vantage run --config wat<TAB> = %q", got)
	}
	if got := complete("vantage", "completion", "f"); got != "fish" {
		t.Errorf("vantage completion f<TAB> = %q", got)
	}
	if got := complete("vantage", "help", "notify"); got != "notify-test" {
		t.Errorf("vantage help notify<TAB> = %q", got)
	}
}

// zsh and fish parse their scripts.
func TestZshFishCompletionParse(t *testing.T) {
	for shell, check := range map[string][]string{"zsh": {"-n"}, "fish": {"--no-execute"}} {
		p, err := exec.LookPath(shell)
		if err != nil {
			t.Errorf("%s is not installed: apt-get install -y %s (CI's .ci/run does)", shell, shell)
			continue
		}
		var b strings.Builder
		completionWriter(shell)(&b)
		f := filepath.Join(t.TempDir(), "completion")
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(p, append(check, f)...).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse its completion script: %v\n%s", shell, err, out)
		}
	}
	// fish can complete outside an interactive shell: check what it offers.
	if fish, err := exec.LookPath("fish"); err == nil {
		var b strings.Builder
		writeFishCompletion(&b)
		f := filepath.Join(t.TempDir(), "vantage.fish")
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		for line, want := range map[string]string{
			"vantage val":             "validate\t",
			"vantage check --ti":      "--timeout\t",
			"vantage completion z":    "zsh",
			"vantage demo --keep-run": "--keep-running\t",
		} {
			out, err := exec.Command(fish, "--no-config", "-c", "source $argv[1]; complete -C $argv[2]", f, line).CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), want) {
				t.Errorf("fish: %s<TAB> = %q (%v), want %q first", line, out, err, want)
			}
		}
	}
	if code, _, _ := runCLI(t, "completion", "tcsh"); code != exitUsage {
		t.Errorf("completion tcsh: exit %d, want %d", code, exitUsage)
	}
}

// zsh completes only inside its line editor: drive an interactive zsh on a
// pseudo-terminal (zpty), press Tab after each line, and read the screen.
func TestZshCompletion(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Fatal("zsh is not installed: apt-get install -y zsh (CI's .ci/run does)")
	}
	dir := t.TempDir()
	var b strings.Builder
	writeZshCompletion(&b)
	if err := os.WriteFile(filepath.Join(dir, "_vantage"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{
		"vantage check --ti":      "vantage check --timeout ",
		"vantage demo --keep":     "vantage demo --keep-running ",
		"vantage notify-test --o": "vantage notify-test --open-only ",
		"vantage val":             "vantage validate ",
		"vantage run --log":       "vantage run --log-",
		"vantage completion ":     "bash  fish  zsh",
	}
	driver := `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; vantage() { :; }"
zpty -w z 'zstyle ":completion:*" list-prompt ""; setopt nobeep'
shift
for line in "$@"; do
	zpty -w z "$line"$'\t'
	sleep 0.5
	zpty -w z $'\C-u'
done
out=
while zpty -r -t z chunk; do out+=$chunk; done
print -r -- "$out"
zpty -d z
`
	args := []string{"-f", "-c", driver, "zsh", dir}
	for l := range lines {
		args = append(args, l)
	}
	out, err := exec.Command(zsh, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("zsh: %v\n%s", err, out)
	}
	screen := regexp.MustCompile("\x1b\\[[0-9;?]*[a-zA-Z]").ReplaceAllString(string(out), "")
	if strings.Contains(screen, "_arguments:") {
		t.Errorf("zsh reports an error in the script:\n%s", screen)
	}
	for line, want := range lines {
		if !strings.Contains(screen, want) {
			t.Errorf("zsh: %q<TAB> does not show %q:\n%s", line, want, screen)
		}
	}
}
