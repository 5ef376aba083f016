package render

import (
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// TestRefusedVantageLine: a vantage that refused the destination by its
// policy is shown as "refused by policy" with the refusal, not as a vantage
// that saw the target unreachable.
func TestRefusedVantageLine(t *testing.T) {
	r := res("http://10.0.0.5:8080/health", result.ClassBadGateway, 502, "nginx", "", func(r *result.Outcome) {
		r.Scope = result.ScopeEveryone
		local := r.Result
		ref := result.Refusal{Policy: "refuse_private", Destination: "10.0.0.5", Reason: "private addresses are not allowed on this agent"}
		fra1 := result.Result{URL: r.URL, Class: result.ClassNetworkUnreachable, Refusal: &ref,
			Error: "connecting to 10.0.0.5:8080: dial tcp 10.0.0.5:8080: " + ref.String()}
		r.Vantages = []result.VantageLine{
			{Name: "local", Status: result.VantageDown, Result: &local},
			{Name: "fra1", Status: result.VantageRefused, Result: &fra1, Error: ref.String()},
		}
	})
	m := open("intranet", r, incident.SeverityCritical)
	want := "fra1: refused by policy, not counted: destination 10.0.0.5 refused: private addresses are not allowed on this agent (refuse_private)"
	for name, out := range map[string]string{
		"text":  Text(m),
		"html":  HTML(m),
		"slack": string(slackPayload(t, SlackFull(m))),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %q:\n%s", name, want, out)
		}
		if strings.Contains(out, "fra1: refused, ") || strings.Contains(out, "fra1: refused by policy, not counted, network unreachable") {
			t.Errorf("%s shows the refusal as a network failure:\n%s", name, out)
		}
	}
}
