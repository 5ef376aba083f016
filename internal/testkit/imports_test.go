package testkit_test

import (
	"os/exec"
	"strings"
	"testing"
)

const kit = "github.com/vantage-monitor/vantage/internal/testkit"

// TestOnlyTestsImportTheKit keeps the fake clock out of the binary: a
// package's own code that imported the kit could be handed a clock that never
// moves. `go list` without -test reports only the imports of non-test files.
func TestOnlyTestsImportTheKit(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("listing the module's imports: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Fields(imports) {
			if imp == kit || strings.HasPrefix(imp, kit+"/") {
				t.Errorf("%s imports %s outside its tests", pkg, imp)
			}
		}
	}
}
