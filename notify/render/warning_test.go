package render

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
)

// outageWords are what a warning must never be called: its monitor is up.
var outageWords = regexp.MustCompile(`(?i)\b(down|outage|outages)\b`)

// everyRendering is every text a receiver may show for m.
func everyRendering(t *testing.T, m *notify.Message) map[string]string {
	return map[string]string{
		"title": Title(m), "text": Text(m), "html": HTML(m), "verdict": Verdict(m), "summary": Summary(m),
		"slack": SlackText(SlackFull(m)), "reply": SlackText(SlackReply(m)),
	}
}

// TestWarningsAreNeverDown renders every warning case at every event, and
// the resolutions that are not a recovery, and finds no outage words.
func TestWarningsAreNeverDown(t *testing.T) {
	for name, base := range warningCases() {
		for _, ev := range []incident.Notification{incident.NotifyOpen, incident.NotifyUpdate, incident.NotifyReminder, incident.NotifyResolve} {
			for _, res := range []string{"recovered", incident.ResolutionRemoved, "warning turned off"} {
				m := *base
				m.Event, m.Resolution = ev, res
				m.Flapping = ev == incident.NotifyUpdate
				for what, s := range everyRendering(t, &m) {
					if w := outageWords.FindString(s); w != "" {
						t.Errorf("%s %s (%s): the %s says %q:\n%s", name, ev, res, what, w, s)
					}
				}
			}
		}
	}
}

// TestCertificateTitles: the title says how long the certificate has, and
// that it is critical at the last threshold.
func TestCertificateTitles(t *testing.T) {
	inter := certificateCase(3, 7, incident.SeverityWarning)
	inter.Result.Warning.Cert.Depth, inter.Result.Warning.Cert.Subject = 1, "CN=Example Intermediate CA"
	expired := certificateCase(-2, 2, incident.SeverityCritical)
	today := certificateCase(0, 2, incident.SeverityCritical)
	noWarning := certificateCase(4, 7, incident.SeverityWarning)
	noWarning.Result.Warning, noWarning.Result.TLS = nil, nil
	for _, tc := range []struct {
		m    *notify.Message
		want string
	}{
		{certificateCase(4, 7, incident.SeverityWarning), "[WARNING] example-site: certificate expires in 4 days"},
		{certificateCase(1, 2, incident.SeverityCritical), "[WARNING critical] example-site: certificate expires in 1 day"},
		{inter, "[WARNING] example-site: intermediate certificate expires in 3 days"},
		{today, "[WARNING critical] example-site: certificate expires today"},
		{expired, "[WARNING critical] example-site: certificate expired 2 days ago"},
		{noWarning, "[WARNING] example-site: certificate expires within 7 days"},
		{certificateCriticalCase(), "[UPDATE: WARNING critical] example-site: certificate expires in 1 day"},
		{performanceCase(), "[WARNING] example-site is slow: TTFB 2.4 s from fra1 and iad1, 40 ms from local"},
	} {
		if got := Title(tc.m); got != tc.want {
			t.Errorf("title %q, want %q", got, tc.want)
		}
	}
	if s := Text(inter); !strings.Contains(s, "In the chain:") || !strings.Contains(s, "CN=Example Intermediate CA") {
		t.Errorf("an intermediate's warning does not say which certificate:\n%s", s)
	}
}

// TestCertificateResolutions: a renewal says how long the new certificate
// has, read from the resolving round's Warning, else its served chain,
// else its leaf; a monitor removed or a warning turned off claims no
// renewal.
func TestCertificateResolutions(t *testing.T) {
	earliest := certificateRenewedCase()
	na := result.TimeOf(time.Date(2027, 1, 20, 0, 0, 0, 0, time.UTC))
	earliest.Result.Warning = nil
	earliest.Result.TLS = &result.TLSInfo{Subject: "CN=www.example.test", NotAfter: na, DaysLeft: 90,
		Earliest: &result.CertInfo{Subject: "CN=Example Intermediate CA", NotAfter: na, DaysLeft: 60, Depth: 1}}
	leaf := certificateRenewedCase()
	leaf.Result.Warning = nil
	leaf.Result.TLS = &result.TLSInfo{Subject: "CN=www.example.test", Serial: "0a:0b", NotAfter: na, DaysLeft: 90}
	bare := certificateRenewedCase()
	bare.Result = nil

	removed := certificateCase(4, 7, incident.SeverityWarning) // the incident's last round: still under
	removed.Event, removed.Resolution, removed.Fixes = incident.NotifyResolve, incident.ResolutionRemoved, nil
	removed.At = opened.Add(2 * time.Hour)
	removed.ResolvedAt = removed.At
	off := *removed
	off.Resolution = "warning turned off"
	// What the machine writes when the renewed certificate's round
	// resolves the incident (monitor/incident/machine.go).
	byMachine := certificateRenewedCase()
	byMachine.Resolution = "recovered after 1 good check"

	for _, tc := range []struct {
		name        string
		m           *notify.Message
		title, lead string
	}{
		{"renewed", certificateRenewedCase(), "[RESOLVED] example-site: certificate renewed, 89 days left",
			"example-site: certificate renewed: the new certificate has 89 days left (serial 03:f2:11:8a:4d:c0:95:3b:6e:d7:08:e4:29:b1:5c:70:aa:61, not after 2027-02-18 11:40:02 UTC)."},
		{"resolved by the machine", byMachine, "[RESOLVED] example-site: certificate renewed, 89 days left",
			"the new certificate has 89 days left"},
		{"no warning: the served chain", earliest, "[RESOLVED] example-site: certificate renewed, 60 days left",
			"the new intermediate certificate has 60 days left (not after 2027-01-20 00:00:00 UTC)"},
		{"no warning nor chain: the leaf", leaf, "[RESOLVED] example-site: certificate renewed, 90 days left", "Serial:          0a:0b"},
		{"no round at all", bare, "[RESOLVED] example-site: certificate renewed", "no longer under any cert_warn_days threshold"},
		{"monitor removed", removed, "[RESOLVED: monitor removed] example-site: certificate warning closed after 2h",
			"example-site: the certificate warning is closed after 2h (monitor removed)."},
		{"warning turned off", &off, "[RESOLVED: warning turned off] example-site: certificate warning closed after 2h",
			"example-site: the certificate warning is closed after 2h (warning turned off)."},
	} {
		if got := Title(tc.m); got != tc.title {
			t.Errorf("%s: title %q, want %q", tc.name, got, tc.title)
		}
		text := Text(tc.m)
		if !strings.Contains(text, tc.lead) {
			t.Errorf("%s: text lacks %q:\n%s", tc.name, tc.lead, text)
		}
		if !incident.Recovered(tc.m.Resolution) && strings.Contains(strings.ToLower(text+Title(tc.m)+SlackText(SlackReply(tc.m))), "renewed") {
			t.Errorf("%s: claims a renewal:\n%s", tc.name, text)
		}
		if strings.Contains(text, "What to do next") {
			t.Errorf("%s: a resolved warning still lists fixes", tc.name)
		}
	}
}

// TestWarningReplies: the thread replies of a warning say what changed and
// how it ended.
func TestWarningReplies(t *testing.T) {
	reply := func(m *notify.Message) string {
		p := slackPayload(t, SlackReply(m))
		checkSlackLimits(t, "reply", p)
		return SlackText(SlackReply(m))
	}
	if s := reply(certificateCriticalCase()); !strings.Contains(s, "now under 2 days (critical)") || !strings.Contains(s, "expires in 1 day") {
		t.Errorf("update reply: %s", s)
	}
	if s := reply(certificateRenewedCase()); !strings.Contains(s, "certificate renewed: the new certificate has 89 days left") {
		t.Errorf("resolve reply: %s", s)
	}
	if s := reply(performanceResolvedCase()); !strings.Contains(s, "example-site is back under the thresholds after 25m") {
		t.Errorf("performance resolve reply: %s", s)
	}
	r := performanceCase()
	r.Event, r.At = incident.NotifyReminder, opened.Add(3*time.Hour)
	if s := reply(r); !strings.Contains(s, "still up but slow: TTFB 2.4 s") || !strings.Contains(s, "after 3h") {
		t.Errorf("performance reminder reply: %s", s)
	}
	// A name with mrkdwn in it is escaped in the resolve's bold name too.
	n := certificateRenewedCase()
	n.Monitor = "<!channel> site"
	if s := string(slackPayload(t, SlackReply(n))); strings.Contains(s, "<!channel>") {
		t.Errorf("reply does not escape the name: %s", s)
	}
}
