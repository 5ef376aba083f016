package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/schedule"
)

// The document is decoded by BurntSushi/toml into plain maps first, and then
// into the typed structs by the small walker below. BurntSushi stops at the
// first type mismatch and does not say where it is; walking the maps lets us
// report every mismatch and every unknown key at once, each with its line.

// tomlDecoder is implemented by types that read themselves from a raw value.
type tomlDecoder interface {
	decodeTOML(v any) error
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	timeType      = reflect.TypeFor[time.Time]()
	statusSetType = reflect.TypeFor[probe.StatusSet]()
	scheduleType  = reflect.TypeFor[schedule.Spec]()
)

type decoder struct {
	file  string
	lines lineIndex
	errs  []FieldError
	// bad holds the paths whose value could not be decoded: later checks of
	// the same key would only repeat the problem in other words.
	bad map[string]bool
	// fields caches tomlFields per struct type: a watchlist has thousands
	// of tables of a handful of types.
	fields map[reflect.Type]typeFields
}

type typeFields struct {
	byName map[string]fieldInfo
	names  []string
}

// add records a problem at the line of path (or of its nearest ancestor).
func (d *decoder) add(path, section, key, format string, args ...any) {
	if d.bad[path] {
		return
	}
	d.errs = append(d.errs, FieldError{
		File: d.file, Line: d.lines.lookup(path), Section: section, Key: key,
		Msg: fmt.Sprintf(format, args...),
	})
}

type fieldInfo struct {
	index int
	size  bool // an int64 that also accepts "512KiB"
}

// tomlFields lists a struct's keys from its toml tags, in field order.
func tomlFields(t reflect.Type) (map[string]fieldInfo, []string) {
	fields := map[string]fieldInfo{}
	var names []string
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("toml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = fieldInfo{index: i, size: opts == "size"}
		names = append(names, name)
	}
	return fields, names
}

// tableSpec says how to decode one table.
type tableSpec struct {
	// allow, when set, restricts the keys accepted here to these names.
	allow []string
	// skip lists keys that are known but decoded by the caller.
	skip []string
	// misplaced, when set, explains a known key that is not allowed here.
	misplaced func(key string) string
}

// table decodes raw into the struct dst points to, setting only the keys
// present, so that dst may carry defaults in.
func (d *decoder) table(raw map[string]any, path, section string, dst any, ts tableSpec) {
	rv := reflect.ValueOf(dst).Elem()
	tf, ok := d.fields[rv.Type()]
	if !ok {
		tf.byName, tf.names = tomlFields(rv.Type())
		if d.fields == nil {
			d.fields = map[reflect.Type]typeFields{}
		}
		d.fields[rv.Type()] = tf
	}
	fields, names := tf.byName, tf.names
	allowed := names
	if ts.allow != nil {
		allowed = ts.allow
	}
	candidates := append(append([]string(nil), allowed...), ts.skip...)
	for _, k := range d.sortedKeys(raw, path) {
		if contains(ts.skip, k) {
			continue
		}
		kp := joinPath(path, k)
		f, ok := fields[k]
		if !ok || !contains(allowed, k) {
			if ok && ts.misplaced != nil {
				if msg := ts.misplaced(k); msg != "" {
					d.add(kp, section, k, "%s", msg)
					continue
				}
			}
			d.add(kp, section, "", "unknown key %q%s", k, suggest(k, candidates))
			continue
		}
		if err := decodeValue(raw[k], rv.Field(f.index), f.size); err != nil {
			d.add(kp, section, k, "%s", err.Error())
			if d.bad == nil {
				d.bad = map[string]bool{}
			}
			d.bad[kp] = true
		}
	}
}

// sortedKeys returns raw's keys in file order, so errors come out in order.
func (d *decoder) sortedKeys(raw map[string]any, path string) []string {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := d.lines.lookup(joinPath(path, keys[i])), d.lines.lookup(joinPath(path, keys[j]))
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// decodeValue stores v in fv, or says why it cannot.
func decodeValue(v any, fv reflect.Value, size bool) error {
	if dec, ok := fv.Addr().Interface().(tomlDecoder); ok {
		return dec.decodeTOML(v)
	}
	switch fv.Type() {
	case durationType:
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
		return nil
	case timeType:
		t, err := parseDatetime(v)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(t))
		return nil
	case statusSetType:
		s, err := parseStatus(v)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(s))
		return nil
	case scheduleType:
		s, err := decodeSchedule(v)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(s))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return typeError("a string", v)
		}
		fv.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return typeError("true or false", v)
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int64:
		var n int64
		if size {
			var err error
			if n, err = parseSize(v); err != nil {
				return err
			}
		} else {
			i, ok := v.(int64)
			if !ok {
				return typeError("an integer", v)
			}
			if fv.Kind() == reflect.Int && (i > math.MaxInt32 || i < math.MinInt32) {
				return fmt.Errorf("%d is out of range", i)
			}
			n = i
		}
		fv.SetInt(n)
	case reflect.Slice:
		arr, ok := asArray(v)
		if !ok {
			return typeError("an array", v)
		}
		out := reflect.MakeSlice(fv.Type(), len(arr), len(arr))
		var errs []error
		for i, e := range arr {
			if err := decodeValue(e, out.Index(i), false); err != nil {
				errs = append(errs, fmt.Errorf("element %d: %w", i+1, err))
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		fv.Set(out)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return typeError("a table", v)
		}
		out := reflect.MakeMapWithSize(fv.Type(), len(m))
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, ok := m[k].(string)
			if !ok {
				return fmt.Errorf("%q: %w", k, typeError("a string", m[k]))
			}
			out.SetMapIndex(reflect.ValueOf(k), reflect.ValueOf(s))
		}
		fv.Set(out)
	default:
		return fmt.Errorf("cannot decode into %s", fv.Type())
	}
	return nil
}

func asArray(v any) ([]any, bool) {
	switch a := v.(type) {
	case []any:
		return a, true
	case []map[string]any:
		out := make([]any, len(a))
		for i, m := range a {
			out[i] = m
		}
		return out, true
	}
	return nil, false
}

func asTable(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

// typeError says what was expected and what the file holds instead.
func typeError(want string, v any) error {
	return fmt.Errorf("expected %s, got %s", want, describe(v))
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case time.Time:
		return "a datetime"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

const durationHint = `a duration such as "500ms", "30s", "5m" or "1h30m"`

// parseDuration reads a Go duration string; a bare integer 0 is also
// accepted, since `repeat = 0` reads naturally as "off".
func parseDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("%q is not %s%s", x, durationHint, daysHint(x))
		}
		return d, nil
	case int64:
		if x == 0 {
			return 0, nil
		}
	}
	return 0, typeError(durationHint, v)
}

// daysHint answers the most natural mistake, a count of days ("30d"),
// with the hours Go durations spell it in.
func daysHint(s string) string {
	n, ok := strings.CutSuffix(strings.TrimSpace(s), "d")
	days, err := strconv.Atoi(n)
	if !ok || err != nil || days < 0 || days > 100000 {
		return ""
	}
	return fmt.Sprintf(`; durations have no days unit: write "%dh"`, days*24)
}

// unwrapDurationErr drops Go's "time: " prefix from a ParseDuration error.
func unwrapDurationErr(err error) error {
	return errors.New(strings.TrimPrefix(err.Error(), "time: "))
}

// parseDatetime accepts a TOML datetime or an RFC 3339 string. A datetime
// without an offset is read in the machine's local time zone.
func parseDatetime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		switch x.Location().String() {
		case "datetime-local", "date-local":
			return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.Local), nil
		case "time-local":
			return time.Time{}, fmt.Errorf("a time of day without a date is not a point in time")
		}
		return x, nil
	case string:
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(x))
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 datetime such as \"2026-03-01T02:00:00Z\"", x)
		}
		return t, nil
	}
	return time.Time{}, typeError("a datetime", v)
}

// parseStatus reads expect_status: 200, "200-299,404" or [200, "300-399"].
func parseStatus(v any) (probe.StatusSet, error) {
	one := func(e any) (probe.StatusSet, error) {
		switch x := e.(type) {
		case int64:
			return probe.ParseStatusSet(strconv.FormatInt(x, 10))
		case string:
			return probe.ParseStatusSet(x)
		}
		return nil, typeError("a status code or a range string such as \"200-299\"", e)
	}
	arr, ok := asArray(v)
	if !ok {
		return one(v)
	}
	if len(arr) == 0 {
		return nil, errors.New("empty list: no status would be accepted")
	}
	var set probe.StatusSet
	var errs []error
	for i, e := range arr {
		s, err := one(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("element %d: %w", i+1, err))
			continue
		}
		set = append(set, s...)
	}
	return set, errors.Join(errs...)
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// parseSize reads a byte count: an integer, or a string such as "512KiB".
func parseSize(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		mult := int64(1)
		for _, u := range sizeUnits {
			if rest, ok := strings.CutSuffix(s, u.suffix); ok {
				s, mult = strings.TrimSpace(rest), u.mult
				break
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("%q is not a size such as 65536, \"512KiB\" or \"1MiB\"", x)
		}
		return n * mult, nil
	}
	return 0, typeError("a size such as 65536 or \"1MiB\"", v)
}
