package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/schedule"
)

// parseSchedule reads a monitor or maintenance schedule with the program's
// one parser, monitor/schedule, and adds what the config asks beyond a
// schedule that parses: whole seconds, and a shortest period (the timeout is
// checked against it), so a schedule that never fires is refused. The
// errors are worded for the file's author.
func parseSchedule(text string) (schedule.Spec, error) {
	s, err := schedule.ParseSpec(text)
	if err != nil {
		return schedule.Spec{}, scheduleError(err)
	}
	spec := s.String()
	period, err := s.MinPeriod()
	switch {
	case err != nil:
		return schedule.Spec{}, fmt.Errorf("%q %w", spec, err)
	case period%time.Second != 0:
		return schedule.Spec{}, fmt.Errorf("%q: the period must be whole seconds", spec)
	}
	return s, nil
}

// scheduleError words a *schedule.SpecError for the config file.
func scheduleError(err error) error {
	var se *schedule.SpecError
	if !errors.As(err, &se) {
		return err
	}
	spec := strings.TrimSpace(se.Text)
	switch se.Kind {
	case schedule.ErrEmpty:
		return errors.New("empty schedule")
	case schedule.ErrEveryForm:
		return fmt.Errorf("%q is not \"@every <duration>\" or a 5-field cron spec", spec)
	case schedule.ErrEveryDuration:
		return fmt.Errorf("%q: bad duration: %w", spec, unwrapDurationErr(se.Err))
	case schedule.ErrEveryTooShort:
		return fmt.Errorf("%q: the period must be at least 1s", spec)
	case schedule.ErrCron:
		return fmt.Errorf("%q is not \"@every <duration>\" or a 5-field cron spec: %w", spec, se.Err)
	}
	return err
}

func decodeSchedule(v any) (schedule.Spec, error) {
	str, ok := v.(string)
	if !ok {
		return schedule.Spec{}, typeError("a schedule string such as \"@every 30s\" or \"*/5 * * * *\"", v)
	}
	return parseSchedule(str)
}
