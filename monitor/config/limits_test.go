package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/config/tomlguard"
)

const limitsMonitor = "[[monitor]]\nname = \"shop\"\nurl = \"https://shop.example.com/\"\n"

// TestNestingBombRefused: a 12 KB file of nested inline tables, which costs
// BurntSushi/toml half a gigabyte, is refused by the pre-scan with its
// file:line, allocating next to nothing.
func TestNestingBombRefused(t *testing.T) {
	hermeticEnv(t)
	const depth = 2000
	bomb := limitsMonitor + "headers = " + strings.Repeat("{a = ", depth) + "\"x\"" + strings.Repeat("}", depth) + "\n"
	path := filepath.Join(t.TempDir(), "bomb.toml")
	if err := os.WriteFile(path, []byte(bomb), 0o600); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Load(path)
	runtime.ReadMemStats(&after)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 {
		t.Fatalf("Load of a nesting bomb = %v, want one validation error", err)
	}
	if got, want := ve.Errors[0].Error(), path+":4: nested deeper than 32 levels"; !strings.HasPrefix(got, want) {
		t.Fatalf("error %q, want it to start with %q", got, want)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("refusing a %d-byte bomb allocated %d KiB", len(bomb), got>>10)
	}
	// Parse (a config already in memory) is guarded the same way.
	if _, err := Parse("mem.toml", []byte(bomb)); !errors.As(err, &ve) || !strings.HasPrefix(ve.Error(), "mem.toml:4: nested") {
		t.Fatalf("Parse of a nesting bomb = %v", err)
	}
}

// TestBracketsInStringsAreNotNesting: text full of brackets, in every kind
// of string and in comments, loads as before.
func TestBracketsInStringsAreNotNesting(t *testing.T) {
	hermeticEnv(t)
	deep := strings.Repeat("{[", 100)
	doc := "# " + deep + "\n" + limitsMonitor +
		"expect_body = \"" + deep + "\" # " + deep + "\n" +
		"description = '''\n" + deep + "\n'''\n" +
		"headers = { X = '" + deep + "', Y = \"\"\"" + deep + "\"\"\" }\n"
	cfg, err := Parse("strings.toml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	m := cfg.Monitor("shop")
	if m.ExpectBody != deep || m.Headers["X"] != deep || m.Headers["Y"] != deep || m.Description != deep+"\n" {
		t.Fatalf("monitor decoded as %+v", m)
	}
}

// TestOversizeConfigRefused: one byte over 16 MiB is refused with the file
// name, before parsing.
func TestOversizeConfigRefused(t *testing.T) {
	hermeticEnv(t)
	path := filepath.Join(t.TempDir(), "huge.toml")
	pad := tomlguard.MaxSize + 1 - len(limitsMonitor)
	line := "#" + strings.Repeat("x", 1022) + "\n"
	doc := limitsMonitor + strings.Repeat(line, pad/len(line)) + strings.Repeat("#", pad%len(line))
	if len(doc) != 16<<20+1 {
		t.Fatalf("test document is %d bytes", len(doc))
	}
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.HasPrefix(ve.Error(), path+": file is larger than 16 MiB") {
		t.Fatalf("Load of 16 MiB + 1 byte = %v", err)
	}
	// One byte less is a (large) valid config.
	if err := os.WriteFile(path, []byte(doc[:len(doc)-1]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatalf("Load of exactly 16 MiB: %v", err)
	}
}
