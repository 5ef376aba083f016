package history

import (
	"fmt"
	"time"
)

// Interval is the half-open span of time [Start, End).
type Interval struct {
	Start, End time.Time
}

// Duration is End - Start, or 0 for an empty or reversed interval.
func (iv Interval) Duration() time.Duration {
	if !iv.End.After(iv.Start) {
		return 0
	}
	return iv.End.Sub(iv.Start)
}

// Window is one of the spans a history report covers, ending now.
type Window string

// The windows the API and the pages offer.
const (
	Window24h  Window = "24h"
	Window7d   Window = "7d"
	Window30d  Window = "30d"
	Window90d  Window = "90d"
	Window365d Window = "365d"
)

// Windows lists every window, shortest first.
var Windows = []Window{Window24h, Window7d, Window30d, Window90d, Window365d}

// ParseWindow reads a window as the API's window= parameter spells it.
func ParseWindow(s string) (Window, error) {
	for _, w := range Windows {
		if string(w) == s {
			return w, nil
		}
	}
	return "", fmt.Errorf("window %q is not one of 24h, 7d, 30d, 90d, 365d", s)
}

// Duration is how far back the window reaches.
func (w Window) Duration() time.Duration {
	switch w {
	case Window24h:
		return 24 * time.Hour
	case Window7d:
		return 7 * 24 * time.Hour
	case Window30d:
		return 30 * 24 * time.Hour
	case Window90d:
		return 90 * 24 * time.Hour
	case Window365d:
		return 365 * 24 * time.Hour
	}
	return 0
}

// Step is the width of one latency point of the window, and Resolution the
// stored rollups it is merged from: about 300 points or fewer per vantage,
// from the finest resolution still kept for that far back.
func (w Window) Step() (step time.Duration, from Resolution) {
	switch w {
	case Window24h:
		return 5 * time.Minute, Minute
	case Window7d:
		return time.Hour, Hour
	case Window30d:
		return 6 * time.Hour, Hour
	}
	return 24 * time.Hour, Day
}
