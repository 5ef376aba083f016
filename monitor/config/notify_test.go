package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNotifyMaxRetryAfter(t *testing.T) {
	hermeticEnv(t)
	const mon = `
[[monitor]]
name = "m"
url = "https://m.example.com/"
`
	cfg, err := Parse("mem.toml", []byte(mon))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notify.MaxRetryAfter != 10*time.Minute {
		t.Errorf("default max_retry_after = %s, want 10m", cfg.Notify.MaxRetryAfter)
	}
	cfg, err = Parse("mem.toml", []byte("[notify]\nmax_retry_after = \"30m\"\n"+mon))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notify.MaxRetryAfter != 30*time.Minute {
		t.Errorf("max_retry_after = %s, want 30m", cfg.Notify.MaxRetryAfter)
	}
	for _, bad := range []string{`"0s"`, `"48h"`} {
		_, err = Parse("mem.toml", []byte("[notify]\nmax_retry_after = "+bad+"\n"+mon))
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("max_retry_after = %s: err %v, want a validation error", bad, err)
		}
		if got := strings.Join(ve.Lines(), "\n"); !strings.Contains(got, "mem.toml:2") || !strings.Contains(got, "max_retry_after") {
			t.Errorf("max_retry_after = %s: %q does not name the file, line and key", bad, got)
		}
	}
}
