package schedule

import (
	"time"

	"github.com/robfig/cron/v3"
)

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
		return 0, ErrNeverFires
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
		return 0, ErrNeverFires
	case dayGap < 0 && best < 0:
		return 0, ErrFiresOnce
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
