package schedule

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultMaxJitter bounds the spread of descriptor and cron-spec schedules:
// one minute, the finest time a 5-field cron spec can name.
const DefaultMaxJitter = time.Minute

// maxCronSteps bounds the walk in Spec.next; it is only reached when
// MaxJitter is configured far larger than the schedule's period.
const maxCronSteps = 10000

// Spec is a parsed schedule. The zero Spec is invalid.
type Spec struct {
	text  string
	every time.Duration // > 0 for "@every"
	cron  cron.Schedule // otherwise
	// minPeriod is the shortest gap between two fires, worked out once at
	// parse time; periodErr says why there is none.
	minPeriod time.Duration
	periodErr error
}

// ErrorKind says which rule a schedule broke, so that a caller such as the
// config loader can word it for its own readers without reading the text.
type ErrorKind int

// The rules ParseSpec applies.
const (
	ErrEmpty         ErrorKind = iota + 1 // nothing but spaces
	ErrEveryForm                          // "@every" without exactly one duration
	ErrEveryDuration                      // the duration after "@every" does not parse
	ErrEveryTooShort                      // the interval is shorter than 1s
	ErrCron                               // not a descriptor or 5-field cron spec
)

// SpecError is a schedule ParseSpec refused.
type SpecError struct {
	Text string // the schedule as given
	Kind ErrorKind
	// Interval is the "@every" interval of an ErrEveryTooShort.
	Interval time.Duration
	// Err is time.ParseDuration's error (ErrEveryDuration) or
	// robfig/cron's (ErrCron), else nil.
	Err error
}

func (e *SpecError) Error() string {
	switch e.Kind {
	case ErrEmpty:
		return "parse schedule: empty schedule"
	case ErrEveryForm:
		return fmt.Sprintf("parse schedule %q: want \"@every <duration>\", e.g. \"@every 30s\"", e.Text)
	case ErrEveryTooShort:
		return fmt.Sprintf("parse schedule %q: interval %v is shorter than 1s", e.Text, e.Interval)
	}
	return fmt.Sprintf("parse schedule %q: %v", e.Text, e.Err)
}

func (e *SpecError) Unwrap() error { return e.Err }

// Why a schedule has no shortest period (see Spec.MinPeriod).
var (
	ErrNeverFires = errors.New("never fires")
	ErrFiresOnce  = errors.New("fires at most once in eight years")
)

// ParseSpec parses "@every 30s", a descriptor such as "@hourly", or a 5-field
// cron spec (optionally after "CRON_TZ=Europe/Berlin"). It is the program's
// one schedule parser; a refusal is a *SpecError.
func ParseSpec(text string) (Spec, error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return Spec{}, &SpecError{Text: text, Kind: ErrEmpty}
	}
	if f := strings.Fields(t); f[0] == "@every" {
		// Parsed here rather than by robfig, which silently rounds a negative
		// or sub-second interval up to 1s and truncates fractions of a second.
		if len(f) != 2 {
			return Spec{}, &SpecError{Text: text, Kind: ErrEveryForm}
		}
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return Spec{}, &SpecError{Text: text, Kind: ErrEveryDuration, Err: err}
		}
		if d < time.Second {
			return Spec{}, &SpecError{Text: text, Kind: ErrEveryTooShort, Interval: d}
		}
		return Spec{text: t, every: d, minPeriod: d}, nil
	}
	s, err := cron.ParseStandard(t)
	if err != nil {
		return Spec{}, &SpecError{Text: text, Kind: ErrCron, Err: err}
	}
	out := Spec{text: t, cron: s}
	switch c := s.(type) {
	case cron.ConstantDelaySchedule: // "TZ=... @every 5s": robfig's own @every
		out.minPeriod = c.Delay
	case *cron.SpecSchedule:
		out.minPeriod, out.periodErr = cronPeriod(c)
	default:
		out.periodErr = fmt.Errorf("unsupported schedule type %T", s)
	}
	return out, nil
}

// MustParseSpec is ParseSpec for constants in tests and examples; it panics
// on error.
func MustParseSpec(text string) Spec {
	s, err := ParseSpec(text)
	if err != nil {
		panic(err)
	}
	return s
}

// String returns the schedule as written (trimmed).
func (s Spec) String() string { return s.text }

// IsZero reports whether s is the zero Spec.
func (s Spec) IsZero() bool { return s.every == 0 && s.cron == nil }

// MarshalText writes the schedule as written, so that a config printed as
// JSON shows it, and compares by it.
func (s Spec) MarshalText() ([]byte, error) { return []byte(s.text), nil }

// MinPeriod returns the shortest time between two consecutive fires: the
// interval of an "@every", the tightest gap a cron spec produces otherwise
// (daylight saving shifts under CRON_TZ aside). The config validates a
// monitor's timeout against it. When the schedule fires at most once there
// is none, and the error (ErrNeverFires, ErrFiresOnce) says so.
func (s Spec) MinPeriod() (time.Duration, error) {
	if s.IsZero() {
		return 0, ErrNeverFires
	}
	return s.minPeriod, s.periodErr
}

// Period returns the nominal time between the first two fires after from,
// without jitter: the interval for "@every", the gap between consecutive
// cron times otherwise (which varies for specs like "0 9 * * 1-5"; see
// MinPeriod for the shortest). It returns 0 if the schedule never fires.
func (s Spec) Period(from time.Time) time.Duration {
	if s.every > 0 {
		return s.every
	}
	if s.cron == nil {
		return 0
	}
	a := s.cron.Next(from)
	if a.IsZero() {
		return 0
	}
	b := s.cron.Next(a)
	if b.IsZero() {
		return 0
	}
	return b.Sub(a)
}

// Jitter returns the fraction in [0, 1) of the period by which name is
// offset. It depends on the name only.
func Jitter(name string) float64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	x := h.Sum64()
	// murmur3 fmix64: FNV-1a leaves the top bits weakly mixed for names that
	// differ only in their last characters ("mon-0001", "mon-0002").
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return float64(x>>11) / (1 << 53)
}

// Next returns the first jittered fire time strictly after `after` for a
// monitor whose jitter fraction is frac, or the zero time if the schedule
// never fires again. See the package doc for the rule.
func (s Spec) Next(after time.Time, frac float64, maxJitter time.Duration) time.Time {
	if s.every > 0 {
		d := int64(s.every)
		off := int64(frac * float64(d))
		rel := after.UnixNano() - off
		k := rel / d
		if rel%d < 0 { // floor division for times before the epoch
			k--
		}
		return time.Unix(0, (k+1)*d+off).In(after.Location())
	}
	if s.cron == nil {
		return time.Time{}
	}
	if maxJitter <= 0 {
		return s.cron.Next(after)
	}
	// A jittered time lies in [b, next nominal), so only nominal times later
	// than after-maxJitter can yield one after `after`.
	b := s.cron.Next(after.Add(-maxJitter))
	for range maxCronSteps {
		if b.IsZero() {
			return time.Time{}
		}
		n := s.cron.Next(b)
		w := maxJitter
		if !n.IsZero() {
			w = min(n.Sub(b), maxJitter)
		}
		if t := b.Add(time.Duration(frac * float64(w))); t.After(after) {
			return t
		}
		b = n
	}
	return s.cron.Next(after)
}
