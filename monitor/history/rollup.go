package history

import (
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// Phase is one phase of a check whose duration is rolled up.
type Phase int

// The phases, in the order a check goes through them.
const (
	PhaseDNS Phase = iota
	PhaseConnect
	PhaseTLS
	PhaseTTFB
	PhaseTotal
	NumPhases
)

var phaseNames = [NumPhases]string{"dns", "connect", "tls", "ttfb", "total"}

// String is the phase's name in the API: dns, connect, tls, ttfb, total.
func (p Phase) String() string {
	if p < 0 || p >= NumPhases {
		return "unknown"
	}
	return phaseNames[p]
}

// Of is the phase's duration in r, in milliseconds.
func (p Phase) Of(ph *result.Phases) float64 {
	switch p {
	case PhaseDNS:
		return ph.DNSMs
	case PhaseConnect:
		return ph.ConnectMs
	case PhaseTLS:
		return ph.TLSMs
	case PhaseTTFB:
		return ph.TTFBMs
	case PhaseTotal:
		return ph.TotalMs
	}
	return 0
}

// Resolution is the width of a stored rollup bucket.
type Resolution string

// The stored resolutions. Each is kept for as long as Keep says.
const (
	Minute Resolution = "1m"
	Hour   Resolution = "1h"
	Day    Resolution = "1d"
)

// Resolutions lists them finest first.
var Resolutions = []Resolution{Minute, Hour, Day}

// Step is the bucket's width.
func (r Resolution) Step() time.Duration {
	switch r {
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	case Day:
		return 24 * time.Hour
	}
	return 0
}

// Keep is how long buckets of this resolution are kept: 48 hours of
// minutes, 30 days of hours, 400 days of days.
func (r Resolution) Keep() time.Duration {
	switch r {
	case Minute:
		return 48 * time.Hour
	case Hour:
		return 30 * 24 * time.Hour
	case Day:
		return 400 * 24 * time.Hour
	}
	return 0
}

// Truncate is the start of the bucket holding t, in UTC (days start at
// midnight UTC).
func (r Resolution) Truncate(t time.Time) time.Time {
	return t.UTC().Truncate(r.Step())
}

// Key names one rollup bucket.
type Key struct {
	Monitor string
	// Vantage is where the checks ran: result.LocalVantage or an agent's name.
	Vantage string
	Res     Resolution
	// Bucket is the bucket's start (Res.Truncate of any time in it).
	Bucket time.Time
}

// Bucket is one rollup: its key and what it holds.
type Bucket struct {
	Key
	Agg Agg
}
