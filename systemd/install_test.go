package systemd

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wantFile checks that path exists with the given permission bits and
// returns its content.
func wantFile(t *testing.T, path string, perm os.FileMode) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("not installed: %v", err)
	}
	if got := fi.Mode().Perm(); got != perm {
		t.Errorf("%s: mode %v, want %v", path, got, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("%s: still there (%v)", path, err)
	}
}

// wantVersion runs an installed binary and checks it reports testVersion.
func wantVersion(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, out)
	}
	if !strings.HasPrefix(string(out), "vantage "+testVersion+" ") {
		t.Errorf("%s version = %q, want vantage %s (go...)", bin, out, testVersion)
	}
}

// wantUnit checks an installed unit: the source unit with only ExecStart=
// and Documentation= pointing at the installed paths.
func wantUnit(t *testing.T, installed, name, bindir, docdir string) {
	t.Helper()
	got := wantFile(t, installed, 0o644)
	src := readUnit(t, name)
	want := strings.NewReplacer(
		"ExecStart=/usr/local/bin/vantage ", "ExecStart="+bindir+"/vantage ",
		"file:/usr/share/doc/vantage/", "file:"+docdir+"/",
	).Replace(src)
	if got != want {
		t.Errorf("%s differs from %s with ExecStart in %s and docs in %s:\n%s", installed, name, bindir, docdir, got)
	}
	if !strings.Contains(got, "\nExecStart="+bindir+"/vantage ") {
		t.Errorf("%s: ExecStart does not run %s/vantage", installed, bindir)
	}
}

func TestMakeInstall(t *testing.T) {
	needBinary(t)
	example, err := os.ReadFile(filepath.Join(repoRoot, "systemd", "vantage.toml"))
	if err != nil {
		t.Fatal(err)
	}
	agentExample, err := os.ReadFile(filepath.Join(repoRoot, "systemd", "agent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		prefix  []string // PREFIX= argument, none for the default
		bindir  string
		unitdir string
		docdir  string
	}{
		{"prefix /usr", []string{"PREFIX=/usr"}, "/usr/bin", "/lib/systemd/system", "/usr/share/doc/vantage"},
		{"default prefix", nil, "/usr/local/bin", "/usr/local/lib/systemd/system", "/usr/local/share/doc/vantage"},
		{"prefix /opt/vantage", []string{"PREFIX=/opt/vantage"}, "/opt/vantage/bin", "/opt/vantage/lib/systemd/system", "/opt/vantage/share/doc/vantage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := t.TempDir()
			install := func() {
				t.Helper()
				if out, err := runMake("install", append([]string{"DESTDIR=" + dest}, tc.prefix...)...); err != nil {
					t.Fatalf("make install: %v\n%s", err, out)
				}
			}
			install()

			bin := filepath.Join(dest, tc.bindir, "vantage")
			wantFile(t, bin, 0o755)
			wantVersion(t, bin)
			for _, u := range units {
				wantUnit(t, filepath.Join(dest, tc.unitdir, u), u, tc.bindir, tc.docdir)
			}
			for _, doc := range []string{"config.example.toml", "README.md"} {
				wantFile(t, filepath.Join(dest, tc.docdir, doc), 0o644)
			}
			// Man pages (gzipped) and completion scripts under the prefix's share/.
			share := filepath.Join(dest, filepath.Dir(tc.bindir), "share")
			shipped := []string{"man/man1/vantage.1.gz", "man/man1/vantage-check.1.gz", "man/man5/vantage.toml.5.gz",
				"bash-completion/completions/vantage", "zsh/vendor-completions/_vantage", "fish/vendor_completions.d/vantage.fish"}
			for _, f := range shipped {
				wantFile(t, filepath.Join(share, f), 0o644)
			}
			conf := filepath.Join(dest, "etc/vantage/vantage.toml")
			if got := wantFile(t, conf, 0o644); got != string(example) {
				t.Error("/etc/vantage/vantage.toml is not the starter systemd/vantage.toml")
			}
			// The service must start right after install: the starter
			// config validates with the installed binary and no secrets.
			if out, err := exec.Command(filepath.Join(dest, tc.bindir, "vantage"), "validate", "-config", conf).CombinedOutput(); err != nil {
				t.Errorf("the installed config does not validate: %v\n%s", err, out)
			}

			// The agent unit runs `vantage agent -config /etc/vantage/agent.toml`:
			// the starter file must be there and start an agent once its key
			// is in place.
			agentConf := filepath.Join(dest, "etc/vantage/agent.toml")
			if got := wantFile(t, agentConf, 0o644); got != string(agentExample) {
				t.Error("/etc/vantage/agent.toml is not the starter systemd/agent.toml")
			}
			wantAgentStarts(t, filepath.Join(dest, tc.bindir, "vantage"), agentConf)

			// A local edit survives a second install.
			edited := string(example) + "\n# local edit\n"
			if err := os.WriteFile(conf, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			install()
			if got := wantFile(t, conf, 0o644); got != edited {
				t.Error("a second make install overwrote the edited /etc/vantage/vantage.toml")
			}

			// uninstall keeps the config and the state.
			state := filepath.Join(dest, "var/lib/vantage/vantage.db")
			if err := os.MkdirAll(filepath.Dir(state), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(state, []byte("store"), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := runMake("uninstall", append([]string{"DESTDIR=" + dest}, tc.prefix...)...); err != nil {
				t.Fatalf("make uninstall: %v\n%s", err, out)
			}
			wantGone(t, bin)
			for _, u := range units {
				wantGone(t, filepath.Join(dest, tc.unitdir, u))
			}
			wantGone(t, filepath.Join(dest, tc.docdir))
			for _, f := range shipped {
				wantGone(t, filepath.Join(share, f))
			}
			if got := wantFile(t, conf, 0o644); got != edited {
				t.Error("make uninstall removed or changed /etc/vantage/vantage.toml")
			}
			wantFile(t, state, 0o600)
		})
	}
}

// wantAgentStarts runs the agent on conf as its unit would, the key among
// the credentials and the port moved to loopback, and waits for it to
// listen: the file parses, names a key that loads, and asks for nothing the
// unit does not give.
func wantAgentStarts(t *testing.T, bin, conf string) {
	t.Helper()
	creds := t.TempDir()
	key, err := exec.Command(bin, "agent", "-gen-key").Output()
	if err != nil {
		t.Fatalf("vantage agent -gen-key: %v", err)
	}
	if err := os.WriteFile(filepath.Join(creds, "agent.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "agent", "-config", conf, "-listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "CREDENTIALS_DIRECTORY="+creds)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the agent: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), `msg="agent listening"`) {
			if !strings.Contains(sc.Text(), "refuse_private=true") {
				t.Errorf("the starter agent config does not refuse private destinations:\n%s", sc.Text())
			}
			return
		}
	}
	t.Fatalf("the agent did not start on the installed %s:\n%s", conf, log.String())
}
