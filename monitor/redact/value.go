package redact

import (
	"reflect"
)

// maxDepth bounds Copy on a value that refers to itself.
const maxDepth = 32

// Copy returns v with f applied to every string in it: exported struct
// fields, slice, array and map elements, and what pointers and interfaces
// hold (map keys, byte slices and unexported fields are left as they are).
// v itself is never written to: what f changes is copied, from the string
// up to the root, and the parts f leaves alone are shared with v. So a
// value shared with other goroutines (a monitor view, a queued message)
// can be redacted for one reader without a lock, and costs nothing when it
// holds no secret.
//
// Walking the value rather than its JSON keeps the types and so the field
// order and encoding of whatever prints or encodes the result.
func Copy[T any](v T, f func(string) string) T {
	if f == nil {
		return v
	}
	if n, ok := redactValue(reflect.ValueOf(&v).Elem(), f, 0); ok {
		return n.Interface().(T)
	}
	return v
}

// redactValue returns a redacted copy of v and true, or false when f
// changes nothing in v.
func redactValue(v reflect.Value, f func(string) string, depth int) (reflect.Value, bool) {
	if depth > maxDepth {
		return v, false
	}
	depth++
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		r := f(s)
		if r == s {
			return v, false
		}
		n := reflect.New(v.Type()).Elem()
		n.SetString(r)
		return n, true
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		e, ok := redactValue(v.Elem(), f, depth)
		if !ok {
			return v, false
		}
		n := reflect.New(v.Type().Elem())
		n.Elem().Set(e)
		return n, true
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		e, ok := redactValue(v.Elem(), f, depth)
		if !ok {
			return v, false
		}
		n := reflect.New(v.Type()).Elem()
		n.Set(e)
		return n, true
	case reflect.Struct:
		var n reflect.Value
		t := v.Type()
		for i := range t.NumField() {
			if !t.Field(i).IsExported() {
				continue
			}
			e, ok := redactValue(v.Field(i), f, depth)
			if !ok {
				continue
			}
			if !n.IsValid() {
				n = reflect.New(t).Elem()
				n.Set(v)
			}
			n.Field(i).Set(e)
		}
		return orig(n, v)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && (v.IsNil() || v.Type().Elem().Kind() == reflect.Uint8) {
			return v, false
		}
		var n reflect.Value
		for i := range v.Len() {
			e, ok := redactValue(v.Index(i), f, depth)
			if !ok {
				continue
			}
			if !n.IsValid() {
				if v.Kind() == reflect.Slice {
					n = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
					reflect.Copy(n, v)
				} else {
					n = reflect.New(v.Type()).Elem()
					n.Set(v)
				}
			}
			n.Index(i).Set(e)
		}
		return orig(n, v)
	case reflect.Map:
		if v.IsNil() {
			return v, false
		}
		var changed map[int]reflect.Value
		keys := v.MapKeys()
		for i, k := range keys {
			if e, ok := redactValue(v.MapIndex(k), f, depth); ok {
				if changed == nil {
					changed = map[int]reflect.Value{}
				}
				changed[i] = e
			}
		}
		if changed == nil {
			return v, false
		}
		n := reflect.MakeMapWithSize(v.Type(), len(keys))
		for i, k := range keys {
			if e, ok := changed[i]; ok {
				n.SetMapIndex(k, e)
			} else {
				n.SetMapIndex(k, v.MapIndex(k))
			}
		}
		return n, true
	}
	return v, false
}

// orig returns the copy n when one was made, else v unchanged.
func orig(n, v reflect.Value) (reflect.Value, bool) {
	if n.IsValid() {
		return n, true
	}
	return v, false
}
