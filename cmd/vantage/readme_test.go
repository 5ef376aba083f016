package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's watchlist is what newcomers copy first: it must validate.
func TestREADMEWatchlistValidates(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := fencedBlocks(string(readme), "toml")
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```toml block")
	}
	for i, b := range blocks {
		path := filepath.Join(t.TempDir(), "readme.toml")
		if err := os.WriteFile(path, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := runCLI(t, "validate", "-config", path); code != exitOK {
			t.Errorf("README toml block %d does not validate (exit %d):\n%s%s", i+1, code, out, errOut)
		}
	}
}

func fencedBlocks(doc, lang string) []string {
	var blocks []string
	for {
		i := strings.Index(doc, "```"+lang+"\n")
		if i < 0 {
			return blocks
		}
		doc = doc[i+len(lang)+4:]
		j := strings.Index(doc, "```")
		if j < 0 {
			return blocks
		}
		blocks = append(blocks, doc[:j])
		doc = doc[j+3:]
	}
}
