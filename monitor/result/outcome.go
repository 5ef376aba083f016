package result

import "slices"

// Outcome is what one round of a monitor found: the result that stands for
// the round, for whom the target is down, what each vantage saw and what the
// follow-up diagnosis found. A probe makes a Result; only a round
// (monitor/round) makes an Outcome, so an agent, which returns a Result, has
// no way to send a verdict of its own.
//
// Result is embedded so that the JSON stays flat: `vantage check --json`
// prints an Outcome with the field names it has always had, and rows stored
// as a Result decode as an Outcome.
type Outcome struct {
	Result
	// Scope says who sees the target down ("everyone", "partial",
	// "just_me", "unknown"; empty when it is up or when the round had no
	// vantages), Vantages what each vantage saw.
	Scope    Scope         `json:"scope"`
	Vantages []VantageLine `json:"vantages,omitempty"`
	// Diagnosis is the follow-up of a round whose target is down for
	// everyone or from some regions; nil when none was made.
	Diagnosis *Diagnosis `json:"diagnosis,omitempty"`
	// Warning is set on the outcome of a certificate or performance
	// incident (monitor/warning): what it warns of, and what each vantage
	// saw. nil on a round's own outcome.
	Warning *Warning `json:"warning,omitempty"`
}

// Warning is what a certificate or performance incident is about.
type Warning struct {
	// Kind is "certificate" or "performance" (the incident's kind).
	Kind string `json:"kind"`
	// Summary says it in one line, for people and for alert subjects:
	// "TTFB 2.4 s from fra1 and iad1, 40 ms from local", or "certificate
	// expires in 4 days (2026-12-12), served to fra1".
	Summary string `json:"summary"`
	// Cert is the certificate that expires first among those the vantages
	// were served (certificate only).
	Cert *CertInfo `json:"cert,omitempty"`
	// ThresholdDays is the smallest cert_warn_days threshold Cert is under
	// (certificate only; 0 when it is above them all: renewed).
	ThresholdDays int `json:"threshold_days,omitempty"`
	// Phase is the slow phase (performance only), ThresholdMs its
	// configured threshold.
	Phase       string  `json:"phase,omitempty"`
	ThresholdMs float64 `json:"threshold_ms,omitempty"`
	// Seen is one line per vantage that answered with a response, in the
	// round's vantage order.
	Seen []WarningSeen `json:"seen"`
}

// WarningSeen is what one vantage saw of a warning.
type WarningSeen struct {
	Vantage string `json:"vantage"`
	// Over is set when this vantage saw the warning: a certificate under
	// the threshold, or the phase over it.
	Over bool `json:"over"`
	// Ms is the phase's duration from this vantage (performance).
	Ms float64 `json:"ms,omitempty"`
	// Cert is the earliest certificate this vantage was served (certificate).
	Cert       *CertInfo `json:"cert,omitempty"`
	RemoteAddr string    `json:"remote_addr,omitempty"`
}

// Clone is a deep copy of o.
func (o Outcome) Clone() Outcome {
	o.Result = o.Result.Clone()
	o.Vantages = slices.Clone(o.Vantages)
	for i := range o.Vantages {
		if r := o.Vantages[i].Result; r != nil {
			c := r.Clone()
			o.Vantages[i].Result = &c
		}
	}
	o.Diagnosis = o.Diagnosis.Clone()
	o.Warning = o.Warning.Clone()
	return o
}

// Clone is a deep copy of r.
func (r Result) Clone() Result {
	r.Via = slices.Clone(r.Via)
	r.Fixes = slices.Clone(r.Fixes)
	r.Evidence.Headers = slices.Clone(r.Evidence.Headers)
	r.Evidence.Markers = slices.Clone(r.Evidence.Markers)
	if r.TLS != nil {
		t := *r.TLS
		t.DNSNames = slices.Clone(t.DNSNames)
		t.Earliest = t.Earliest.Clone()
		r.TLS = &t
	}
	if r.Evidence.Assertion != nil {
		a := *r.Evidence.Assertion
		r.Evidence.Assertion = &a
	}
	if r.Refusal != nil {
		ref := *r.Refusal
		r.Refusal = &ref
	}
	return r
}

// Clone is a deep copy of w (nil for nil).
func (w *Warning) Clone() *Warning {
	if w == nil {
		return nil
	}
	c := *w
	c.Cert = c.Cert.Clone()
	c.Seen = slices.Clone(c.Seen)
	for i := range c.Seen {
		c.Seen[i].Cert = c.Seen[i].Cert.Clone()
	}
	return &c
}

// Clone is a deep copy of c (nil for nil).
func (c *CertInfo) Clone() *CertInfo {
	if c == nil {
		return nil
	}
	d := *c
	d.DNSNames = slices.Clone(c.DNSNames)
	return &d
}
