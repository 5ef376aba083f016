package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/round"
)

// A monitor of a single host (no [[vantage]]) behind a real nginx whose
// upstream is dead: the round's diagnosis probes the monitor's origin and
// says whether the upstream is down or the path to it is at fault, and the
// fixes lead with what it found.
func TestSingleHostOriginBehindRealNginx(t *testing.T) {
	t.Parallel()
	optOut(t)
	u := startUpstreams(t)
	ngx := startNginx(t, u)
	for _, tc := range []struct {
		name    string
		origin  int
		finding result.Finding
		fixHas  string
	}{
		{"upstream down", u.dead, result.FindingUpstreamDown, "connect() failed (111: Connection refused)"},
		{"origin fine", u.healthy, result.FindingGatewayPath, "answers fine when probed directly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			origin := fmt.Sprintf("http://127.0.0.1:%d/", tc.origin)
			file := filepath.Join(t.TempDir(), "vantage.toml")
			toml := fmt.Sprintf("[[monitor]]\nname = \"shop\"\nurl = %q\norigin = %q\ntimeout = \"3s\"\n", ngx.base+"/dead/", origin)
			if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			r, err := round.New(cfg, round.Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := r.Run(context.Background(), round.MonitorTarget(&cfg.Monitors[0]))
			if out.Class != result.ClassBadGateway || out.Gateway != "nginx" {
				t.Fatalf("class %s gateway %q, want bad_gateway from nginx: %s", out.Class, out.Gateway, out.Error)
			}
			d := out.Diagnosis
			if d == nil || d.Origin == nil || d.Origin.URL != origin || !d.Has(tc.finding) {
				t.Fatalf("diagnosis %+v, want the origin %s probed and %s found", d, origin, tc.finding)
			}
			if len(out.Fixes) == 0 || !strings.Contains(out.Fixes[0], tc.fixHas) {
				t.Errorf("fixes %q, want the first to say %q", out.Fixes, tc.fixHas)
			}
		})
	}
}
