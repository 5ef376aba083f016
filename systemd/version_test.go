package systemd

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// debVersion is what `make deb-version` says for VERSION (the Makefile's
// own default when version is empty).
func debVersion(t *testing.T, version string) string {
	t.Helper()
	args := []string{"-C", repoRoot, "--no-print-directory", "-s", "deb-version"}
	if version != "" {
		args = append(args, "VERSION="+version)
	}
	cmd := exec.Command("make", args...)
	cmd.Env = makeEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make deb-version VERSION=%s: %v\n%s", version, err, out)
	}
	return strings.TrimSpace(string(out))
}

// versionLess asks dpkg itself, the judge of what an upgrade is.
func versionLess(t *testing.T, a, b string) bool {
	t.Helper()
	err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("dpkg --compare-versions: %v", err)
	}
	return err == nil
}

var snapshot = regexp.MustCompile(`^0\.0\.0\+git[0-9]{8}\.([0-9a-f]{7})$`)

// TestDebVersion: a bare commit never outranks a release, whatever its
// first character; a tag keeps its number and its later commits sort after
// it and before the next release.
func TestDebVersion(t *testing.T) {
	needTool(t, "make", "make")
	needTool(t, "dpkg", "dpkg")
	for _, commit := range []string{"7a13c82", "1234567", "abc1234", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"} {
		got := debVersion(t, commit)
		m := snapshot.FindStringSubmatch(got)
		if m == nil || m[1] != commit[:7] {
			t.Errorf("VERSION=%s: deb version %q, want 0.0.0+git<YYYYMMDD>.%s", commit, got, commit[:7])
			continue
		}
		if !versionLess(t, got, "0.0.1") || !versionLess(t, got, "1.0.0") {
			t.Errorf("VERSION=%s: %s does not sort below the releases 0.0.1 and 1.0.0", commit, got)
		}
	}
	for version, want := range map[string]string{
		"v1.2.3":            "1.2.3",
		"1.2.3":             "1.2.3",
		"v1.2.3-4-gabcdef0": "1.2.3+4.gabcdef0",
		"v2.0.0-rc1":        "2.0.0+rc1",
	} {
		if got := debVersion(t, version); got != want {
			t.Errorf("VERSION=%s: deb version %q, want %q", version, got, want)
		}
	}
	if !versionLess(t, "1.2.3", "1.2.3+4.gabcdef0") || !versionLess(t, "1.2.3+4.gabcdef0", "1.2.4") {
		t.Error("a tag's later commits do not sort between it and the next release")
	}

	// With no VERSION given, the Makefile asks git: the nearest tag, or a
	// snapshot of HEAD.
	head, err := exec.Command("git", "-C", repoRoot, "rev-parse", "--short=7", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	got := debVersion(t, "")
	if err := exec.Command("git", "-C", repoRoot, "describe", "--tags").Run(); err == nil {
		if snapshot.MatchString(got) {
			t.Errorf("the checkout has a tag, but the deb version is the snapshot %q", got)
		}
	} else if m := snapshot.FindStringSubmatch(got); m == nil || m[1] != strings.TrimSpace(string(head)) {
		t.Errorf("untagged checkout: deb version %q, want 0.0.0+git<YYYYMMDD>.%s", got, strings.TrimSpace(string(head)))
	}
}
