package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// TestDiagnosisColours: with colour on, the verdict, the scope (as bad as
// it is) and the gateway are coloured and nothing else changes; the zero
// palette writes plain text.
func TestDiagnosisColours(t *testing.T) {
	r := result.Outcome{
		Result: result.Result{URL: "https://shop.example.test/", Class: result.ClassBadGateway, Status: 502, Gateway: "nginx", Via: []string{"Cloudflare"}},
		Scope:  result.ScopeEveryone,
		Vantages: []result.VantageLine{
			{Name: "local", Status: result.VantageDown},
			{Name: "fra1", Status: result.VantageDown},
		},
	}
	var plain, coloured bytes.Buffer
	writeDiagnosis(&plain, &r, palette{})
	writeDiagnosis(&coloured, &r, palette{on: true})
	if strings.Contains(plain.String(), "\x1b") {
		t.Errorf("the zero palette writes escape codes:\n%q", plain.String())
	}
	for _, want := range []string{
		"\x1b[1;31mDOWN\x1b[0m  https://shop.example.test/\n",
		"  scope     \x1b[1;31mdown for everyone\x1b[0m\n",
		"  gateway   \x1b[36mnginx\x1b[0m, behind Cloudflare\n",
	} {
		if !strings.Contains(coloured.String(), want) {
			t.Errorf("coloured diagnosis lacks %q:\n%s", want, coloured.String())
		}
	}
	if got := stripSGR(coloured.String()); got != plain.String() {
		t.Errorf("colour changed the text:\n%s\nwant:\n%s", got, plain.String())
	}

	for scope, sgr := range map[result.Scope]string{result.ScopePartial: sgrYellow, result.ScopeJustMe: sgrYellow, result.ScopeUnknown: sgrYellow} {
		r.Scope = scope
		var b bytes.Buffer
		writeDiagnosis(&b, &r, palette{on: true})
		if want := "  scope     \x1b[" + sgr + "m" + scopeWords(&r) + "\x1b[0m\n"; !strings.Contains(b.String(), want) {
			t.Errorf("scope %s: lacks %q:\n%s", scope, want, b.String())
		}
	}

	r = result.Outcome{Result: result.Result{URL: "https://shop.example.test/", OK: true, Class: result.ClassOK, Status: 200}}
	var b bytes.Buffer
	writeDiagnosis(&b, &r, palette{on: true})
	if !strings.HasPrefix(b.String(), "\x1b[1;32mUP\x1b[0m  ") {
		t.Errorf("UP is not green:\n%q", b.String())
	}
}

// env is a getenv of kv.
func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// TestPaletteFor: a buffer, a file or a pipe is no terminal, so gets no
// colour (check_color_linux_test.go has the terminal).
func TestPaletteFor(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": f, "pipe": w} {
		if p := paletteFor(out, env(map[string]string{"TERM": "xterm"})); p.on {
			t.Errorf("%s: colour on", name)
		}
	}
}

// stripSGR removes the colour codes palette writes.
func stripSGR(s string) string {
	for _, sgr := range []string{sgrBoldRed, sgrBoldGreen, sgrYellow, sgrCyan, "0"} {
		s = strings.ReplaceAll(s, "\x1b["+sgr+"m", "")
	}
	return s
}
