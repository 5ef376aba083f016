package config

import (
	"reflect"
	"slices"
)

// Keys lists the keys the loader accepts in each table, as it decodes them:
// "" is the top level (without its tables), "defaults" holds only the keys
// a [defaults] may set, and the array tables go by their names ("monitor"
// for [[monitor]]). Keys of inline tables (basic_auth) are not listed. The
// config reference (config.example.toml and the vantage.toml(5) page made
// from it) is checked against this, so it documents every key and no key
// that does not exist.
func Keys() map[string][]string {
	names := func(t reflect.Type) []string {
		_, n := tomlFields(t)
		return n
	}
	top := slices.DeleteFunc(names(reflect.TypeFor[Config]()), func(k string) bool { return slices.Contains(tableKeys, k) })
	return map[string][]string{
		"":            top,
		"web":         names(reflect.TypeFor[Web]()),
		"api":         names(reflect.TypeFor[API]()),
		"history":     names(reflect.TypeFor[History]()),
		"status_page": names(reflect.TypeFor[StatusPage]()),
		"defaults":    slices.Clone(defaultableKeys),
		"monitor":     names(reflect.TypeFor[Monitor]()),
		"vantage":     names(reflect.TypeFor[Vantage]()),
		"canary":      names(reflect.TypeFor[Canary]()),
		"notify":      names(reflect.TypeFor[Notify]()),
		"receiver":    names(reflect.TypeFor[Receiver]()),
		"route":       names(reflect.TypeFor[Route]()),
		"maintenance": names(reflect.TypeFor[Maintenance]()),
	}
}
