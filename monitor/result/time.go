package result

import (
	"bytes"
	"strings"
	"time"
)

// Time is a point in time as vantage writes it in JSON: RFC 3339, or null
// for a time that has not happened (the resolved_at of an open incident, the
// last_check of a monitor not yet checked). Every time the API and `vantage
// check --json` show is a Time, so that rule is decided here once, for the
// types of every package that shows one; it lives here, the lowest package
// they all import. Embedding keeps time.Time's methods (IsZero, Sub, Before,
// Format, ...), and with them `omitzero`.
//
// It decodes what it writes and what older versions wrote in the store and
// on the agent protocol: "0001-01-01T00:00:00Z" for a zero time is read as
// the zero Time, which is written as null from then on.
type Time struct{ time.Time }

// TimeOf is t as a Time.
func TimeOf(t time.Time) Time { return Time{t} }

// MarshalJSON writes null for the zero time and RFC 3339 (time.Time's
// encoding) for any other.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return t.Time.MarshalJSON()
}

// UnmarshalJSON reads null, as every Unmarshaler does, as no change, and an
// RFC 3339 string as time.Time does; a zero instant, however its zone is
// written, becomes the zero Time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	if v.IsZero() {
		v = time.Time{}
	}
	t.Time = v
	return nil
}

// ShortDuration writes a duration without Go's trailing zero units, as
// messages and notes show it: "15m", "1h30m", not "15m0s".
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
