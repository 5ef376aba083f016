package config

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
)

// writeCA writes a self-signed CA certificate as PEM to dir/name and
// returns the pool holding it.
func writeCA(t *testing.T, dir, name, cn string) *x509.CertPool {
	t.Helper()
	ca := testkit.NewCA(t, cn)
	ca.WriteFile(t, filepath.Join(dir, name))
	return ca.Pool()
}

const caConfig = `
[[vantage]]
name = "fra1"
url = "https://fra1.example.net:9208"
key_env = "K1"
ca_file = "agent-ca.pem"

[[receiver]]
name = "mail"
type = "email"
smtp = "smtp.example.com:587"
from = "vantage@example.com"
to = ["ops@example.com"]
ca_file = "smtp-ca.pem"

[[monitor]]
name = "m"
url = "https://m.example.com/"
`

// TestCAFileLoadedIntoPool: each ca_file is read and parsed once, at load,
// into the pool its client verifies with.
func TestCAFileLoadedIntoPool(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("K1", "key-one")
	dir := t.TempDir()
	agentCA := writeCA(t, dir, "agent-ca.pem", "agent CA")
	smtpCA := writeCA(t, dir, "smtp-ca.pem", "smtp CA")
	file := filepath.Join(dir, "vantage.toml")
	cfg, err := Parse(file, []byte(caConfig))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Vantage("fra1").CAPool; p == nil || !p.Equal(agentCA) {
		t.Errorf("vantage CAPool does not hold agent-ca.pem")
	}
	if p := cfg.Receiver("mail").CAPool; p == nil || !p.Equal(smtpCA) {
		t.Errorf("receiver CAPool does not hold smtp-ca.pem")
	}

	// The same file name with new content is a changed vantage on reload.
	writeCA(t, dir, "agent-ca.pem", "rotated agent CA")
	again, err := Parse(file, []byte(caConfig))
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(cfg, again); !reflect.DeepEqual(d.VantagesChanged, []string{"fra1"}) {
		t.Errorf("rotated ca_file: VantagesChanged = %v, want [fra1]", d.VantagesChanged)
	}
	if d := Diff(cfg, cfg); !d.Empty() {
		t.Errorf("Diff(cfg, cfg) = %+v", d)
	}
}

func TestCAFileWithoutCertificate(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("K1", "key-one")
	dir := t.TempDir()
	writeCA(t, dir, "smtp-ca.pem", "smtp CA")
	if err := os.WriteFile(filepath.Join(dir, "agent-ca.pem"), []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "vantage.toml")
	_, err := Parse(file, []byte(caConfig))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 {
		t.Fatalf("err = %v, want one validation error", err)
	}
	want := file + `:6: vantage "fra1": ca_file: ` + filepath.Join(dir, "agent-ca.pem") + " holds no PEM certificate"
	if got := ve.Errors[0].Error(); got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

// TestMonitorCompiled: a loaded monitor holds what rounds run with: its
// probe plan and its schedule, compiled from the fields once.
func TestMonitorCompiled(t *testing.T) {
	hermeticEnv(t)
	cfg, err := Parse("mem.toml", []byte(`
[defaults]
timeout = "4s"

[[monitor]]
name = "m"
url = "https://m.example.com/health"
method = "post"
expect_regex = "ok|fine"
schedule = "*/5 * * * *"
`))
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Monitor("m")
	if m.Plan == nil {
		t.Fatal("no plan")
	}
	want := m.Spec().WithDefaults()
	want.Method = strings.ToUpper(want.Method)
	if got := m.Plan.Spec(); !reflect.DeepEqual(got, want) {
		t.Errorf("plan spec = %+v, want %+v", got, want)
	}
	if cfg.Defaults.Plan != nil {
		t.Error("[defaults] has a plan; it is no monitor")
	}
	at := time.Date(2026, 5, 4, 10, 1, 0, 0, time.UTC)
	if got := m.Schedule.Next(at, 0, 0); !got.Equal(time.Date(2026, 5, 4, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("schedule next = %v", got)
	}
	if p, err := m.Schedule.MinPeriod(); err != nil || p != 5*time.Minute {
		t.Errorf("MinPeriod = %v, %v", p, err)
	}
}
