package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/cmd/vantage/internal/manpage"
	"github.com/vantage-monitor/vantage/monitor/config"
)

var update = flag.Bool("update", false, "rewrite docs/man and docs/completion from the command definitions and config.example.toml")

const repoRoot = "../.."

// manCommands are the subcommands with a page of their own; help and
// version are described in vantage(1).
func manCommands() []string {
	var names []string
	for _, n := range commandNames() {
		if n != "help" && n != "version" {
			names = append(names, n)
		}
	}
	return names
}

func commandPage(cmd command) manpage.Page {
	p := manpage.Page{Name: "vantage-" + cmd.name, Section: 1, Summary: cmd.summary}
	var syn []manpage.Block
	for _, s := range cmd.synopsis {
		syn = append(syn, manpage.Synopsis{Command: "vantage " + cmd.name, Args: s})
	}
	p.Sections = append(p.Sections, manpage.Section{Title: "Synopsis", Blocks: syn})
	var desc []manpage.Block
	for _, d := range cmd.description {
		desc = append(desc, manpage.Para(d))
	}
	p.Sections = append(p.Sections, manpage.Section{Title: "Description", Blocks: desc})
	var opts []manpage.Block
	for _, f := range cmdFlags(cmd) {
		tag := "--" + f.name
		if len(f.name) == 1 {
			tag = "-" + f.name
		}
		opts = append(opts, manpage.Tagged{Tag: tag, Arg: f.arg, Body: []manpage.Block{manpage.Para(f.usageWithDefault())}})
	}
	opts = append(opts, manpage.Tagged{Tag: "-h, --help", Body: []manpage.Block{manpage.Para("Show the help and exit.")}})
	opts = append(opts, manpage.Para(flagSpellingNote))
	p.Sections = append(p.Sections, manpage.Section{Title: "Options", Blocks: opts})
	if len(cmd.exits) > 0 {
		var ex []manpage.Block
		for _, e := range cmd.exits {
			ex = append(ex, manpage.Tagged{Tag: fmt.Sprint(e.code), Body: []manpage.Block{manpage.Para(strings.ToUpper(e.meaning[:1]) + e.meaning[1:] + ".")}})
		}
		p.Sections = append(p.Sections, manpage.Section{Title: "Exit status", Blocks: ex})
	}
	p.Sections = append(p.Sections, manpage.Section{Title: "See also", Blocks: []manpage.Block{manpage.Para("vantage(1), vantage.toml(5)")}})
	return p
}

func mainPage() manpage.Page {
	cmds := commands()
	p := manpage.Page{Name: "vantage", Section: 1, Summary: "synthetic uptime monitor and alerting daemon"}
	p.Sections = append(p.Sections,
		manpage.Section{Title: "Synopsis", Blocks: []manpage.Block{
			manpage.Synopsis{Command: "vantage", Args: "COMMAND [flags] [args]"},
			manpage.Synopsis{Command: "vantage help", Args: "[COMMAND]"},
			manpage.Synopsis{Command: "vantage", Args: "-v | --version"},
		}},
		manpage.Section{Title: "Description", Blocks: []manpage.Block{
			manpage.Para("vantage checks URLs on a schedule from several vantage points, says exactly what failed and which hop produced the error, and alerts on Slack or by email with suggested fixes. The daemon (vantage run) reads its watchlist from /etc/vantage/vantage.toml, described in vantage.toml(5)."),
			manpage.Para(flagSpellingNote),
		}},
	)
	var list []manpage.Block
	for _, n := range commandNames() {
		text := cmds[n].summary + "."
		if n != "help" && n != "version" {
			text += " See vantage-" + n + "(1)."
		}
		list = append(list, manpage.Tagged{Tag: n, Body: []manpage.Block{manpage.Para(strings.ToUpper(text[:1]) + text[1:])}})
	}
	p.Sections = append(p.Sections,
		manpage.Section{Title: "Commands", Blocks: list},
		manpage.Section{Title: "Exit status", Blocks: []manpage.Block{
			manpage.Tagged{Tag: fmt.Sprint(exitOK), Body: []manpage.Block{manpage.Para("Success: the check passed, the config is valid, the daemon stopped on a signal.")}},
			manpage.Tagged{Tag: fmt.Sprint(exitFailed), Body: []manpage.Block{manpage.Para("The check failed, the config is invalid, or the daemon failed.")}},
			manpage.Tagged{Tag: fmt.Sprint(exitUsage), Body: []manpage.Block{manpage.Para("A usage error: an unknown command or flag, a bad flag value.")}},
		}},
		manpage.Section{Title: "Files", Blocks: []manpage.Block{
			manpage.Tagged{Tag: "/etc/vantage/vantage.toml", Body: []manpage.Block{manpage.Para("The watchlist of vantage run, validate, check --config and notify-test.")}},
			manpage.Tagged{Tag: "/etc/vantage/agent.toml", Body: []manpage.Block{manpage.Para("The settings of vantage agent under its systemd unit.")}},
		}},
	)
	var see []string
	for _, n := range manCommands() {
		see = append(see, "vantage-"+n+"(1)")
	}
	see = append(see, "vantage.toml(5)", "systemd.service(5)")
	p.Sections = append(p.Sections, manpage.Section{Title: "See also", Blocks: []manpage.Block{manpage.Para(strings.Join(see, ", "))}})
	return p
}

// configPage is vantage.toml(5), made from config.example.toml, which is
// checked against the keys the config decodes.
func configPage() (manpage.Page, error) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "config.example.toml"))
	if err != nil {
		return manpage.Page{}, err
	}
	known := config.Keys()
	ref, err := manpage.ParseReference(string(src), known)
	if err != nil {
		return manpage.Page{}, fmt.Errorf("config.example.toml: %w", err)
	}
	p := manpage.Page{Name: "vantage.toml", Section: 5, Summary: "the vantage watchlist: monitors, vantages, receivers and routes"}
	p.Sections = append(p.Sections,
		manpage.Section{Title: "Synopsis", Blocks: []manpage.Block{manpage.Para("/etc/vantage/vantage.toml")}},
		manpage.Section{Title: "Description", Blocks: manpage.Blocks(ref.Intro)},
	)
	var defaults *manpage.Table
	for i := range ref.Tables {
		if ref.Tables[i].Name == "defaults" {
			defaults = &ref.Tables[i]
		}
	}
	for _, t := range ref.Tables {
		title := "Top-level keys"
		if t.Header != "" {
			title = t.Header
		}
		blocks := manpage.Blocks(t.Doc)
		for _, k := range t.Keys {
			body := manpage.Blocks(k.Doc)
			if len(body) == 0 && t.Name == "monitor" && defaults != nil && slicesContains(known["defaults"], k.Names[0]) {
				body = []manpage.Block{manpage.Para("As in [defaults], for this monitor.")}
			}
			body = append(body, manpage.Literal(k.Example))
			blocks = append(blocks, manpage.Tagged{Tag: strings.Join(k.Names, ", "), Body: body})
		}
		p.Sections = append(p.Sections, manpage.Section{Title: title, Blocks: blocks})
	}
	p.Sections = append(p.Sections, manpage.Section{Title: "See also", Blocks: []manpage.Block{manpage.Para("vantage(1), vantage-validate(1), vantage-run(1); /usr/share/doc/vantage/config.example.toml, the file this page is made from.")}})
	return p, nil
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// generatedDocs is every generated file by its repository path.
func generatedDocs(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	files["docs/man/vantage.1"] = mainPage().Roff()
	cmds := commands()
	for _, n := range manCommands() {
		files["docs/man/vantage-"+n+".1"] = commandPage(cmds[n]).Roff()
	}
	cp, err := configPage()
	if err != nil {
		t.Fatal(err)
	}
	files["docs/man/vantage.toml.5"] = cp.Roff()
	for shell, name := range map[string]string{"bash": "vantage.bash", "zsh": "_vantage", "fish": "vantage.fish"} {
		var b bytes.Buffer
		completionWriter(shell)(&b)
		files["docs/completion/"+name] = b.String()
	}
	return files
}

// TestGeneratedDocs regenerates the man pages and completion scripts and
// compares them with the committed ones, which make install and the .deb
// ship. After changing a command, a flag or config.example.toml:
//
//	go test ./cmd/vantage -run TestGeneratedDocs -update
func TestGeneratedDocs(t *testing.T) {
	files := generatedDocs(t)
	if *update {
		for path, content := range files {
			full := filepath.Join(repoRoot, path)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil {
			t.Errorf("%s: %v (run go test ./cmd/vantage -run TestGeneratedDocs -update)", path, err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s is not what the definitions generate; run go test ./cmd/vantage -run TestGeneratedDocs -update", path)
		}
	}
	// No page or script left over from a command that is gone.
	for _, dir := range []string{"docs/man", "docs/completion"} {
		entries, err := os.ReadDir(filepath.Join(repoRoot, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if _, ok := files[dir+"/"+e.Name()]; !ok {
				t.Errorf("%s/%s is not generated from any definition: remove it", dir, e.Name())
			}
		}
	}
}

// Every flag of every command is on its page, and the page has no flag
// the command does not take.
func TestManPagesListEveryFlag(t *testing.T) {
	cmds := commands()
	for _, n := range manCommands() {
		page := commandPage(cmds[n]).Roff()
		fs := definedFlags(cmds[n])
		fs.VisitAll(func(f *flag.Flag) {
			want := `\fB\-\-` + strings.ReplaceAll(f.Name, "-", `\-`) + `\fR`
			if len(f.Name) == 1 {
				want = `\fB\-` + f.Name + `\fR`
			}
			if !strings.Contains(page, want) {
				t.Errorf("vantage-%s(1) does not document %s", n, f.Name)
			}
		})
	}
}

var unfillable = regexp.MustCompile(`warning \[.*\]: (?:can't break|cannot adjust) line`)

// man renders every page without a warning (what lintian's
// manpage-has-errors-from-man checks).
func TestManPagesRender(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Fatal("man is not installed: apt-get install -y man-db")
	}
	files := generatedDocs(t)
	var paths []string
	for p := range files {
		if strings.HasPrefix(p, "docs/man/") {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		tmp := filepath.Join(t.TempDir(), filepath.Base(p))
		if err := os.WriteFile(tmp, []byte(files[p]), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", tmp)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "LC_ALL=C.UTF-8")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = nil, &stderr
		err := cmd.Run()
		// As lintian does, a line too long to fill (a URL) is no error.
		var problems []string
		for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
			if line != "" && !unfillable.MatchString(line) {
				problems = append(problems, line)
			}
		}
		if err != nil || len(problems) > 0 {
			t.Errorf("%s: man: %v\n%s", p, err, strings.Join(problems, "\n"))
		}
	}
}
