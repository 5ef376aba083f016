package tomlguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func nested(open, close string, n int) string {
	return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
}

func TestCheckRefusesDeepNesting(t *testing.T) {
	for name, tc := range map[string]struct {
		doc  string
		line int
	}{
		"inline tables":      {"x = 1\n\ny = " + nested("{a = ", "}", MaxDepth+1) + "\n", 3},
		"arrays":             {"y = " + nested("[", "]", MaxDepth+1) + "\n", 1},
		"dotted key":         {"\n" + strings.Repeat("a.", MaxDepth+1) + "a = 1\n", 2},
		"header":             {"[" + strings.Repeat("a.", MaxDepth) + "a]\n", 1},
		"header plus key":    {"[" + strings.Repeat("a.", 20) + "a]\n" + strings.Repeat("b.", 12) + "b = 1\n", 2},
		"multi-line array":   {"y = [\n" + strings.Repeat("[\n", MaxDepth) + "1" + strings.Repeat("]", MaxDepth) + "]\n", MaxDepth + 1},
		"key inside inline":  {"y = {" + strings.Repeat("a.", MaxDepth) + "a = 1}\n", 1},
		"after a string":     {"s = \"\"\"\n{{{\n\"\"\"\ny = " + nested("{a = ", "}", MaxDepth+1) + "\n", 4},
		"mixed array/table":  {"y = " + nested("[{a = ", "}]", MaxDepth/2+1) + "\n", 1},
		"sibling keys carry": {"y = {" + strings.Repeat("b = 1, ", 100) + strings.Repeat("a.", MaxDepth) + "a = 1}\n", 1},
	} {
		t.Run(name, func(t *testing.T) {
			err := Check([]byte(tc.doc))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Check = %v, want an *Error", err)
			}
			if e.Line != tc.line || !strings.Contains(e.Msg, "nested deeper than 32") {
				t.Fatalf("Check = line %d %q, want line %d and the limit", e.Line, e.Msg, tc.line)
			}
		})
	}
}

// TestCheckAcceptsWhatIsNotNesting: brackets, braces and dots in strings,
// comments and values are not nesting, and nesting up to the limit is fine.
// Every document is valid TOML, so the parser agrees it is a document.
func TestCheckAcceptsWhatIsNotNesting(t *testing.T) {
	deep := strings.Repeat("[[[[[[[[[[{{{{{{{{{{....", 100)
	for name, doc := range map[string]string{
		"at the limit":        "y = " + nested("{a = ", "}", MaxDepth) + "\n",
		"arrays at the limit": "y = " + nested("[", "]", MaxDepth) + "\n",
		"dotted at the limit": strings.Repeat("a.", MaxDepth) + "a = 1\n",
		"basic string":        "s = \"" + deep + "\"\n",
		"escaped quote":       "s = \"\\\"" + deep + "\"\n",
		"literal string":      "s = '" + deep + "\\'\n",
		"multi-line basic":    "s = \"\"\"\n" + deep + "\n\\\"\"\"" + deep + "\"\"\"\"\n",
		"multi-line literal":  "s = '''\n" + deep + "\n'''\n",
		"comment":             "# " + deep + "\na = 1 # " + deep + "\n",
		"quoted keys":         "\"" + deep + "\" = 1\n['x" + deep + "']\nb = 1\n",
		"quoted header":       "[\"" + deep + "\"]\nb = 1\n",
		"values with dots":    "f = 1.5\nd = 1979-05-27T07:32:00.999Z\nl = [1.1, 2.2, {x = 3.3}]\n",
		"many headers":        strings.Repeat("[a.b.c.d]\nx.y.z = 1\n", 1) + strings.Repeat("[[m]]\nh.k = {a = [1, {b = 2}]}\n", 1000),
		"many siblings":       "y = {" + siblings("b%d.c.d = 1, ") + "e = 1}\n" + siblings("f%d.g.h = 1\n"),
		"many top-level":      strings.Repeat("a = [[[[1]]]]\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			if err := Check([]byte(doc)); err != nil {
				t.Fatalf("Check: %v", err)
			}
			var raw map[string]any
			if _, err := toml.Decode(doc, &raw); err != nil {
				t.Fatalf("not valid TOML, fix the test: %v", err)
			}
		})
	}
}

func siblings(format string) string {
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

func TestCheckSize(t *testing.T) {
	// A size-limit-sized comment is fine; one byte more is not.
	doc := make([]byte, MaxSize)
	doc[0] = '#'
	for i := 1; i < len(doc); i++ {
		doc[i] = 'x'
	}
	if err := Check(doc); err != nil {
		t.Fatalf("Check of exactly MaxSize bytes: %v", err)
	}
	doc = append(doc, 'x')
	if err := Check(doc); !IsLimit(err) || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Fatalf("Check of MaxSize+1 bytes = %v, want the size limit", err)
	}
}

// TestReadFileStopsAtTheLimit: a huge file is refused after reading
// MaxSize+1 bytes, not read whole.
func TestReadFileStopsAtTheLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.toml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: 1 GiB on disk costs nothing, but reading it whole would.
	if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = ReadFile(path)
	runtime.ReadMemStats(&after)
	if !IsLimit(err) {
		t.Fatalf("ReadFile of 1 GiB = %v, want the size limit", err)
	}
	// One buffer of the limit's size.
	if got := after.TotalAlloc - before.TotalAlloc; got > MaxSize+1<<20 {
		t.Fatalf("ReadFile allocated %d MiB for a refused 1 GiB file", got>>20)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFile of a missing file = %v", err)
	}
}

// TestCheckIsCheap: the pre-scan of a bomb allocates next to nothing, where
// the parser would take hundreds of megabytes.
func TestCheckIsCheap(t *testing.T) {
	bomb := []byte("a = " + nested("{a = ", "}", 4000) + "\n")
	allocs := testing.AllocsPerRun(10, func() { _ = Check(bomb) })
	if allocs > 10 { // the stack, the error and its text; the parser makes millions
		t.Fatalf("Check of a 24 KB bomb made %.0f allocations", allocs)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		if err := Check(bomb); !IsLimit(err) {
			t.Fatalf("Check of the bomb = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Fatalf("10 Checks of the bomb allocated %d bytes", got)
	}
}

// TestCheckLevels: many tables just under the depth limit are refused once
// they add up, while a large flat watchlist is not.
func TestCheckLevels(t *testing.T) {
	one := "k = " + nested("{a = ", "}", MaxDepth) + "\n"
	bomb := strings.Repeat(one, 2<<20/len(one)) // 2 MB: 700 MB in the parser
	err := Check([]byte(bomb))
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "nests too much in all") {
		t.Fatalf("Check of 2 MB of tables %d deep = %v, want the levels limit", MaxDepth, err)
	}
	if want := MaxLevels/(MaxDepth*(MaxDepth+1)/2) + 1; e.Line != want {
		t.Errorf("refused at line %d, want %d", e.Line, want)
	}
	var b strings.Builder
	for i := 0; b.Len() < MaxSize-300; i++ {
		fmt.Fprintf(&b, "[[monitor]]\nname = \"m%d\"\nurl = \"https://m%d.example.com/\"\nheaders = { Accept = \"*/*\" }\ntags = [\"t%d\"]\n\n", i, i, i%7)
	}
	if err := Check([]byte(b.String())); err != nil {
		t.Fatalf("Check of a %d-byte watchlist: %v", b.Len(), err)
	}
}
