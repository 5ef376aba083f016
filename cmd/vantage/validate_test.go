package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const configTestdata = "../../monitor/config/testdata"

// validateEnv pins what the config loader reads from the environment, as the
// config package's own golden tests do, so the messages match theirs.
func validateEnv(t *testing.T) {
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-from-env")
	t.Setenv("VANTAGE_TEST_EMPTY", "")
	t.Setenv("VANTAGE_TEST_UNSET", "")
	os.Unsetenv("VANTAGE_TEST_UNSET")
}

func TestValidateInvalidFiles(t *testing.T) {
	validateEnv(t)
	files, err := filepath.Glob(filepath.Join(configTestdata, "invalid-*.toml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid-*.toml under %s: %v", configTestdata, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			golden, err := os.ReadFile(strings.TrimSuffix(file, ".toml") + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			// The goldens name the file as the config package opens it.
			want := strings.ReplaceAll(string(golden), "testdata/", configTestdata+"/")
			wantLines := strings.Split(strings.TrimRight(want, "\n"), "\n")

			code, stdout, stderr := runCLI(t, "validate", "-config", file)
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			if len(lines) != len(wantLines)+1 {
				t.Fatalf("stderr:\n%s\nwant every golden line and a summary:\n%s", stderr, want)
			}
			for i, w := range wantLines {
				if lines[i] != w {
					t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], w)
				}
			}
			if sum := lines[len(lines)-1]; !strings.HasPrefix(sum, "vantage validate: the config has ") {
				t.Errorf("summary line %q", sum)
			}
		})
	}
}

func TestValidateValidFile(t *testing.T) {
	validateEnv(t)
	file := filepath.Join(configTestdata, "valid.toml")
	code, stdout, stderr := runCLI(t, "validate", "-config", file)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	want := file + ": OK: 3 monitors, 0 receivers, 0 routes, 1 vantage\n"
	if stdout != want || stderr != "" {
		t.Errorf("stdout %q stderr %q, want %q", stdout, stderr, want)
	}
}

func TestValidateMissingFileAndUsage(t *testing.T) {
	code, _, stderr := runCLI(t, "validate", "-config", filepath.Join(t.TempDir(), "absent.toml"))
	if code != exitFailed || !strings.Contains(stderr, "absent.toml") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := runCLI(t, "validate", "extra"); code != exitUsage {
		t.Errorf("extra argument: exit %d, want %d", code, exitUsage)
	}
	if code, _, _ := runCLI(t, "validate", "-nope"); code != exitUsage {
		t.Errorf("unknown flag: exit %d, want %d", code, exitUsage)
	}
}
