package redact

import (
	"reflect"
)

// maxDepth bounds Copy on a value that refers to itself.
const maxDepth = 32

// Copy returns a deep copy of v with f applied to every string in it:
// exported struct fields, slice, array and map elements, and what pointers
// and interfaces hold. Map keys, byte slices and unexported fields are
// copied as they are. v itself is not changed, so a value shared with
// other goroutines (a monitor view, a queued message) can be redacted for
// one reader without a lock.
//
// Walking the value rather than its JSON keeps the types and so the field
// order and encoding of whatever prints or encodes the copy.
func Copy[T any](v T, f func(string) string) T {
	if f == nil {
		return v
	}
	src := reflect.ValueOf(&v).Elem()
	dst := reflect.New(src.Type()).Elem()
	copyValue(dst, src, f, 0)
	return dst.Interface().(T)
}

func copyValue(dst, src reflect.Value, f func(string) string, depth int) {
	if depth > maxDepth {
		dst.Set(src)
		return
	}
	depth++
	switch src.Kind() {
	case reflect.String:
		dst.SetString(f(src.String()))
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		n := reflect.New(src.Type().Elem())
		copyValue(n.Elem(), src.Elem(), f, depth)
		dst.Set(n)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		inner := src.Elem()
		n := reflect.New(inner.Type()).Elem()
		copyValue(n, inner, f, depth)
		dst.Set(n)
	case reflect.Struct:
		dst.Set(src)
		t := src.Type()
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				copyValue(dst.Field(i), src.Field(i), f, depth)
			}
		}
	case reflect.Slice:
		if src.IsNil() || src.Type().Elem().Kind() == reflect.Uint8 {
			dst.Set(src)
			return
		}
		n := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			copyValue(n.Index(i), src.Index(i), f, depth)
		}
		dst.Set(n)
	case reflect.Array:
		for i := range src.Len() {
			copyValue(dst.Index(i), src.Index(i), f, depth)
		}
	case reflect.Map:
		if src.IsNil() {
			return
		}
		n := reflect.MakeMapWithSize(src.Type(), src.Len())
		it := src.MapRange()
		for it.Next() {
			e := reflect.New(src.Type().Elem()).Elem()
			copyValue(e, it.Value(), f, depth)
			n.SetMapIndex(it.Key(), e)
		}
		dst.Set(n)
	default:
		dst.Set(src)
	}
}
