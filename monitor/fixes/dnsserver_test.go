package fixes

import (
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// A DNS failure's fixes name the server the lookup asked, which may be a
// configured resolver, an agent's or the demo's, not this host's.
func TestDNSFixesNameTheServerAsked(t *testing.T) {
	for _, detail := range []string{result.DetailResolverTimeout, result.DetailServFail} {
		t.Run(detail, func(t *testing.T) {
			r := &result.Result{URL: "http://shop.example.test/", Class: result.ClassDNSError, Detail: detail, DNSServer: "127.0.0.1:5353"}
			steps := Suggest(r, nil)
			if len(steps) == 0 || !strings.Contains(steps[0], "127.0.0.1:5353") || !strings.Contains(steps[0], "dig @127.0.0.1 -p 5353 shop.example.test") {
				t.Errorf("first fix does not name the server asked: %q", steps)
			}
			for _, s := range steps {
				if strings.Contains(s, "resolver of this monitoring host") {
					t.Errorf("a fix blames this host's resolver, which was not asked: %q", s)
				}
			}
		})
	}
}
