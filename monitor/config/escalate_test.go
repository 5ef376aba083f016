package config

import (
	"slices"
	"testing"
	"time"
)

func TestEscalationKeysLoad(t *testing.T) {
	t.Setenv("T", "xoxb-test")
	cfg, err := Parse("escalate.toml", []byte(`
[[receiver]]
name = "ops"
type = "slack"
channel = "C1"
token_env = "T"

[[receiver]]
name = "pager"
type = "slack"
channel = "C2"
token_env = "T"

[[route]]
receivers = ["ops"]
escalate_after = "15m"
escalate_to = ["pager"]

[[route]]
receivers = ["ops"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Routes[0]; r.EscalateAfter != 15*time.Minute || !slices.Equal(r.EscalateTo, []string{"pager"}) {
		t.Errorf("escalating route: after %s, to %v", r.EscalateAfter, r.EscalateTo)
	}
	if r := cfg.Routes[1]; r.EscalateAfter != 0 || r.EscalateTo != nil {
		t.Errorf("plain route: after %s, to %v; want no escalation", r.EscalateAfter, r.EscalateTo)
	}
}

// The error messages, with their file:line, are in
// testdata/invalid-escalate.golden (TestInvalidConfigs); these are the
// ones each rule must give, placed on the key at fault.
func TestEscalationErrorsNameTheLineAndKey(t *testing.T) {
	t.Setenv("T", "xoxb-test")
	head := `[[receiver]]
name = "ops"
type = "slack"
channel = "C1"
token_env = "T"
[[receiver]]
name = "pager"
type = "slack"
channel = "C2"
token_env = "T"

[[route]]
name = "r"
receivers = ["ops"]
`
	for _, tc := range []struct{ body, want string }{
		{`escalate_after = "15m"`, `e.toml:15: route "r": escalate_to: missing: escalate_after needs the receivers to escalate to`},
		{`escalate_to = ["pager"]`, `e.toml:15: route "r": escalate_after: missing: escalate_to needs the time after which an unacknowledged incident is escalated`},
		{"escalate_after = \"59s\"\nescalate_to = [\"pager\"]", `e.toml:15: route "r": escalate_after: 59s is under 1m: give people the time to acknowledge`},
		{"escalate_to = [\"opz\"]\nescalate_after = \"1h\"", `e.toml:15: route "r": escalate_to: no receiver named "opz" (did you mean "ops"?)`},
	} {
		_, err := Parse("e.toml", []byte(head+tc.body+"\n"))
		if err == nil {
			t.Errorf("%q: loaded, want %s", tc.body, tc.want)
			continue
		}
		if got := err.Error(); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.body, got, tc.want)
		}
	}
}
