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
		r.TLS = &t
	}
	if r.Refusal != nil {
		ref := *r.Refusal
		r.Refusal = &ref
	}
	return r
}
