package render

import (
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
)

// The warning goldens: a certificate that one backend still serves with 4
// days left (fra1 and iad1 reach it, local reaches a renewed one), its
// crossing of the last threshold, its renewal; a monitor whose TTFB is
// slow from two regions, and its recovery.

const siteURL = "https://www.example.test/"

var (
	oldNotAfter = time.Date(2026, 11, 25, 9, 12, 44, 0, time.UTC)
	newNotAfter = time.Date(2027, 2, 18, 11, 40, 2, 0, time.UTC)
)

func oldCert(daysLeft int) *result.CertInfo {
	return &result.CertInfo{Subject: "CN=www.example.test", Issuer: "CN=R11,O=Let's Encrypt,C=US",
		Serial: "04:a1:9c:3e:77:0b:52:d1:e8:6f:21:90:4c:aa:17:5e:b3:02", NotAfter: result.TimeOf(oldNotAfter),
		DaysLeft: daysLeft, DNSNames: []string{"www.example.test", "example.test"}}
}

func newCert() *result.CertInfo {
	return &result.CertInfo{Subject: "CN=www.example.test", Issuer: "CN=R10,O=Let's Encrypt,C=US",
		Serial: "03:f2:11:8a:4d:c0:95:3b:6e:d7:08:e4:29:b1:5c:70:aa:61", NotAfter: result.TimeOf(newNotAfter),
		DaysLeft: 89, DNSNames: []string{"www.example.test", "example.test"}}
}

// okRound is a passing round of siteURL from local, fra1 and iad1, with
// the incident's class and detail on its outcome as monitor/warning sets
// them.
func okRound(c result.Class, detail string, ttfb float64, w *result.Warning) *result.Outcome {
	r := &result.Outcome{Result: result.Result{
		URL: siteURL, OK: true, Class: c, Detail: detail, Status: 200, Method: "GET",
		StartedAt:  result.TimeOf(sentAt.Add(-20 * time.Second)),
		RemoteAddr: "203.0.113.10:443",
		Phases:     result.Phases{DNSMs: 2.1, ConnectMs: 11.4, TLSMs: 24.8, TTFBMs: ttfb, TotalMs: ttfb + 6.2},
	}, Warning: w}
	for _, n := range []string{"local", "fra1", "iad1"} {
		v := result.Result{URL: siteURL, OK: true, Class: result.ClassOK, Status: 200}
		r.Vantages = append(r.Vantages, result.VantageLine{Name: n, Status: result.VantageUp, Result: &v})
	}
	return r
}

// warningMessage is a warning incident's event for r.
func warningMessage(kind incident.Kind, ev incident.Notification, r *result.Outcome, sev incident.Severity) *notify.Message {
	m := &notify.Message{
		Key: string(ev) + "/example-site/" + string(kind) + "/51", Event: ev, Receiver: "ops-slack", IncidentID: 51,
		Kind: kind, Monitor: "example-site", URL: siteURL, Tags: []string{"web", "prod"}, Severity: sev,
		Class: r.Class, Detail: r.Detail, OpenedAt: opened, At: sentAt, Result: r, Fixes: r.Fixes,
	}
	if r.Warning != nil {
		var over []string
		for _, s := range r.Warning.Seen {
			if s.Over {
				over = append(over, s.Vantage)
			}
		}
		m.Scope = result.ScopeEveryone
		if len(over) < len(r.Warning.Seen) {
			m.Scope, m.Regions = result.ScopePartial, over
		}
	}
	return m
}

// certificateCase: the certificate warning, with daysLeft left of the
// certificate fra1 and iad1 are served, under threshold days.
func certificateCase(daysLeft, threshold int, sev incident.Severity) *notify.Message {
	c := oldCert(daysLeft)
	w := &result.Warning{
		Kind:          string(incident.KindCertificate),
		Summary:       "certificate expires in " + days(daysLeft) + " (2026-11-25), served to fra1 and iad1",
		Cert:          c,
		ThresholdDays: threshold,
		Seen: []result.WarningSeen{
			{Vantage: "local", Cert: newCert(), RemoteAddr: "203.0.113.10:443"},
			{Vantage: "fra1", Over: true, Cert: c, RemoteAddr: "203.0.113.11:443"},
			{Vantage: "iad1", Over: true, Cert: c, RemoteAddr: "203.0.113.11:443"},
		},
	}
	r := okRound(result.ClassCertExpiring, result.WarnDetail(threshold), 38.2, w)
	r.Scope = result.ScopePartial
	r.TLS = &result.TLSInfo{Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial, NotAfter: c.NotAfter, DaysLeft: c.DaysLeft,
		DNSNames: c.DNSNames, NotBefore: result.TimeOf(oldNotAfter.AddDate(0, -3, 0)), Earliest: c}
	// The steps monitor/warning chooses for an ACME issuer and a vantage
	// that was served it.
	r.Fixes = []string{
		"The certificate is from Let's Encrypt (ACME) and was not renewed: check the renewal timer or cron (systemctl list-timers | grep -i certbot) and run certbot renew --dry-run, or read your ACME client's log.",
		"Only fra1 and iad1 were served it, from 203.0.113.11:443: that backend or edge still has the old certificate. See what it serves: openssl s_client -connect 203.0.113.11:443 -servername www.example.test </dev/null | openssl x509 -noout -serial -enddate",
		"After renewing, reload whatever terminates TLS on 203.0.113.11 so it serves the new certificate (nginx -s reload, systemctl reload haproxy).",
	}
	return warningMessage(incident.KindCertificate, incident.NotifyOpen, r, sev)
}

// certificateCriticalCase: three days on, under the last threshold.
func certificateCriticalCase() *notify.Message {
	m := certificateCase(1, 2, incident.SeverityCritical)
	m.Event, m.Key = incident.NotifyUpdate, "update/example-site/certificate/51/1"
	m.Change = "Now under 2 days (critical); seen from fra1 and iad1 only." // as notify/plan describes it
	m.At = opened.Add(72 * time.Hour)
	m.Result.StartedAt = result.TimeOf(m.At.Add(-20 * time.Second))
	return m
}

// certificateRenewedCase: the backend serves the renewed certificate.
func certificateRenewedCase() *notify.Message {
	w := &result.Warning{
		Kind: string(incident.KindCertificate), Summary: "certificate has 89 days left (2027-02-18), above every threshold",
		Cert: newCert(),
		Seen: []result.WarningSeen{
			{Vantage: "local", Cert: newCert(), RemoteAddr: "203.0.113.10:443"},
			{Vantage: "fra1", Cert: newCert(), RemoteAddr: "203.0.113.11:443"},
			{Vantage: "iad1", Cert: newCert(), RemoteAddr: "203.0.113.11:443"},
		},
	}
	r := okRound(result.ClassOK, "", 38.2, w)
	m := warningMessage(incident.KindCertificate, incident.NotifyResolve, r, incident.SeverityCritical)
	// The incident's class and last level stay on the message.
	m.Class, m.Detail, m.Scope, m.Regions = result.ClassCertExpiring, result.WarnDetail(2), result.ScopePartial, []string{"fra1", "iad1"}
	m.Key, m.Resolution, m.Fixes = "resolve/example-site/certificate/51", "recovered", nil
	m.At = opened.Add(75*time.Hour + 20*time.Minute)
	m.ResolvedAt = m.At
	return m
}

func slowRound() *result.Outcome {
	w := &result.Warning{
		Kind: string(incident.KindPerformance), Summary: "TTFB 2.4 s from fra1 and iad1, 40 ms from local",
		Phase: result.PhaseTTFB, ThresholdMs: 500,
		Seen: []result.WarningSeen{
			{Vantage: "local", Ms: 40.3, RemoteAddr: "203.0.113.10:443"},
			{Vantage: "fra1", Over: true, Ms: 2391, RemoteAddr: "203.0.113.11:443"},
			{Vantage: "iad1", Over: true, Ms: 2436, RemoteAddr: "203.0.113.11:443"},
		},
	}
	r := okRound(result.ClassDegraded, result.PhaseTTFB, 40.3, w)
	r.Scope = result.ScopePartial
	r.Fixes = []string{
		"TTFB is the app's time to answer once the request is sent: look at the app and its upstreams (slow queries, a full worker pool, an upstream API) and compare its own request timing with the 2.4 s seen here.",
		"It is fast from local and slow from fra1 and iad1, which reach 203.0.113.11:443: if that is another backend or edge, look at that one first.",
		"Measure from a slow vantage: curl -o /dev/null -s -w 'connect %{time_connect} ttfb %{time_starttransfer} total %{time_total}\\n' https://www.example.test/",
	}
	return r
}

func performanceCase() *notify.Message {
	return warningMessage(incident.KindPerformance, incident.NotifyOpen, slowRound(), incident.SeverityWarning)
}

func performanceResolvedCase() *notify.Message {
	r := okRound(result.ClassOK, "", 41.0, &result.Warning{
		Kind: string(incident.KindPerformance), Summary: "TTFB 41 ms from local, 62 ms from fra1, 58 ms from iad1",
		Phase: result.PhaseTTFB, ThresholdMs: 500,
		Seen: []result.WarningSeen{{Vantage: "local", Ms: 41}, {Vantage: "fra1", Ms: 62}, {Vantage: "iad1", Ms: 58}},
	})
	m := warningMessage(incident.KindPerformance, incident.NotifyResolve, r, incident.SeverityWarning)
	m.Class, m.Detail = result.ClassDegraded, result.PhaseTTFB
	m.Key, m.Resolution, m.Fixes = "resolve/example-site/performance/51", "recovered", nil
	m.At = opened.Add(25 * time.Minute)
	m.ResolvedAt = m.At
	return m
}

// warningCases are the warning goldens by name; their thread replies are
// kept too (*.reply.slack.txt), since in a bot's channel the update and
// the resolve are read as replies.
func warningCases() map[string]*notify.Message {
	return map[string]*notify.Message{
		"class-cert_expiring":  certificateCase(4, 7, incident.SeverityWarning),
		"certificate-critical": certificateCriticalCase(),
		"certificate-renewed":  certificateRenewedCase(),
		"class-degraded":       performanceCase(),
		"performance-resolved": performanceResolvedCase(),
	}
}
