package daemon

import (
	"net/http"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
)

// Without [[vantage]] the monitor's configured severity decides, by the same
// rule as with vantages (monitor/verdict.Severity): a warning monitor opens
// a warning incident, not a critical one (issue 11, point 2).
func TestSingleHostIncidentTakesConfiguredSeverity(t *testing.T) {
	for _, tc := range []struct {
		severity string
		want     incident.Severity
	}{
		{"", incident.SeverityCritical},
		{`severity = "warning"`, incident.SeverityWarning},
		{`severity = "info"`, incident.SeverityInfo},
	} {
		t.Run(string(tc.want), func(t *testing.T) {
			tg := newTarget(t)
			tg.status.Store(http.StatusBadGateway)
			f := newFixture(t, monitorTOML("web", tg.URL)+tc.severity+"\n", nil)
			f.round("web")
			f.round("web") // confirm = 2
			incs := f.incidents("web")
			if len(incs) != 1 || !incs[0].Open() {
				t.Fatalf("incidents %+v, want one open", incs)
			}
			if incs[0].Severity != tc.want {
				t.Errorf("incident severity %q, want %q", incs[0].Severity, tc.want)
			}
		})
	}
}
