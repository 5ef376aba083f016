package schedule

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // substring; "" means valid
		period  time.Duration
	}{
		{in: "@every 30s", period: 30 * time.Second},
		{in: "  @every 1m30s ", period: 90 * time.Second},
		{in: "@every 1500ms", period: 1500 * time.Millisecond},
		{in: "@hourly", period: time.Hour},
		{in: "@daily", period: 24 * time.Hour},
		{in: "*/2 * * * *", period: 2 * time.Minute},
		{in: "0 9 * * *", period: 24 * time.Hour},
		{in: "", wantErr: "empty schedule"},
		{in: "@every", wantErr: `want "@every <duration>"`},
		{in: "@every 500ms", wantErr: "shorter than 1s"},
		{in: "@every -5s", wantErr: "shorter than 1s"},
		{in: "@every soon", wantErr: `invalid duration "soon"`},
		{in: "* * *", wantErr: `parse schedule "* * *"`},
		{in: "61 * * * *", wantErr: "61"},
		{in: "@fortnightly", wantErr: "unrecognized descriptor"},
	}
	from := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSpec(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSpec(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.in, err)
			}
			if got := s.Period(from); got != tt.period {
				t.Errorf("Period = %v, want %v", got, tt.period)
			}
			if s.String() != strings.TrimSpace(tt.in) {
				t.Errorf("String = %q", s.String())
			}
		})
	}
}

func TestJitterIsStableAndInRange(t *testing.T) {
	for _, name := range []string{"", "shop", "api", "mon-00001", "mon-00002"} {
		a, b := Jitter(name), Jitter(name)
		if a != b {
			t.Errorf("Jitter(%q) not deterministic: %v then %v", name, a, b)
		}
		if a < 0 || a >= 1 {
			t.Errorf("Jitter(%q) = %v, outside [0, 1)", name, a)
		}
	}
	if Jitter("mon-00001") == Jitter("mon-00002") {
		t.Error("adjacent names share a jitter")
	}
}

// 10,000 monitors "@every 1m" must not pile into the same second.
func TestEverySpreadsNamesOverThePeriod(t *testing.T) {
	const n = 10000
	spec := MustParseSpec("@every 1m")
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	var perSecond [60]int
	for i := range n {
		name := fmt.Sprintf("mon-%05d", i)
		next := spec.Next(start, Jitter(name), DefaultMaxJitter)
		if !next.After(start) || next.After(start.Add(time.Minute)) {
			t.Fatalf("%s: next %v not in (start, start+1m]", name, next)
		}
		if again := spec.Next(start, Jitter(name), DefaultMaxJitter); !again.Equal(next) {
			t.Fatalf("%s: next not deterministic: %v then %v", name, next, again)
		}
		perSecond[next.Sub(start)/time.Second%60]++
	}
	mean := float64(n) / 60
	for sec, c := range perSecond {
		if float64(c) > 1.5*mean || float64(c) < 0.5*mean {
			t.Errorf("second %d holds %d fires; mean is %.0f", sec, c, mean)
		}
	}
}

func TestEveryIsAlignedToTheEpoch(t *testing.T) {
	spec := MustParseSpec("@every 30s")
	const frac = 0.25 // offset 7.5s
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct{ after, want string }{
		{"2026-01-05T08:00:00Z", "2026-01-05T08:00:07.5Z"},
		{"2026-01-05T08:00:07.5Z", "2026-01-05T08:00:37.5Z"}, // strictly after
		{"2026-01-05T08:00:07.4Z", "2026-01-05T08:00:07.5Z"},
		{"2026-01-05T08:00:40Z", "2026-01-05T08:01:07.5Z"},
		{"1969-12-31T23:59:30Z", "1969-12-31T23:59:37.5Z"}, // floor division before the epoch
	}
	for _, tt := range tests {
		if got := spec.Next(at(tt.after), frac, DefaultMaxJitter); !got.Equal(at(tt.want)) {
			t.Errorf("Next(%s) = %s, want %s", tt.after, got.Format(time.RFC3339Nano), tt.want)
		}
	}
}

func TestCronSpecJitterStaysWithinTheWindow(t *testing.T) {
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	tests := []struct {
		spec      string
		frac      float64
		maxJitter time.Duration
		after     time.Time
		want      time.Time
	}{
		{"0 9 * * *", 0.5, time.Minute, day, day.Add(9*time.Hour + 30*time.Second)},
		{"0 9 * * *", 0.5, 0, day, day.Add(9 * time.Hour)},
		{"0 9 * * *", 0.5, time.Minute, day.Add(9*time.Hour + 10*time.Second), day.Add(9*time.Hour + 30*time.Second)},
		{"0 9 * * *", 0.5, time.Minute, day.Add(9*time.Hour + 30*time.Second), day.Add(33*time.Hour + 30*time.Second)},
		// The window is the gap when the gap is shorter than MaxJitter.
		{"*/2 * * * *", 0.5, time.Hour, day, day.Add(time.Minute)},
		{"*/2 * * * *", 0.5, time.Hour, day.Add(time.Minute), day.Add(3 * time.Minute)},
		{"*/2 * * * *", 0.5, time.Minute, day, day.Add(30 * time.Second)},
		// Friday 09:00 is followed by Monday 09:00.
		{"0 9 * * 1-5", 0.1, time.Minute, day.Add(4*24*time.Hour + 10*time.Hour), day.Add(7*24*time.Hour + 9*time.Hour + 6*time.Second)},
	}
	for _, tt := range tests {
		got := MustParseSpec(tt.spec).Next(tt.after, tt.frac, tt.maxJitter)
		if !got.Equal(tt.want) {
			t.Errorf("%q frac %v max %v: Next(%v) = %v, want %v", tt.spec, tt.frac, tt.maxJitter, tt.after, got, tt.want)
		}
	}
}

func TestSpecThatNeverFires(t *testing.T) {
	s := MustParseSpec("0 0 30 2 *") // 30 February
	if got := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 0.5, time.Minute); !got.IsZero() {
		t.Errorf("Next = %v, want zero", got)
	}
	if p := s.Period(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); p != 0 {
		t.Errorf("Period = %v, want 0", p)
	}
}
