package web

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// bareTimes lists the fields of t, and of every type it holds, that are a
// time.Time rather than a result.Time, as paths from t
// (listResponse.Monitors.LastResult.Result.TLS.NotAfter). Such a field
// writes Go's zero time, 0001-01-01T00:00:00Z, where a time has not
// happened.
func bareTimes(t reflect.Type) []string {
	var out []string
	seen := map[reflect.Type]bool{}
	var walk func(path string, t reflect.Type)
	walk = func(path string, t reflect.Type) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(path, t.Elem())
		case reflect.Map:
			walk(path, t.Key())
			walk(path, t.Elem())
		case reflect.Struct:
			if t == reflect.TypeFor[time.Time]() {
				out = append(out, path)
				return
			}
			if t == reflect.TypeFor[result.Time]() || seen[t] {
				return
			}
			seen[t] = true
			for i := range t.NumField() {
				if f := t.Field(i); f.IsExported() && f.Tag.Get("json") != "-" {
					walk(path+"."+f.Name, f.Type)
				}
			}
		}
	}
	walk(t.Name(), t)
	return out
}

// Every time the API shows, and `vantage check --json` prints (a
// result.Outcome, which the API shows as last_result), is a result.Time,
// so a time that has not happened is null (issue 12, point 5): a field
// added as a time.Time fails here, even one that is rarely zero.
func TestAPIHasNoBareTime(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[listResponse](), reflect.TypeFor[oneResponse](), reflect.TypeFor[notificationsResponse](),
		reflect.TypeFor[result.Outcome](),
	} {
		if bare := bareTimes(typ); len(bare) > 0 {
			t.Errorf("%s shows time.Time fields, which write 0001-01-01T00:00:00Z when zero; make them result.Time:\n  %s", typ.Name(), strings.Join(bare, "\n  "))
		}
	}
	// The walk does find one, however deep.
	type withBare struct {
		Inner []*struct{ At time.Time }
	}
	if bare := bareTimes(reflect.TypeFor[withBare]()); !slices.Equal(bare, []string{"withBare.Inner.At"}) {
		t.Errorf("bareTimes(withBare) = %v, want [withBare.Inner.At]", bare)
	}
}

// A monitor not checked yet and an open incident: the times that have not
// happened are null, present under their names.
func TestAPITimesNotYetHappenedAreNull(t *testing.T) {
	mons := []MonitorView{
		{Name: "new", URL: "https://new.example.com/", State: incident.StateUp},
		{Name: "shop", URL: "https://shop.example.com/", State: incident.StateDown, LastCheck: result.TimeOf(testNow),
			OpenIncident: &incident.Incident{ID: 7, Monitor: "shop", Kind: incident.KindTarget, OpenedAt: result.TimeOf(testNow.Add(-time.Minute)), Class: result.ClassBadGateway}},
	}
	h := newTestHandler(&fakeSource{mons: mons}, nil, nil)
	for _, tt := range []struct {
		path, field string
		want        any
	}{
		{"/api/v1/monitors/new", "last_check", nil},
		{"/api/v1/monitors/shop", "last_check", "2026-11-21T12:00:00Z"},
	} {
		rec := serve(h, http.MethodGet, tt.path)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tt.path, rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), "0001-01-01") {
			t.Errorf("%s shows a zero time: %s", tt.path, rec.Body)
		}
		m := decodeMap(t, rec)["monitor"].(map[string]any)
		if got, ok := m[tt.field]; !ok || got != tt.want {
			t.Errorf("%s: %s = %#v (present %v), want %#v", tt.path, tt.field, got, ok, tt.want)
		}
		if inc, _ := m["open_incident"].(map[string]any); inc != nil {
			if got, ok := inc["resolved_at"]; !ok || got != nil {
				t.Errorf("%s: open_incident.resolved_at = %#v (present %v), want null", tt.path, got, ok)
			}
		}
	}
}
