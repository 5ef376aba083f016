package config

import (
	"testing"
)

func TestScanLines(t *testing.T) {
	src := `# comment = 1
top = "x" # trailing
multi = """
fake = 1
[fake]
"""
arr = [
  "a", # one
  "b",
]
"quoted.key" = 1
dotted.inner = 2

[defaults]
h = { A = "1", "B" = { c = 2 } }

[[monitor]]
name = "a"
lit = '''
[[monitor]]
'''

[monitor.headers]
X = "y"

[[monitor]]
name = "b"

[[monitor.check]]
k = 1
[[monitor.check]]
k = 2
`
	ix := scanLines([]byte(src))
	want := map[string]int{
		"top":                   2,
		"multi":                 3,
		"arr":                   7,
		"arr[0]":                8,
		"arr[1]":                9,
		"quoted.key":            11,
		"dotted":                12,
		"dotted.inner":          12,
		"defaults":              14,
		"defaults.h":            15,
		"defaults.h.A":          15,
		"defaults.h.B.c":        15,
		"monitor[0]":            17,
		"monitor[0].name":       18,
		"monitor[0].lit":        19,
		"monitor[0].headers":    23,
		"monitor[0].headers.X":  24,
		"monitor[1]":            26,
		"monitor[1].name":       27,
		"monitor[1].check[0]":   29,
		"monitor[1].check[0].k": 30,
		"monitor[1].check[1].k": 32,
	}
	for path, line := range want {
		if got := ix[path]; got != line {
			t.Errorf("%s: line %d, want %d", path, got, line)
		}
	}
	for _, bogus := range []string{"fake", "monitor[2]"} {
		if _, ok := ix[bogus]; ok {
			t.Errorf("%s was read from inside a string", bogus)
		}
	}
	if got := ix.lookup("monitor[1].timeout"); got != 26 {
		t.Errorf("lookup falls back to the table: %d", got)
	}
	if got := ix.lookup("nothing.here"); got != 0 {
		t.Errorf("lookup of unknown = %d", got)
	}
}

// TestScanLinesNoHang feeds the scanner malformed input: it must end.
func TestScanLinesNoHang(t *testing.T) {
	for _, src := range []string{"[", "[[", "a = ", "a = [", "a = {", `a = "`, "a = '''", "= = =", "}}}", "[a.]\n]]", "\x00\xff"} {
		scanLines([]byte(src))
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"timeout", "schedule", "state_dir", "expect_status"}
	for in, want := range map[string]string{
		"timout":        ` (did you mean "timeout"?)`,
		"tiemout":       ` (did you mean "timeout"?)`,
		"stat_dir":      ` (did you mean "state_dir"?)`,
		"expect_stauts": ` (did you mean "expect_status"?)`,
		"frobnicate":    "",
		"Timeout":       ` (did you mean "timeout"?)`,
	} {
		if got := suggest(in, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
