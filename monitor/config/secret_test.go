package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const leak = "xoxb-super-secret-value"

type holder struct {
	Token  Secret
	hidden Secret
	Ptr    *Secret
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(leak)
	h := holder{Token: s, hidden: s, Ptr: &s}
	r := Receiver{Name: "ops", Token: s, Password: s, WebhookURL: s}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-8v", "%T %v"} {
		for _, v := range []any{s, &s, h, &h, r, &r, []Secret{s}, map[string]Secret{"k": s}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, leak) || strings.Contains(out, fmt.Sprintf("%x", leak)) {
				t.Errorf("fmt %s of %T leaks: %s", verb, v, out)
			}
		}
	}
	if got := fmt.Sprint(s); got != "<secret>" {
		t.Errorf("Sprint = %q", got)
	}
	if got := fmt.Sprintf("%q", s); got != `"<secret>"` {
		t.Errorf("%%q = %q", got)
	}

	for _, v := range []any{s, h, r, map[string]any{"s": s}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(leak)) {
			t.Errorf("json of %T leaks: %s", v, b)
		}
	}
	var back string
	if b, _ := json.Marshal(s); json.Unmarshal(b, &back) != nil || back != "<secret>" {
		t.Errorf("json = %s", b)
	}
	if b, _ := s.MarshalText(); string(b) != "<secret>" {
		t.Errorf("text = %s", b)
	}

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		log := slog.New(h)
		log.Info("msg", "token", s, "ptr", &s, "holder", h, "receiver", r, slog.Any("any", s), slog.Group("g", "s", s))
	}
	if strings.Contains(buf.String(), leak) {
		t.Errorf("slog leaks:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "token=<secret>") || !strings.Contains(buf.String(), `"token":"<secret>"`) {
		t.Errorf("slog did not mask as expected:\n%s", buf.String())
	}

	if s.Reveal() != leak {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	var zero Secret
	if !zero.IsZero() || zero.Reveal() != "" || s.IsZero() {
		t.Error("IsZero wrong")
	}
}

// TestSecretErrorsNeverShowContent: a secret file that is read but rejected
// is named by path in the error, never by content.
func TestSecretErrorsNeverShowContent(t *testing.T) {
	hermeticEnv(t)
	_, err := Load("testdata/invalid-secrets.toml")
	if err == nil {
		t.Fatal("want errors")
	}
	if strings.Contains(err.Error(), "not a url") || strings.Contains(err.Error(), "xoxb-test-token") || strings.Contains(err.Error(), "xoxb-from-env") {
		t.Errorf("error shows secret content:\n%v", err)
	}
}
