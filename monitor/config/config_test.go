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

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/schedule"
)

// minPeriod is the shortest period of s, 0 when it has none.
func minPeriod(s schedule.Spec) time.Duration {
	p, _ := s.MinPeriod()
	return p
}

func mustStatus(t *testing.T, s string) probe.StatusSet {
	t.Helper()
	set, err := probe.ParseStatusSet(s)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestValidConfigSpecs(t *testing.T) {
	hermeticEnv(t)
	cfg, err := Load("testdata/valid.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]probe.Spec{
		"shop": {
			URL: "https://shop.example.com/healthz", Method: "GET",
			Headers:      map[string]string{"User-Agent": "vantage-test", "Accept": "text/plain"},
			Timeout:      5 * time.Second,
			ExpectStatus: mustStatus(t, "200,300-302"), ExpectBody: "ok",
			MaxBody: 1 << 20, MaxRedirects: 10,
		},
		"api": {
			URL: "https://api.example.com/v1/login", Method: "POST",
			Headers: map[string]string{"User-Agent": "vantage-test", "Accept": "*/*", "Content-Type": "application/json"},
			Body:    `{"user":"probe"}`, Timeout: 8 * time.Second,
			ExpectStatus: mustStatus(t, "200-299,401"), ExpectRegex: `"ok":\s*true`,
			MaxBody: 64 << 10, NoFollow: true, MaxRedirects: 10, Insecure: true,
			Resolve: []string{"api.example.com:443:2001:db8::10"}, IPVersion: 6,
		},
		"bare": {
			URL: "http://bare.example.net/", Method: "GET",
			Headers: map[string]string{"User-Agent": "vantage-test", "Accept": "*/*"},
			Timeout: 8 * time.Second, ExpectStatus: mustStatus(t, "200-399"),
			MaxBody: 1 << 20, MaxRedirects: 10,
		},
	}
	if len(cfg.Monitors) != len(want) {
		t.Fatalf("got %d monitors, want %d", len(cfg.Monitors), len(want))
	}
	for name, w := range want {
		m := cfg.Monitor(name)
		if m == nil {
			t.Fatalf("monitor %q missing", name)
		}
		got := m.Spec()
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: Spec() =\n%+v\nwant\n%+v", name, got, w)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s: spec does not validate: %v", name, err)
		}
		// The config fills every default itself: the probe's own defaults
		// must not change anything.
		if !reflect.DeepEqual(got.WithDefaults(), got) {
			t.Errorf("%s: WithDefaults changed the spec: %+v", name, got.WithDefaults())
		}
	}
	shop := cfg.Monitor("shop")
	if shop.Schedule.String() != "*/2 * * * *" || minPeriod(shop.Schedule) != 2*time.Minute {
		t.Errorf("shop schedule = %q period %s", shop.Schedule.String(), minPeriod(shop.Schedule))
	}
	if got := cfg.Monitor("api").Vantages; !reflect.DeepEqual(got, []string{"local", "fra1"}) {
		t.Errorf("api vantages = %v", got)
	}
	if got := shop.Vantages; !reflect.DeepEqual(got, []string{"local"}) {
		t.Errorf("shop vantages (from [defaults]) = %v", got)
	}
	if o, ok := cfg.Monitor("api").OriginSpec(); !ok || o.URL != "http://origin.example.net:8080/healthz" || o.Method != "POST" {
		t.Errorf("OriginSpec = %+v, %v", o, ok)
	}
	if _, ok := shop.OriginSpec(); ok {
		t.Error("shop has no origin, OriginSpec said it has")
	}
	abs, _ := filepath.Abs("testdata/state")
	if cfg.StateDir != abs {
		t.Errorf("StateDir = %q, want %q (relative to the config file)", cfg.StateDir, abs)
	}
	if got := cfg.Vantage("fra1").Key.Reveal(); got != "xoxb-test-token" {
		t.Errorf("vantage key = %q, want the trimmed file content", got)
	}
	if m := shop.Line; m != 14 {
		t.Errorf("shop Line = %d, want 14", m)
	}
}

func TestDefaultsApplied(t *testing.T) {
	hermeticEnv(t)
	cfg, err := Parse("mem.toml", []byte(`
[[vantage]]
name = "fra1"
url = "https://fra1.example.net:9208"
key_env = "VANTAGE_TEST_TOKEN"

[[monitor]]
name = "m"
url = "https://m.example.com/"
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9207" || cfg.LogLevel != "info" || cfg.LogFormat != "text" ||
		cfg.Retention != DefaultRetention || cfg.MaxConcurrency != DefaultMaxConcurrency || cfg.RetentionAge != 0 {
		t.Errorf("top-level defaults wrong: %+v", cfg)
	}
	if cfg.Canary.Every != time.Minute || cfg.Canary.Timeout != 5*time.Second || len(cfg.Canary.URLs) != 0 {
		t.Errorf("canary defaults wrong: %+v", cfg.Canary)
	}
	m := cfg.Monitor("m")
	want := Monitor{
		Name: "m", URL: "https://m.example.com/", Timeout: 10 * time.Second,
		Method: "GET", ExpectStatus: mustStatus(t, "200-399"), FollowRedirects: true, MaxRedirects: 10, MaxBody: 1 << 20,
		Confirm: 2, Recover: 2, RetryDelay: 5 * time.Second,
		FlapWindow: time.Hour, FlapThreshold: 6, Severity: incident.SeverityCritical,
		Vantages: []string{"local", "fra1"}, Line: 7,
		CertWarnDays: DefaultCertWarnDays, DegradedRounds: DefaultDegradedRounds,
	}
	if m.Schedule.String() != "@every 30s" || minPeriod(m.Schedule) != 30*time.Second {
		t.Errorf("schedule = %q / %s", m.Schedule.String(), minPeriod(m.Schedule))
	}
	got := *m
	got.Schedule = schedule.Spec{}
	got.Plan = nil // compiled from the fields compared here
	if !reflect.DeepEqual(got, want) {
		t.Errorf("monitor =\n%+v\nwant\n%+v", got, want)
	}
	if len(cfg.Routes) != 0 {
		t.Errorf("no receivers, yet routes: %+v", cfg.Routes)
	}
}

func TestImplicitRoute(t *testing.T) {
	hermeticEnv(t)
	cfg, err := Parse("mem.toml", []byte(`
[[receiver]]
name = "a"
type = "slack"
channel = "C1"
token_env = "VANTAGE_TEST_TOKEN"

[[receiver]]
name = "b"
type = "email"
smtp = "smtp.example.com:465"
from = "v@example.com"
to = ["o@example.com"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Routes) != 1 || !cfg.Routes[0].Implicit || !reflect.DeepEqual(cfg.Routes[0].Receivers, []string{"a", "b"}) {
		t.Errorf("routes = %+v", cfg.Routes)
	}
	if r := cfg.Receiver("b"); r.TLS != TLSImplicit || r.Timeout != DefaultSMTPTimeout {
		t.Errorf("email on 465: tls %q timeout %s", r.TLS, r.Timeout)
	}
	if r := cfg.Receiver("a"); r.Token.Reveal() != "xoxb-from-env" || r.Timeout != DefaultNotifyTimeout {
		t.Errorf("slack receiver: token from env %q, timeout %s", r.Token.Reveal(), r.Timeout)
	}
}

// TestExampleConfig loads the real config.example.toml from the repository
// root, with its secrets provided the systemd way.
func TestExampleConfig(t *testing.T) {
	hermeticEnv(t)
	creds := t.TempDir()
	for name, content := range map[string]string{
		"slack-token":     "xoxb-example\n",
		"smtp-pass":       "hunter2\n",
		"fra1.key":        "0123456789abcdef\n",
		"api-token":       "Bearer api-token-value\n",
		"status-password": "status-pass\n",
	} {
		if err := os.WriteFile(filepath.Join(creds, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	t.Setenv("VANTAGE_IAD1_KEY", "fedcba9876543210")
	t.Setenv("VANTAGE_TEAM_WEBHOOK", "https://hooks.example.com/services/T0/B0/x")

	cfg, err := Load("../../config.example.toml")
	if err != nil {
		t.Fatalf("config.example.toml does not load:\n%v", err)
	}
	if len(cfg.Monitors) != 3 || len(cfg.Vantages) != 2 || len(cfg.Receivers) != 3 || len(cfg.Routes) != 2 || len(cfg.Maintenance) != 2 {
		t.Errorf("unexpected counts: %d monitors, %d vantages, %d receivers, %d routes, %d windows",
			len(cfg.Monitors), len(cfg.Vantages), len(cfg.Receivers), len(cfg.Routes), len(cfg.Maintenance))
	}
	if got := cfg.Receiver("ops-slack").Token.Reveal(); got != "xoxb-example" {
		t.Errorf("slack token from $CREDENTIALS_DIRECTORY = %q", got)
	}
	if got := cfg.Receiver("oncall-mail").Password.Reveal(); got != "hunter2" {
		t.Errorf("smtp password = %q", got)
	}
	if got := cfg.Resolvers; !reflect.DeepEqual(got, []string{"192.0.2.53:53", "[2001:db8::53]:53"}) {
		t.Errorf("resolvers = %v", got)
	}
	if h := cfg.History; !h.Enabled || h.MaintenanceCountsAsDown || h.KeepRemoved != DefaultKeepRemoved {
		t.Errorf("history = %+v, want the documented defaults", h)
	}
	if p := cfg.StatusPage; p.Listen != "0.0.0.0:8080" || p.Title != "Example status" || !slices.Equal(p.Hostnames, []string{"status.example.org"}) {
		t.Errorf("status page = %+v", p)
	}
	// shop by name, status-page by its tag "public"; api-login neither.
	for name, want := range map[string]bool{"shop": true, "status-page": true, "api-login": false} {
		if got := cfg.StatusPage.Shows(cfg.Monitor(name)); got != want {
			t.Errorf("status page shows %s = %v, want %v", name, got, want)
		}
	}
	// The keys of docs/warnings.md, as the example sets them.
	shop := cfg.Monitor("shop")
	if len(shop.ExpectJSON) != 3 || shop.ExpectJSON[2].Matches != `^2\.` || len(shop.ExpectHeader) != 2 ||
		!slices.Equal(shop.CertWarnDays, []int{30, 14, 3}) || shop.DegradedRounds != 2 || shop.Degraded.TTFB != 1500*time.Millisecond {
		t.Errorf("shop's warnings and assertions = %v %v %v %d %+v", shop.ExpectJSON, shop.ExpectHeader, shop.CertWarnDays, shop.DegradedRounds, shop.Degraded)
	}
	if got := cfg.Monitor("status-page").CertWarnDays; len(got) != 0 {
		t.Errorf("status-page cert_warn_days = %v, want off", got)
	}
	if got := cfg.Monitor("api-login"); !slices.Equal(got.CertWarnDays, DefaultCertWarnDays) || got.DegradedRounds != DefaultDegradedRounds || got.Degraded.Set() {
		t.Errorf("api-login = %v %d %+v, want the defaults", got.CertWarnDays, got.DegradedRounds, got.Degraded)
	}
	login := cfg.Monitor("api-login")
	if login.Spec().NoFollow != true || login.Headers["User-Agent"] == "" || login.Headers["Content-Type"] != "application/json" {
		t.Errorf("api-login = %+v", login)
	}
}

// TestExampleDocumentsEveryKey makes sure every key the loader accepts is
// mentioned in config.example.toml.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, typ := range []reflect.Type{
		reflect.TypeFor[Config](), reflect.TypeFor[Monitor](), reflect.TypeFor[Vantage](),
		reflect.TypeFor[Canary](), reflect.TypeFor[Receiver](), reflect.TypeFor[Route](),
		reflect.TypeFor[Maintenance](), reflect.TypeFor[Notify](), reflect.TypeFor[Web](),
		reflect.TypeFor[History](), reflect.TypeFor[StatusPage](),
	} {
		_, names := tomlFields(typ)
		for _, n := range names {
			if !strings.Contains(text, n+" =") && !strings.Contains(text, "["+n+"]") && !strings.Contains(text, "[["+n+"]]") {
				t.Errorf("%s key %q is not documented in config.example.toml", typ.Name(), n)
			}
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	_, err := Parse("x.toml", []byte("a = 1\nb = [1, 2\n"))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 {
		t.Fatalf("err = %v", err)
	}
	if fe := ve.Errors[0]; fe.Line != 2 && fe.Line != 3 {
		t.Errorf("syntax error at line %d: %v", fe.Line, fe)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	var ve *ValidationError
	if err == nil || errors.As(err, &ve) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a wrapped not-exist error", err)
	}
}

func TestDefaultPath(t *testing.T) {
	if DefaultPath() != "/etc/vantage/vantage.toml" {
		t.Error(DefaultPath())
	}
}

func TestStateDirDefault(t *testing.T) {
	src := []byte("[[monitor]]\nname = \"m\"\nurl = \"https://m.example.com/\"\n")
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct {
		name, stateDirectory, xdg, want string
	}{
		{"systemd", "/var/lib/vantage", "/x/state", "/var/lib/vantage"},
		{"systemd several", "/var/lib/vantage:/var/lib/other", "", "/var/lib/vantage"},
		{"xdg", "", "/x/state", "/x/state/vantage"},
		{"xdg relative is ignored", "", "rel", filepath.Join(home, ".local/state/vantage")},
		{"home", "", "", filepath.Join(home, ".local/state/vantage")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("STATE_DIRECTORY", tt.stateDirectory)
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			cfg, err := Parse("/etc/vantage/vantage.toml", src)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.StateDir != tt.want {
				t.Errorf("StateDir = %q, want %q", cfg.StateDir, tt.want)
			}
		})
	}
	t.Run("explicit wins", func(t *testing.T) {
		t.Setenv("STATE_DIRECTORY", "/var/lib/vantage")
		cfg, err := Parse("/etc/vantage/vantage.toml", append([]byte("state_dir = \"/srv/v\"\n"), src...))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.StateDir != "/srv/v" {
			t.Errorf("StateDir = %q", cfg.StateDir)
		}
	})
	t.Run("no home", func(t *testing.T) {
		e := env{
			lookup:   func(string) (string, bool) { return "", false },
			readFile: os.ReadFile,
			home:     func() (string, error) { return "", errors.New("no home") },
		}
		_, err := parse("v.toml", src, e)
		if err == nil || !strings.Contains(err.Error(), "v.toml: state_dir: not set") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestMutedUntil(t *testing.T) {
	cfg, err := Parse("m.toml", []byte(`
[[monitor]]
name = "shop"
url = "https://shop.example.com/"
tags = ["prod"]

[[monitor]]
name = "blog"
url = "https://blog.example.com/"

[[maintenance]]
name = "deploy"
monitors = ["shop"]
schedule = "0 3 * * *"
duration = "30m"

[[maintenance]]
name = "overrun"
tags = ["prod"]
start = 2026-11-21T03:20:00Z
end = 2026-11-21T04:00:00Z
`))
	if err != nil {
		t.Fatal(err)
	}
	shop, blog := cfg.Monitor("shop"), cfg.Monitor("blog")
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		m    *Monitor
		at   string
		want string // "" means not muted
	}{
		{shop, "2026-11-21T02:59:59Z", ""},
		{shop, "2026-11-20T03:10:00Z", "2026-11-20T03:30:00Z"},
		// The daily window overlaps the absolute one: muted until the later end.
		{shop, "2026-11-21T03:10:00Z", "2026-11-21T04:00:00Z"},
		{shop, "2026-11-21T03:45:00Z", "2026-11-21T04:00:00Z"},
		{shop, "2026-11-21T04:00:00Z", ""},
		{blog, "2026-11-21T03:10:00Z", ""},
	} {
		until, muted := cfg.MutedUntil(tc.m, at(tc.at))
		if tc.want == "" {
			if muted {
				t.Errorf("%s at %s: muted until %s, want not muted", tc.m.Name, tc.at, until)
			}
			continue
		}
		if !muted || !until.Equal(at(tc.want)) {
			t.Errorf("%s at %s: muted=%v until %s, want until %s", tc.m.Name, tc.at, muted, until, tc.want)
		}
	}
}
