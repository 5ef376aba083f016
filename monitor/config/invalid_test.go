package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current messages")

// hermeticEnv pins the environment variables the loader reads, so the
// golden messages do not depend on the machine.
func hermeticEnv(t *testing.T) {
	t.Helper()
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-from-env")
	t.Setenv("VANTAGE_TEST_EMPTY", "")
	t.Setenv("VANTAGE_TEST_UNSET", "")
	os.Unsetenv("VANTAGE_TEST_UNSET")
}

// TestInvalidConfigs loads every testdata/invalid-*.toml and compares the
// full list of messages, file and line included, with its .golden file.
func TestInvalidConfigs(t *testing.T) {
	hermeticEnv(t)
	files, err := filepath.Glob("testdata/invalid-*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("found %d invalid-*.toml files, want at least 15", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".toml"), func(t *testing.T) {
			cfg, err := Load(file)
			if err == nil {
				t.Fatalf("Load succeeded, want errors; config: %+v", cfg)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, want *ValidationError: %v", err, err)
			}
			got := strings.Join(ve.Lines(), "\n") + "\n"
			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("messages differ from %s\n--- got:\n%s--- want:\n%s", golden, got, want)
			}
			for _, fe := range ve.Errors {
				if fe.File != file {
					t.Errorf("error %q names file %q, want %q", fe.Error(), fe.File, file)
				}
				if fe.Line == 0 {
					t.Errorf("error %q has no line", fe.Error())
				}
			}
		})
	}
}
