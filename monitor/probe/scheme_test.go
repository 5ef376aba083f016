package probe

import (
	"strings"
	"testing"
)

// TestSchemeHint: a URL written without its scheme is told what to add,
// in the spec's validation (so the config says it too) and nothing else is.
func TestSchemeHint(t *testing.T) {
	for raw, hinted := range map[string]bool{
		"127.0.0.1:8080":         true,
		"localhost:8080/healthz": true,
		"localhost":              true,
		"shop.test/status":       true,
		"[::1]:80":               true,
		"http://shop.test/":      false,
		"ftp://shop.test/":       false,
		"mailto:ops@shop.test":   false,
		"not a url":              false,
		"/healthz":               false,
		"":                       false,
	} {
		hint := SchemeHint(raw)
		if (hint != "") != hinted {
			t.Errorf("SchemeHint(%q) = %q, want a hint: %v", raw, hint, hinted)
		}
		if !hinted {
			continue
		}
		if !strings.Contains(hint, "add http:// or https:// (http://"+raw+")") {
			t.Errorf("SchemeHint(%q) = %q: does not say what to write", raw, hint)
		}
		err := Spec{URL: raw}.Validate()
		if err == nil || !strings.Contains(err.Error(), "url: "+hint) || strings.Contains(err.Error(), "first path segment") {
			t.Errorf("Validate of %q: %v, want the hint", raw, err)
		}
	}
}
