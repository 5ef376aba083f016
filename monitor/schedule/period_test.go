package schedule

import (
	"testing"
	"time"
)

func TestMinPeriod(t *testing.T) {
	tests := []struct {
		spec string
		want time.Duration
	}{
		{"@every 30s", 30 * time.Second},
		{"@every 1m30s", 90 * time.Second},
		{"*/2 * * * *", 2 * time.Minute},
		{"* * * * *", time.Minute},
		{"0,1 * * * *", time.Minute},
		{"0,30 9-17 * * 1-5", 30 * time.Minute},
		{"0 3 * * *", 24 * time.Hour},
		{"@hourly", time.Hour},
		{"@daily", 24 * time.Hour},
		{"@weekly", 7 * 24 * time.Hour},
		{"0 9 * * 1,3", 2 * 24 * time.Hour},
		{"CRON_TZ=UTC */5 * * * *", 5 * time.Minute},
		{"0 0 29 2 *", (4*365 + 1) * 24 * time.Hour},
		{"0 0 31 * *", 31 * 24 * time.Hour}, // Jul 31 → Aug 31
		{"59 23 * * 1,2", 24 * time.Hour},
	}
	for _, tt := range tests {
		s, err := ParseSpec(tt.spec)
		if err != nil {
			t.Errorf("%q: %v", tt.spec, err)
			continue
		}
		if p, _ := s.MinPeriod(); p != tt.want {
			t.Errorf("%q: period %s, want %s", tt.spec, p, tt.want)
		}
		now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
		if n := s.Next(now, 0, 0); !n.After(now) {
			t.Errorf("%q: Next(%v) = %v", tt.spec, now, n)
		}
	}
}

// TestCronPeriodMatchesNext checks the computed period against a brute-force
// walk over robfig/cron's own Next.
func TestCronPeriodMatchesNext(t *testing.T) {
	for _, spec := range []string{"*/7 * * * *", "5,50 */3 * * *", "0,30 9-17 * * 1-5", "15 10 1,15 * *", "0 0 * * 0"} {
		s, err := ParseSpec(spec)
		if err != nil {
			t.Fatal(err)
		}
		var best time.Duration
		prev := s.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 0, 0)
		for range 600 {
			next := s.Next(prev, 0, 0)
			if g := next.Sub(prev); best == 0 || g < best {
				best = g
			}
			prev = next
		}
		if p, _ := s.MinPeriod(); p != best {
			t.Errorf("%q: period %s, brute force %s", spec, p, best)
		}
	}
}
