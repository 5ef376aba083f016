package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a parsed monitor or maintenance schedule: "@every 30s", a
// descriptor such as "@hourly", or a 5-field cron spec, optionally prefixed
// with "CRON_TZ=Europe/Berlin".
type Schedule struct {
	Spec string
	// Period is the shortest gap between two consecutive activations: the
	// delay of an @every, the tightest gap a cron spec produces otherwise.
	Period time.Duration
	sched  cron.Schedule
}

// ParseSchedule parses spec with robfig/cron's standard parser.
func ParseSchedule(spec string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return Schedule{}, fmt.Errorf("empty schedule")
	}
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil {
			return Schedule{}, fmt.Errorf("%q: bad duration: %w", spec, unwrapDurationErr(err))
		}
		if d < time.Second {
			return Schedule{}, fmt.Errorf("%q: the period must be at least 1s", spec)
		}
		if d%time.Second != 0 {
			return Schedule{}, fmt.Errorf("%q: the period must be whole seconds", spec)
		}
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return Schedule{}, fmt.Errorf("%q is not \"@every <duration>\" or a 5-field cron spec: %w", spec, err)
	}
	out := Schedule{Spec: spec, sched: s}
	if c, ok := s.(cron.ConstantDelaySchedule); ok {
		out.Period = c.Delay
		return out, nil
	}
	spec5, ok := s.(*cron.SpecSchedule)
	if !ok {
		return Schedule{}, fmt.Errorf("%q: unsupported schedule type %T", spec, s)
	}
	period, err := cronPeriod(spec5)
	if err != nil {
		return Schedule{}, fmt.Errorf("%q %w", spec, err)
	}
	out.Period = period
	return out, nil
}

// cronStar is robfig/cron's marker bit for a field written as "*".
const cronStar = 1 << 63

// cronDaySpan is how many days are searched for active days: two leap
// cycles, so that even "0 0 29 2 *" is seen twice.
const cronDaySpan = 8*365 + 2

// cronPeriod computes the shortest gap between two activations from the
// spec's fields instead of calling Next thousands of times (which costs
// milliseconds per spec): the minutes and hours give the same firing times
// on every active day, so the shortest gap is either between two of those
// times or from the last one of a day to the first one of the next active
// day. Daylight saving shifts under CRON_TZ are not taken into account.
func cronPeriod(s *cron.SpecSchedule) (time.Duration, error) {
	var times []int // minutes after midnight
	for h := range 24 {
		if s.Hour&(1<<h) == 0 {
			continue
		}
		for m := range 60 {
			if s.Minute&(1<<m) != 0 {
				times = append(times, h*60+m)
			}
		}
	}
	if len(times) == 0 {
		return 0, errors.New("never fires")
	}
	best := -1
	for i := 1; i < len(times); i++ {
		if g := times[i] - times[i-1]; best < 0 || g < best {
			best = g
		}
	}
	prev, dayGap := -1, -1
	day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := 0; d < cronDaySpan && dayGap != 1; d, day = d+1, day.Add(24*time.Hour) {
		if !cronDayMatches(s, day) {
			continue
		}
		if prev >= 0 && (dayGap < 0 || d-prev < dayGap) {
			dayGap = d - prev
		}
		prev = d
	}
	switch {
	case prev < 0:
		return 0, errors.New("never fires")
	case dayGap < 0 && best < 0:
		return 0, errors.New("fires at most once in eight years")
	case dayGap > 0:
		if g := dayGap*24*60 - (times[len(times)-1] - times[0]); best < 0 || g < best {
			best = g
		}
	}
	return time.Duration(best) * time.Minute, nil
}

// cronDayMatches mirrors robfig/cron's rule: day of month and day of week
// must both match when either is "*", and either may match otherwise.
func cronDayMatches(s *cron.SpecSchedule, t time.Time) bool {
	if s.Month&(1<<uint(t.Month())) == 0 {
		return false
	}
	dom := s.Dom&(1<<uint(t.Day())) != 0
	dow := s.Dow&(1<<uint(t.Weekday())) != 0
	if s.Dom&cronStar != 0 || s.Dow&cronStar != 0 {
		return dom && dow
	}
	return dom || dow
}

// Cron returns the schedule for robfig/cron.
func (s Schedule) Cron() cron.Schedule { return s.sched }

// Next returns the first activation after t, or the zero time if none.
func (s Schedule) Next(t time.Time) time.Time {
	if s.sched == nil {
		return time.Time{}
	}
	return s.sched.Next(t)
}

// IsZero reports whether no schedule is set.
func (s Schedule) IsZero() bool { return s.sched == nil }

// String returns the spec as written.
func (s Schedule) String() string { return s.Spec }

// MarshalText writes the spec as written.
func (s Schedule) MarshalText() ([]byte, error) { return []byte(s.Spec), nil }

func (s *Schedule) decodeTOML(v any) error {
	str, ok := v.(string)
	if !ok {
		return typeError("a schedule string such as \"@every 30s\" or \"*/5 * * * *\"", v)
	}
	p, err := ParseSchedule(str)
	if err != nil {
		return err
	}
	*s = p
	return nil
}
