package systemd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testVersion is what the tests build with: a tag plus commits, so the
// .deb's version mapping ("v" dropped, "-" to "+" and ".") is exercised.
const (
	testVersion    = "v1.2.3-4-gabcdef0"
	testDebVersion = "1.2.3+4.gabcdef0"
)

var (
	repoRoot string // the module root, where the Makefile is
	buildDir string // where TestMain's `make build` left the binary
	binPath  string // buildDir/vantage
	buildErr error  // why there is no binary, reported by every test that needs it
)

// TestMain builds the binary once with the Makefile's own build target; the
// install and deb tests reuse it (go build leaves an up-to-date file alone).
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "finding the repository root:", err)
		return 1
	}
	repoRoot = root
	tmp, err := os.MkdirTemp("", "vantage-systemd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "making a temp dir:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	buildDir = filepath.Join(tmp, "build")
	binPath = filepath.Join(buildDir, "vantage")
	if !optedOut() {
		if _, err := exec.LookPath("make"); err != nil {
			buildErr = fmt.Errorf("make is not installed: apt-get install -y make (or opt out with VANTAGE_E2E=off)")
		} else if out, err := runMake("build", "BUILDDIR="+buildDir); err != nil {
			buildErr = fmt.Errorf("make build: %w\n%s", err, out)
		}
	}
	return m.Run()
}

func optedOut() bool { return strings.EqualFold(os.Getenv("VANTAGE_E2E"), "off") }

// needBinary stops a test that builds or installs: skipped only on the
// explicit opt-out, failed when the build failed.
func needBinary(t *testing.T) {
	t.Helper()
	if optedOut() {
		t.Skip("VANTAGE_E2E=off: unit, install and package checks opted out")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// needTool fails, never skips, when a program the check needs is missing.
func needTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: apt-get install -y %s (CI's .ci/run should; or opt out with VANTAGE_E2E=off)", name, debianPackage)
	}
	return p
}

// makeEnv is the environment for make with the variables the Makefile
// reads from it removed, so that a caller's PREFIX or VERSION cannot
// change what a test checks; each test passes what it means on the
// command line.
func makeEnv() []string {
	drop := map[string]bool{
		"PREFIX": true, "DESTDIR": true, "BINDIR": true, "DOCDIR": true, "SYSCONFDIR": true,
		"UNITDIR": true, "BUILDDIR": true, "DISTDIR": true, "VERSION": true, "DEB_VERSION": true,
		"DEB_ARCH": true, "DEB_COMPRESS": true, "GOARCH": true, "MAKEFLAGS": true, "MAKELEVEL": true, "MFLAGS": true,
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	return env
}

// runMake runs a Makefile target in the repository with the test version
// and the shared build directory unless args set them.
func runMake(target string, args ...string) (string, error) {
	full := []string{"-C", repoRoot, "--no-print-directory", target, "VERSION=" + testVersion, "BUILDDIR=" + buildDir}
	full = append(full, args...)
	cmd := exec.Command("make", full...)
	cmd.Env = makeEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// debArch is the Debian name of a Go architecture, as the Makefile maps it.
func debArch(goarch string) string {
	switch goarch {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	case "mips64le":
		return "mips64el"
	case "mipsle":
		return "mipsel"
	}
	return goarch
}

var hostDebArch = debArch(runtime.GOARCH)
