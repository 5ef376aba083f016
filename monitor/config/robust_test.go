package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

var oddDocs = []string{
	"monitor = 5",
	"monitor = [1, 2]",
	"monitor = [{ name = \"a\", url = \"https://a.example.com/\", timout = \"1s\" }]",
	"defaults = []",
	"[[defaults]]\nx = 1",
	"canary = \"x\"",
	"[canary]\nurls = [[1], { a = 1 }]",
	"[[monitor]]\nname = \"a\"\nurl = \"https://a.example.com/\"\nheaders = [\"x\"]\nexpect_status = []\nmax_body = \"lots\"",
	"[[monitor]]\n[monitor.headers]\nA = \"1\"\n[[monitor]]\nname = \"\"",
	"[[maintenance]]\nname = \"m\"\ntags = [\"x\"]\nstart = 10:00:00\nend = 2026-01-01",
	"[[receiver]]\ntype = 1",
	"resolvers = \"9.9.9.9\"",
	"retention = 99999999999999",
	"status_page = []\nhistory = [1]",
	"[status_page]\nlisten = 5\nmonitors = [[1], { a = 1 }]\nhostnames = \"a\"\n[history]\nkeep_removed = true",
}

// TestOddDocuments: malformed shapes give errors with lines, never a panic.
func TestOddDocuments(t *testing.T) {
	hermeticEnv(t)
	for _, doc := range oddDocs {
		_, err := Parse("odd.toml", []byte(doc))
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%q: err = %v, want a *ValidationError", doc, err)
			continue
		}
		for _, fe := range ve.Errors {
			if fe.Line == 0 {
				t.Errorf("%q: %v has no line", doc, fe)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, d := range oddDocs {
		f.Add(d)
	}
	f.Add("[[monitor]]\nname = \"a\"\nurl = \"https://a.example.com/\"\nschedule = \"*/5 * * * *\"\n")
	f.Fuzz(func(t *testing.T, doc string) {
		cfg, err := parse("fuzz.toml", []byte(doc), env{
			lookup:   func(string) (string, bool) { return "", false },
			readFile: func(string) ([]byte, error) { return nil, errors.New("no files in fuzzing") },
			home:     func() (string, error) { return "/home/fuzz", nil },
		})
		if (cfg == nil) == (err == nil) {
			t.Fatalf("cfg %v, err %v", cfg, err)
		}
	})
}

func bigWatchlist(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[[monitor]]\nname = \"m%d\"\nurl = \"https://m%d.example.com/\"\nschedule = \"*/%d * * * *\"\ntags = [\"t%d\"]\n\n", i, i, i%30+1, i%7)
	}
	return []byte(b.String())
}

func TestLoadManyMonitors(t *testing.T) {
	hermeticEnv(t)
	cfg, err := Parse("big.toml", bigWatchlist(2000))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Monitors) != 2000 || cfg.Monitor("m1999").Schedule.String() != "*/20 * * * *" || cfg.Monitor("m1999").Line != 1999*6+1 {
		t.Fatalf("loaded %d monitors; last: %+v", len(cfg.Monitors), cfg.Monitor("m1999"))
	}
}

// BenchmarkLoad10k measures a reload of a 10,000-monitor watchlist.
func BenchmarkLoad10k(b *testing.B) {
	data := bigWatchlist(10000)
	for b.Loop() {
		if _, err := Parse("big.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}
