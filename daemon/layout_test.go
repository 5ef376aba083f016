package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The daemon is the wiring: it sits above monitor/ and notify/, and so does
// cmd/. Nothing under monitor/ may depend on notify/, on the daemon or on a
// command, in its code or in its tests, or the layer rule stops holding the
// moment somebody reaches upwards for a convenient helper.
func TestMonitorImportsNothingAbove(t *testing.T) {
	const module = "github.com/vantage-monitor/vantage"
	above := []string{module + "/notify", module + "/daemon", module + "/cmd"}
	isAbove := func(path string) bool {
		path = basePath(path)
		for _, a := range above {
			if path == a || strings.HasPrefix(path, a+"/") {
				return true
			}
		}
		return false
	}

	// go test puts its own GOROOT/bin first on the PATH of the tests.
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("finding the go command: %v", err)
	}
	// -test includes every package's test variants and external test
	// packages, so a test that imports the daemon counts too. The module
	// root is the parent of this package's directory.
	cmd := exec.Command(goCmd, "list", "-deps", "-test", "-json=ImportPath,Imports,Deps", "./monitor/...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./monitor/...: %v\n%s", err, stderr.String())
	}

	type pkg struct {
		ImportPath string
		Imports    []string
		Deps       []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list's output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	byPath := make(map[string]*pkg, len(pkgs))
	for i := range pkgs {
		byPath[pkgs[i].ImportPath] = &pkgs[i]
	}

	checked := 0
	for _, p := range pkgs {
		base := basePath(p.ImportPath)
		if base != module+"/monitor" && !strings.HasPrefix(base, module+"/monitor/") || strings.HasSuffix(base, ".test") {
			continue // not under monitor/, or a generated test main (its package is checked)
		}
		checked++
		var bad []string
		for _, d := range p.Deps {
			if isAbove(d) {
				bad = append(bad, basePath(d))
			}
		}
		if len(bad) == 0 {
			continue
		}
		slices.Sort(bad)
		bad = slices.Compact(bad)
		// Name the imports of p that lead there, so the fix is obvious.
		var via []string
		for _, imp := range p.Imports {
			if isAbove(imp) {
				via = append(via, basePath(imp))
				continue
			}
			if q := byPath[imp]; q != nil && slices.ContainsFunc(q.Deps, isAbove) {
				via = append(via, basePath(imp))
			}
		}
		t.Errorf("%s depends on %s (through its imports %s): nothing under monitor/ may import notify/, daemon/ or cmd/",
			p.ImportPath, strings.Join(bad, ", "), strings.Join(via, ", "))
	}
	if checked == 0 {
		t.Fatalf("go list found no package under monitor/:\n%s", out)
	}
}

// basePath strips the test variant suffix go list gives a package built for
// a test ("p [p.test]").
func basePath(path string) string {
	if i := strings.Index(path, " ["); i >= 0 {
		return path[:i]
	}
	return path
}
