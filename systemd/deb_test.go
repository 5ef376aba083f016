package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func run1(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestDeb builds the .deb with `make deb`, inspects it, and installs,
// removes and purges it in a scratch root with the host's dpkg. Maintainer
// scripts run outside a chroot there (--force-script-chrootless) with
// DPKG_ROOT set, which they honour, so the host is never touched.
func TestDeb(t *testing.T) {
	needBinary(t)
	needTool(t, "dpkg-deb", "dpkg")
	needTool(t, "dpkg", "dpkg")
	if os.Geteuid() != 0 {
		t.Fatal("the .deb test installs into a scratch root with dpkg and needs root (CI runs as root)")
	}
	dist := t.TempDir()
	// gzip: xz, the default, takes ~15 s on 25 MB; the contents are the same.
	if out, err := runMake("deb", "DISTDIR="+dist, "DEB_COMPRESS=gzip"); err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	deb := filepath.Join(dist, "vantage_"+testDebVersion+"_"+hostDebArch+".deb")
	if _, err := os.Stat(deb); err != nil {
		entries, _ := os.ReadDir(dist)
		t.Fatalf("make deb made no %s (%v); %s holds %v", filepath.Base(deb), err, dist, entries)
	}

	t.Run("info", func(t *testing.T) {
		for field, want := range map[string]string{"Package": "vantage", "Version": testDebVersion, "Architecture": hostDebArch} {
			if got := strings.TrimSpace(run1(t, "dpkg-deb", "--field", deb, field)); got != want {
				t.Errorf("%s: %q, want %q", field, got, want)
			}
		}
		if got := run1(t, "dpkg-deb", "--info", deb, "conffiles"); got != "/etc/vantage/vantage.toml\n/etc/vantage/agent.toml\n" {
			t.Errorf("conffiles = %q, want /etc/vantage/vantage.toml and /etc/vantage/agent.toml", got)
		}
		sums := run1(t, "dpkg-deb", "--info", deb, "md5sums")
		for _, f := range []string{"usr/bin/vantage", "lib/systemd/system/vantage.service", "usr/share/doc/vantage/copyright"} {
			if !regexp.MustCompile(`(?m)^[0-9a-f]{32}  ` + regexp.QuoteMeta(f) + `$`).MatchString(sums) {
				t.Errorf("md5sums has no line for %s:\n%s", f, sums)
			}
		}
		if strings.Contains(sums, "etc/vantage") {
			t.Errorf("md5sums lists a conffile (dpkg keeps their sums itself):\n%s", sums)
		}
		info := run1(t, "dpkg-deb", "--info", deb)
		for _, script := range []string{"postinst", "prerm", "postrm"} {
			if !strings.Contains(info, " "+script+" ") {
				t.Errorf("no %s maintainer script in:\n%s", script, info)
			}
		}
	})

	// lintian is what a Debian maintainer runs before anything else: any
	// error or warning fails (info and pedantic tags do not).
	t.Run("lintian", func(t *testing.T) {
		lintian := needTool(t, "lintian", "lintian")
		out, err := exec.Command(lintian, "--fail-on", "error,warning", deb).CombinedOutput()
		var tags []string
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
				tags = append(tags, line)
			}
		}
		if err != nil || len(tags) > 0 {
			t.Errorf("lintian --fail-on error,warning %s: %v\n%s", filepath.Base(deb), err, out)
		}
	})

	// The man pages, gzipped, and the completion scripts, where man and
	// each shell look.
	t.Run("docs", func(t *testing.T) {
		listed := run1(t, "dpkg-deb", "--contents", deb)
		want := []string{
			"./usr/share/man/man1/vantage.1.gz", "./usr/share/man/man1/vantage-check.1.gz",
			"./usr/share/man/man5/vantage.toml.5.gz",
			"./usr/share/bash-completion/completions/vantage",
			"./usr/share/zsh/vendor-completions/_vantage",
			"./usr/share/fish/vendor_completions.d/vantage.fish",
		}
		pages, err := filepath.Glob(filepath.Join(repoRoot, "docs/man/*.[15]"))
		if err != nil || len(pages) == 0 {
			t.Fatalf("no pages in docs/man: %v", err)
		}
		for _, p := range pages {
			b := filepath.Base(p)
			want = append(want, "./usr/share/man/man"+b[len(b)-1:]+"/"+b+".gz")
		}
		for _, w := range want {
			if !regexp.MustCompile(`(?m)^-rw-r--r-- root/root .* ` + regexp.QuoteMeta(w) + `$`).MatchString(listed) {
				t.Errorf("the package has no %s (0644 root:root)", w)
			}
		}
	})

	t.Run("contents", func(t *testing.T) {
		listed := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(run1(t, "dpkg-deb", "--contents", deb)), "\n") {
			f := strings.Fields(line)
			if len(f) < 6 {
				t.Fatalf("odd dpkg-deb --contents line %q", line)
			}
			listed[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
		}
		for path, want := range map[string]string{
			"/usr/bin/vantage":                           "-rwxr-xr-x root/root",
			"/lib/systemd/system/vantage.service":        "-rw-r--r-- root/root",
			"/lib/systemd/system/vantage-agent.service":  "-rw-r--r-- root/root",
			"/etc/vantage/vantage.toml":                  "-rw-r--r-- root/root",
			"/usr/share/doc/vantage/config.example.toml": "-rw-r--r-- root/root",
		} {
			if got, ok := listed[path]; !ok {
				t.Errorf("%s is not in the package", path)
			} else if got != want {
				t.Errorf("%s: %s, want %s", path, got, want)
			}
		}
		for path := range listed {
			if strings.HasPrefix(path, "/usr/local") || strings.HasPrefix(path, "/var") {
				t.Errorf("%s: a package ships neither /usr/local nor state", path)
			}
		}
	})

	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg := func(args ...string) string {
		t.Helper()
		return run1(t, "dpkg", append([]string{"--root=" + root, "--force-script-chrootless", "--force-not-root"}, args...)...)
	}
	in := func(p string) string { return filepath.Join(root, p) }
	status := func() string {
		out, _ := exec.Command("dpkg", "--root="+root, "-s", "vantage").CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "Status: ") {
				return strings.TrimPrefix(line, "Status: ")
			}
		}
		return "not known"
	}

	dpkg("-i", deb)
	if s := status(); s != "install ok installed" {
		t.Fatalf("after dpkg -i: status %q", s)
	}
	// dpkg --verify checks the installed files against md5sums: silent
	// when they match, and it notices a changed file.
	if out := dpkg("--verify", "vantage"); out != "" {
		t.Errorf("dpkg --verify right after install:\n%s", out)
	}
	readme := in("usr/share/doc/vantage/README.md")
	orig := wantFile(t, readme, 0o644)
	if err := os.WriteFile(readme, []byte(orig+"changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command("dpkg", "--root="+root, "--verify", "vantage").CombinedOutput(); !strings.Contains(string(out), "/usr/share/doc/vantage/README.md") {
		t.Errorf("dpkg --verify did not notice a changed README.md: %q", out)
	}
	if err := os.WriteFile(readme, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	wantFile(t, in("usr/share/doc/vantage/copyright"), 0o644)
	wantFile(t, in("usr/share/doc/vantage/changelog.gz"), 0o644)
	if got := wantFile(t, in("etc/vantage/agent.toml"), 0o644); !strings.Contains(got, "key_file") {
		t.Error("the installed /etc/vantage/agent.toml is not the starter agent config")
	}
	wantVersion(t, in("usr/bin/vantage"))
	for _, u := range units {
		wantUnit(t, in("lib/systemd/system/"+u), u, "/usr/bin", "/usr/share/doc/vantage")
	}

	// A local edit of the conffile survives reinstalling the package.
	conf := in("etc/vantage/vantage.toml")
	edited := wantFile(t, conf, 0o644) + "\n# local edit\n"
	if err := os.WriteFile(conf, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg("-i", deb)
	if got := wantFile(t, conf, 0o644); got != edited {
		t.Error("reinstalling the .deb overwrote the edited conffile")
	}

	// The store the daemon made (under DynamicUser= it is a symlink into
	// /var/lib/private).
	if err := os.MkdirAll(in("var/lib/private/vantage"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in("var/lib/private/vantage/vantage.db"), []byte("store"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("private/vantage", in("var/lib/vantage")); err != nil {
		t.Fatal(err)
	}

	// remove: the program goes, config and state stay.
	dpkg("-r", "vantage")
	if s := status(); s != "deinstall ok config-files" {
		t.Errorf("after dpkg -r: status %q", s)
	}
	wantGone(t, in("usr/bin/vantage"))
	for _, u := range units {
		wantGone(t, in("lib/systemd/system/"+u))
	}
	if got := wantFile(t, conf, 0o644); got != edited {
		t.Error("dpkg -r removed or changed the conffile")
	}
	wantFile(t, in("var/lib/vantage/vantage.db"), 0o600)

	// purge: config and state go too.
	dpkg("--purge", "vantage")
	if s := status(); s != "not known" {
		t.Errorf("after dpkg --purge: status %q", s)
	}
	wantGone(t, conf)
	wantGone(t, in("etc/vantage"))
	wantGone(t, in("var/lib/vantage"))
	wantGone(t, in("var/lib/private/vantage"))
}
