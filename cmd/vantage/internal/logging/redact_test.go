package logging

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/redact"
)

// TestRedact: with Options.Redact, no line carries a secret, in any format,
// under the journal or not.
func TestRedact(t *testing.T) {
	r := redact.New([]redact.Secret{{Value: "smtp-pass-77", User: "alerts"}})
	blob := base64.StdEncoding.EncodeToString([]byte("\x00alerts\x00smtp-pass-77"))
	for _, format := range []string{"text", "json"} {
		for _, journal := range []bool{false, true} {
			f, id := stream(t)
			getenv := env()
			if journal {
				getenv = env("JOURNAL_STREAM", id)
			}
			l, _ := New(f, Options{Format: format, Level: slog.LevelInfo, Getenv: getenv, Redact: r.String})
			l.With("receiver", "mail").Error("notification failed: 535 "+blob, "err", errors.New("smtp-pass-77 refused"), "url", "https://x/?token=t-1")
			out := strings.Join(contents(t, f), "\n")
			for _, leak := range []string{blob, "smtp-pass-77", "t-1"} {
				if strings.Contains(out, leak) {
					t.Errorf("%s, journal %v: %q in\n%s", format, journal, leak, out)
				}
			}
			if !strings.Contains(out, "notification failed: 535") || !strings.Contains(out, "receiver") {
				t.Errorf("%s, journal %v: the line lost its text: %s", format, journal, out)
			}
			if journal && !strings.HasPrefix(out, "<3>") {
				t.Errorf("%s under the journal lost its priority: %s", format, out)
			}
		}
	}
}
