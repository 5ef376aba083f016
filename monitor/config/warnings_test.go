package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/probe"
)

// loadDir writes src as vantage.toml in a new directory (with files
// beside it) and loads it, so relative ca_file paths resolve there.
func loadDir(t *testing.T, src string, files map[string][]byte) (*Config, string, error) {
	t.Helper()
	hermeticEnv(t)
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "vantage.toml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file)
	return cfg, file, err
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	hermeticEnv(t)
	cfg, err := Parse("mem.toml", []byte(src))
	if err != nil {
		t.Fatalf("config does not load:\n%v", err)
	}
	return cfg
}

// parseErrors loads src and returns every message, failing when it loads.
func parseErrors(t *testing.T, src string) []string {
	t.Helper()
	hermeticEnv(t)
	_, err := Parse("mem.toml", []byte(src))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse = %v, want a *ValidationError", err)
	}
	return ve.Lines()
}

// wantMessages checks that got holds exactly want, in order.
func wantMessages(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWarningKeysFromDefaults(t *testing.T) {
	ca := testkit.NewCA(t, "Private Test CA")
	cfg, _, err := loadDir(t, `
[defaults]
cert_warn_days = [30, 3]
degraded = { total = "800ms", ttfb = "500ms", connect = "150ms" }
degraded_rounds = 4
ca_file = "ca.pem"
expect_json = [{ path = "$.status", equals = "ok" }]
expect_header = { "Content-Type" = "application/json" }

[[monitor]]
name = "inherits"
url = "https://a.example.com/"

[[monitor]]
name = "own"
url = "https://b.example.com/"
cert_warn_days = [5]
degraded = { tls = "300ms" }
degraded_rounds = 1
ca_file = ""
expect_json = [{ path = "$.version", matches = "^2\\." }, { path = "$.checks[*].healthy", equals = true }]
expect_header = { "X-Backend" = "~^web-[0-9]+$" }
`, map[string][]byte{"ca.pem": ca.PEM()})
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Monitor("inherits")
	if !slices.Equal(in.CertWarnDays, []int{30, 3}) || in.DegradedRounds != 4 {
		t.Errorf("inherited cert_warn_days %v, degraded_rounds %d", in.CertWarnDays, in.DegradedRounds)
	}
	if want := (Degraded{Total: 800 * time.Millisecond, TTFB: 500 * time.Millisecond, Connect: 150 * time.Millisecond}); in.Degraded != want {
		t.Errorf("inherited degraded = %+v, want %+v", in.Degraded, want)
	}
	spec := in.Spec()
	if spec.CAPEM != string(ca.PEM()) {
		t.Errorf("inherited CAPEM = %q, want the CA's PEM", spec.CAPEM)
	}
	if want := []probe.JSONAssertion{{Path: "$.status", Equals: "ok"}}; !reflect.DeepEqual(spec.ExpectJSON, want) {
		t.Errorf("inherited expect_json = %#v", spec.ExpectJSON)
	}
	if want := map[string]string{"Content-Type": "application/json"}; !reflect.DeepEqual(spec.ExpectHeader, want) {
		t.Errorf("inherited expect_header = %v", spec.ExpectHeader)
	}
	if in.Plan == nil {
		t.Error("no plan compiled")
	}

	// A monitor's own value replaces the default's whole, degraded and
	// expect_header included; ca_file = "" drops the inherited CA.
	own := cfg.Monitor("own")
	if !slices.Equal(own.CertWarnDays, []int{5}) || own.DegradedRounds != 1 {
		t.Errorf("own cert_warn_days %v, degraded_rounds %d", own.CertWarnDays, own.DegradedRounds)
	}
	if want := (Degraded{TLS: 300 * time.Millisecond}); own.Degraded != want {
		t.Errorf("own degraded = %+v, want %+v (no default thresholds merged in)", own.Degraded, want)
	}
	spec = own.Spec()
	if spec.CAPEM != "" || own.CAFile != "" {
		t.Errorf("ca_file = \"\" kept the default CA: %q", own.CAFile)
	}
	want := []probe.JSONAssertion{{Path: "$.version", Matches: `^2\.`}, {Path: "$.checks[*].healthy", Equals: true}}
	if !reflect.DeepEqual(spec.ExpectJSON, want) {
		t.Errorf("own expect_json = %#v, want %#v", spec.ExpectJSON, want)
	}
	if want := map[string]string{"X-Backend": "~^web-[0-9]+$"}; !reflect.DeepEqual(spec.ExpectHeader, want) {
		t.Errorf("own expect_header = %v, want %v", spec.ExpectHeader, want)
	}
	// The defaults' slices are not shared with the monitors.
	in.CertWarnDays[0] = 99
	if cfg.Defaults.CertWarnDays[0] != 30 {
		t.Error("a monitor's cert_warn_days aliases [defaults]'")
	}
}

func TestCertWarnDaysUnsetAndOff(t *testing.T) {
	for _, tc := range []struct {
		name, defaults, monitor string
		want                    []int
	}{
		{"unset", "", "", []int{21, 7, 2}},
		{"off in defaults", "cert_warn_days = []", "", []int{}},
		{"off per monitor", "cert_warn_days = [14]", "cert_warn_days = []", []int{}},
		{"on again per monitor", "cert_warn_days = []", "cert_warn_days = [10]", []int{10}},
		{"sorted largest first", "", "cert_warn_days = [2, 30, 7]", []int{30, 7, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustParse(t, "[defaults]\n"+tc.defaults+"\n[[monitor]]\nname = \"m\"\nurl = \"https://m.example.com/\"\n"+tc.monitor+"\n")
			m := cfg.Monitor("m")
			if !slices.Equal(m.CertWarnDays, tc.want) {
				t.Errorf("cert_warn_days = %v, want %v", m.CertWarnDays, tc.want)
			}
			// Off is an empty list, which the JSON (and so a reload's diff) shows.
			if len(tc.want) == 0 && (m.CertWarnDays == nil || !strings.Contains(mustJSON(t, m), `"cert_warn_days":[]`)) {
				t.Errorf("off cert_warn_days is %#v", m.CertWarnDays)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	cfg := &Config{Monitors: []Monitor{*v.(*Monitor)}}
	s, err := jsonOf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCertWarnDaysErrors(t *testing.T) {
	got := parseErrors(t, `[defaults]
cert_warn_days = [21, 7, 21]

[[monitor]]
name = "m"
url = "https://m.example.com/"
cert_warn_days = [
  0,
  4000,
  "7",
]
`)
	wantMessages(t, got,
		`mem.toml:2: defaults: cert_warn_days: element 3: 21 is listed twice`,
		`mem.toml:7: monitor "m": cert_warn_days: element 3: expected an integer, got string "7"`,
	)
	got = parseErrors(t, `[[monitor]]
name = "m"
url = "https://m.example.com/"
cert_warn_days = [
  0,
  4000,
  7,
]
`)
	wantMessages(t, got,
		`mem.toml:5: monitor "m": cert_warn_days: element 1: 0 is not a number of days from 1 to 3650`,
		`mem.toml:6: monitor "m": cert_warn_days: element 2: 4000 is not a number of days from 1 to 3650`,
	)
}

func TestDegraded(t *testing.T) {
	cfg := mustParse(t, `
[[monitor]]
name = "inline"
url = "https://a.example.com/"
degraded = { total = "800ms", ttfb = "500ms", connect = "150ms" }

[[monitor]]
name = "table"
url = "https://b.example.com/"
timeout = "5s"
degraded_rounds = 5
[monitor.degraded]
dns = "100ms"
tls = "200ms"
transfer = "1s"
`)
	if m := cfg.Monitor("inline"); m.Degraded != (Degraded{Total: 800 * time.Millisecond, TTFB: 500 * time.Millisecond, Connect: 150 * time.Millisecond}) || m.DegradedRounds != DefaultDegradedRounds {
		t.Errorf("inline: %+v, rounds %d", m.Degraded, m.DegradedRounds)
	}
	if m := cfg.Monitor("table"); m.Degraded != (Degraded{DNS: 100 * time.Millisecond, TLS: 200 * time.Millisecond, Transfer: time.Second}) || m.DegradedRounds != 5 {
		t.Errorf("table: %+v, rounds %d", m.Degraded, m.DegradedRounds)
	}

	got := parseErrors(t, `[defaults]
timeout = "2s"
degraded = { total = "3s" }

[[monitor]]
name = "m"
url = "https://m.example.com/"
degraded_rounds = 0
[monitor.degraded]
total = "1s"
tffb = "500ms"
connect = "0s"
dns = "-5ms"
tls = "2s"
transfer = 1

[[monitor]]
name = "short"
url = "https://short.example.com/"
timeout = "1s"
degraded = { ttfb = "1500ms" }

[[monitor]]
name = "inherits"
url = "https://inherits.example.com/"
degraded = "fast"
`)
	wantMessages(t, got,
		`mem.toml:3: defaults: degraded.total: 3s is not under the timeout 2s: a check that slow is cut off and fails, so the threshold can never be seen`,
		`mem.toml:8: monitor "m": degraded_rounds: must be at least 1, not 0`,
		`mem.toml:11: monitor "m": degraded: unknown phase "tffb" (did you mean "ttfb"?); the thresholds are total, dns, connect, tls, ttfb, transfer`,
		`mem.toml:12: monitor "m": degraded.connect: must be longer than 0s; omit the key to turn this threshold off`,
		`mem.toml:13: monitor "m": degraded.dns: -5ms is negative; omit the key to turn this threshold off`,
		`mem.toml:14: monitor "m": degraded.tls: 2s is not under the timeout 2s: a check that slow is cut off and fails, so the threshold can never be seen`,
		`mem.toml:15: monitor "m": degraded.transfer: expected a duration such as "500ms", "30s", "5m" or "1h30m", got integer 1`,
		`mem.toml:21: monitor "short": degraded.ttfb: 1.5s is not under the timeout 1s: a check that slow is cut off and fails, so the threshold can never be seen`,
		`mem.toml:26: monitor "inherits": degraded: expected a table of durations such as { total = "800ms", ttfb = "500ms" }, got string "fast"`,
	)

	// An inherited threshold meets a monitor's own shorter timeout: the
	// monitor's timeout is what to change.
	got = parseErrors(t, `[defaults]
degraded = { ttfb = "4s" }

[[monitor]]
name = "m"
url = "https://m.example.com/"
timeout = "3s"
`)
	wantMessages(t, got, `mem.toml:7: monitor "m": timeout: 3s is not longer than degraded.ttfb = 4s from [defaults], which then can never be seen`)
}

func TestMonitorCAFile(t *testing.T) {
	ca := testkit.NewCA(t, "Private Test CA")
	const monitor = "[[monitor]]\nname = \"m\"\nurl = \"https://m.example.com/\"\n"

	t.Run("ok, relative to the config", func(t *testing.T) {
		// A bundle that also holds a private key: only the certificate
		// goes into the spec, which travels to remote vantages.
		dir := t.TempDir()
		testkit.WriteKeyPair(t, ca.Leaf(t, []string{"m.example.com"}), filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "leaf.key"))
		key, err := os.ReadFile(filepath.Join(dir, "leaf.key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := loadDir(t, monitor+"ca_file = \"bundle.pem\"\n", map[string][]byte{"bundle.pem": append(key, ca.PEM()...)})
		if err != nil {
			t.Fatal(err)
		}
		m := cfg.Monitor("m")
		if m.CAPEM != string(ca.PEM()) || m.Spec().CAPEM != string(ca.PEM()) {
			t.Errorf("CAPEM = %q, want only the CA certificate", m.CAPEM)
		}
		if strings.Contains(m.CAPEM, "PRIVATE KEY") {
			t.Error("the private key went into the spec")
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, file, err := loadDir(t, monitor+"ca_file = \"nope.pem\"\n", nil)
		wantLoadError(t, err, file+`:4: monitor "m": ca_file: cannot read `+filepath.Join(filepath.Dir(file), "nope.pem")+": no such file or directory")
	})
	t.Run("no certificate", func(t *testing.T) {
		_, file, err := loadDir(t, monitor+"ca_file = \"junk.pem\"\n", map[string][]byte{"junk.pem": []byte("not a certificate\n")})
		wantLoadError(t, err, file+`:4: monitor "m": ca_file: `+filepath.Join(filepath.Dir(file), "junk.pem")+" holds no PEM certificate")
	})
	t.Run("garbage in a certificate block", func(t *testing.T) {
		junk := "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
		_, file, err := loadDir(t, monitor+"ca_file = \"junk.pem\"\n", map[string][]byte{"junk.pem": []byte(junk)})
		if err == nil || !strings.Contains(err.Error(), file+`:4: monitor "m": ca_file: `+filepath.Join(filepath.Dir(file), "junk.pem")+": a certificate does not parse") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("more than a vantage request carries", func(t *testing.T) {
		var bundle []byte
		for len(bundle) <= maxCAPEMSize {
			bundle = append(bundle, testkit.NewCA(t, "Bundle CA").PEM()...)
		}
		_, file, err := loadDir(t, monitor+"ca_file = \"big.pem\"\n", map[string][]byte{"big.pem": bundle})
		if err == nil || !strings.Contains(err.Error(), file+`:4: monitor "m": ca_file: `) || !strings.Contains(err.Error(), "more than the 49152 a probe request to a vantage can carry") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("with insecure", func(t *testing.T) {
		_, file, err := loadDir(t, monitor+"ca_file = \"ca.pem\"\ninsecure = true\n", map[string][]byte{"ca.pem": ca.PEM()})
		wantLoadError(t, err, file+`:5: monitor "m": insecure: turns off the verification ca_file is for; set one or the other`)
	})
	t.Run("with insecure from defaults", func(t *testing.T) {
		_, file, err := loadDir(t, "[defaults]\ninsecure = true\n"+monitor+"ca_file = \"ca.pem\"\n", map[string][]byte{"ca.pem": ca.PEM()})
		wantLoadError(t, err, file+`:6: monitor "m": ca_file: is set, but insecure = true from [defaults] turns off the verification it is for; set one or the other`)
	})
}

func wantLoadError(t *testing.T, err error, want ...string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Load = %v, want a *ValidationError", err)
	}
	wantMessages(t, ve.Lines(), want...)
}

func TestExpectJSONErrors(t *testing.T) {
	got := parseErrors(t, `[[monitor]]
name = "m"
url = "https://m.example.com/"
expect_json = [
  { path = "$.status", equals = "ok" },
  { path = "$.checks[", equals = true },
  { path = "$.a", equals = "x", matches = "x" },
  { path = "$.a", equals = ["ok"] },
  { path = "$.a", equals = { b = 1 } },
  { path = "$.a", matches = "(" },
  { path = "$.a" },
  { equals = 1 },
  { path = "$.a", equal = 1 },
]

[[monitor]]
name = "tables"
url = "https://tables.example.com/"

[[monitor.expect_json]]
path = "$.ok"
equals = true

[[monitor.expect_json]]
path = "status"
equals = "ok"
`)
	wantMessages(t, got,
		`mem.toml:6: monitor "m": expect_json[1].path: "$.checks[" is not an RFC 9535 JSONPath: unexpected eof at position 10`,
		`mem.toml:7: monitor "m": expect_json[2]: has both equals and matches; give one of them`,
		`mem.toml:8: monitor "m": expect_json[3].equals: expected a string, integer, float or boolean, got an array: each node the path selects is compared on its own, so select the elements ("$.list[*]") and compare them`,
		`mem.toml:9: monitor "m": expect_json[4].equals: expected a string, integer, float or boolean, got a table: select the member with the path ("$.obj.key") and compare it`,
		"mem.toml:10: monitor \"m\": expect_json[5].matches: \"(\" is not a regular expression: missing closing ): `(`",
		`mem.toml:11: monitor "m": expect_json[6]: needs equals (a string, number or boolean) or matches (a regular expression)`,
		`mem.toml:12: monitor "m": expect_json[7]: missing path, such as "$.status"`,
		`mem.toml:13: monitor "m": expect_json[8]: unknown key "equal" (did you mean "equals"?); an assertion has path and one of equals or matches`,
		`mem.toml:13: monitor "m": expect_json[8]: needs equals (a string, number or boolean) or matches (a regular expression)`,
		`mem.toml:25: monitor "tables": expect_json[1].path: "status" is not an RFC 9535 JSONPath: unexpected identifier at position 1`,
	)
}

func TestExpectJSONValues(t *testing.T) {
	cfg := mustParse(t, `[[monitor]]
name = "m"
url = "https://m.example.com/"
expect_json = [
  { path = "$.n", equals = 2 },
  { path = "$.f", equals = 2.5 },
  { path = "$.b", equals = false },
  { path = "$.s", equals = "" },
]
`)
	want := []probe.JSONAssertion{{Path: "$.n", Equals: int64(2)}, {Path: "$.f", Equals: 2.5}, {Path: "$.b", Equals: false}, {Path: "$.s", Equals: ""}}
	if got := cfg.Monitor("m").ExpectJSON; !reflect.DeepEqual(got, want) {
		t.Errorf("expect_json = %#v, want %#v", got, want)
	}
	// false and "" are values to compare with, not left out.
	if s := mustJSON(t, cfg.Monitor("m")); !strings.Contains(s, `"equals":false`) || !strings.Contains(s, `"equals":""`) {
		t.Errorf("JSON drops a zero equals: %s", s)
	}
}

func TestExpectHeader(t *testing.T) {
	cfg := mustParse(t, `[[monitor]]
name = "m"
url = "https://m.example.com/"
expect_header = { "content-type" = "application/json", "X-Served-By" = "~^cache-(fra|iad)" }
`)
	if want := map[string]string{"content-type": "application/json", "X-Served-By": "~^cache-(fra|iad)"}; !reflect.DeepEqual(cfg.Monitor("m").ExpectHeader, want) {
		t.Errorf("expect_header = %v", cfg.Monitor("m").ExpectHeader)
	}
	got := parseErrors(t, `[[monitor]]
name = "m"
url = "https://m.example.com/"
expect_header = { "X-Version" = "~^2\\.(" }

[[monitor]]
name = "n"
url = "https://n.example.com/"
[monitor.expect_header]
"bad name" = "x"
content-type = "json"
Content-Type = "json"
X-Count = 3
`)
	wantMessages(t, got,
		"mem.toml:4: monitor \"m\": expect_header: \"X-Version\": \"^2\\\\.(\" is not a regular expression: missing closing ): `^2\\.(`",
		`mem.toml:10: monitor "n": expect_header: "bad name" is not a valid header name`,
		`mem.toml:12: monitor "n": expect_header: "Content-Type" is also given as "content-type"; header names are case-insensitive`,
		`mem.toml:13: monitor "n": expect_header: "X-Count": expected a string (a substring of the value, or "~regex"), got integer 3`,
	)
}

func TestDiffSeesWarningKeys(t *testing.T) {
	const base = `[[monitor]]
name = "m"
url = "https://m.example.com/"
`
	old := mustParse(t, base+`expect_json = [{ path = "$.status", equals = "ok" }]`)
	for name, src := range map[string]string{
		"expect_json equals":  base + `expect_json = [{ path = "$.status", equals = "fine" }]`,
		"expect_json type":    base + `expect_json = [{ path = "$.status", equals = true }]`,
		"expect_json removed": base,
		"expect_header":       base + `expect_json = [{ path = "$.status", equals = "ok" }]` + "\nexpect_header = { Server = \"nginx\" }",
		"cert_warn_days":      base + `expect_json = [{ path = "$.status", equals = "ok" }]` + "\ncert_warn_days = []",
		"degraded":            base + `expect_json = [{ path = "$.status", equals = "ok" }]` + "\ndegraded = { ttfb = \"1s\" }",
		"degraded_rounds":     base + `expect_json = [{ path = "$.status", equals = "ok" }]` + "\ndegraded_rounds = 5",
	} {
		if got := Diff(old, mustParse(t, src)); !slices.Equal(got.Changed, []string{"m"}) {
			t.Errorf("%s: Changed = %v, want [m]", name, got.Changed)
		}
	}
	if got := Diff(old, mustParse(t, base+`expect_json = [{ path = "$.status", equals = "ok" }]`)); len(got.Changed) > 0 {
		t.Errorf("the same config: Changed = %v", got.Changed)
	}

	// A CA file rewritten under the same name is a change.
	a, b := testkit.NewCA(t, "CA one"), testkit.NewCA(t, "CA two")
	src := base + "ca_file = \"ca.pem\"\n"
	before, _, err := loadDir(t, src, map[string][]byte{"ca.pem": a.PEM()})
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := loadDir(t, src, map[string][]byte{"ca.pem": b.PEM()})
	if err != nil {
		t.Fatal(err)
	}
	if got := Diff(before, after); !slices.Equal(got.Changed, []string{"m"}) {
		t.Errorf("new CA content: Changed = %v, want [m]", got.Changed)
	}
}
