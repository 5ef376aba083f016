package manpage

import (
	"strings"
	"testing"
)

const sample = `# Intro line one
# and two.
#
#   literal
# ---------------------------------------------------------------------------
# Top level
# ---------------------------------------------------------------------------

# Where the store lives.
state_dir = "/var/lib/x"

# ---------------------------------------------------------------------------
# [[monitor]]: one URL to watch.
# ---------------------------------------------------------------------------
[[monitor]]
# Unique name.
name = "a"
# Window and threshold: flap_threshold = 0 turns it off.
flap_window = "1h"
flap_threshold = 6
# token_env = "X"
`

func TestParseReference(t *testing.T) {
	known := map[string][]string{"": {"state_dir"}, "monitor": {"name", "flap_window", "flap_threshold"}}
	ref, err := ParseReference(sample, known)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.Intro) != 2 || ref.Intro[0] != "Intro line one and two." || ref.Intro[1] != "  literal" {
		t.Errorf("intro = %q", ref.Intro)
	}
	if len(ref.Tables) != 2 || ref.Tables[1].Header != "[[monitor]]" || ref.Tables[1].Doc[0] != "One URL to watch." {
		t.Fatalf("tables = %+v", ref.Tables)
	}
	keys := ref.Tables[1].Keys
	if len(keys) != 2 || strings.Join(keys[1].Names, ",") != "flap_window,flap_threshold" {
		t.Errorf("monitor keys = %+v", keys)
	}
}

// The reference must document exactly the keys the config decodes.
func TestParseReferenceDrift(t *testing.T) {
	_, err := ParseReference(sample, map[string][]string{"": {"state_dir", "listen"}, "monitor": {"name", "flap_window", "flap_threshold"}})
	if err == nil || !strings.Contains(err.Error(), `the top level key "listen" is not documented`) {
		t.Errorf("an undocumented key: %v", err)
	}
	_, err = ParseReference(sample, map[string][]string{"": {}, "monitor": {"name", "flap_window", "flap_threshold"}})
	if err == nil || !strings.Contains(err.Error(), `documents "state_dir", which the config does not decode`) {
		t.Errorf("a key that does not exist: %v", err)
	}
}

func TestRoffEscapes(t *testing.T) {
	p := Page{Name: "x-y", Section: 1, Summary: "s", Sections: []Section{{Title: "Options", Blocks: []Block{
		Para(".starts with a dot, has a back\\slash, --flag and x-y(1)"),
		Tagged{Tag: "--max-body", Arg: "SIZE", Body: []Block{Para("text"), Literal("a\n  b")}},
	}}}}
	out := p.Roff()
	for _, want := range []string{`\&.starts`, `back\eslash`, `\-\-flag`, `x\-y(1)`, `\fB\-\-max\-body\fR \fISIZE\fR`, ".nf\na\n  b\n.fi", ".TH X-Y 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("roff lacks %q:\n%s", want, out)
		}
	}
}
