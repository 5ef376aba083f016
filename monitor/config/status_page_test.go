package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const twoMonitors = `
[[monitor]]
name = "shop"
url = "https://shop.example.com/"
tags = ["prod", "public"]

[[monitor]]
name = "api"
url = "https://api.example.com/"
tags = ["prod"]
`

func TestHistoryAndStatusPageDefaults(t *testing.T) {
	hermeticEnv(t)
	cfg, err := Parse("mem.toml", []byte(twoMonitors))
	if err != nil {
		t.Fatal(err)
	}
	if want := (History{Enabled: true, KeepRemoved: 720 * time.Hour}); cfg.History != want {
		t.Errorf("History = %+v, want %+v", cfg.History, want)
	}
	if want := (StatusPage{Title: "Status"}); !reflect.DeepEqual(cfg.StatusPage, want) {
		t.Errorf("StatusPage = %+v, want %+v", cfg.StatusPage, want)
	}
	if cfg.StatusPage.Enabled() {
		t.Error("a config without status_page.listen has a public page")
	}
	for _, m := range cfg.Monitors {
		if !cfg.StatusPage.Shows(&m) {
			t.Errorf("with neither monitors nor tags, %q is not shown", m.Name)
		}
	}
	// An empty table is the defaults too.
	cfg, err = Parse("mem.toml", []byte("[history]\n[status_page]\n"+twoMonitors))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.History.Enabled || cfg.History.KeepRemoved != DefaultKeepRemoved || cfg.StatusPage.Title != DefaultStatusPageTitle {
		t.Errorf("empty tables: history %+v, status page %+v", cfg.History, cfg.StatusPage)
	}
}

func TestHistoryAndStatusPageSet(t *testing.T) {
	hermeticEnv(t)
	cfg, err := Parse("mem.toml", []byte(`
listen = "127.0.0.1:9207"

[history]
enabled = false
maintenance_counts_as_down = true
keep_removed = "36h"

[status_page]
listen = "0.0.0.0:8080"
title = "Example <status>"
monitors = ["api"]
tags = ["public"]
hostnames = ["Status.Example.ORG.", "[2001:DB8::1]"]
`+twoMonitors))
	if err != nil {
		t.Fatal(err)
	}
	if want := (History{Enabled: false, MaintenanceCountsAsDown: true, KeepRemoved: 36 * time.Hour}); cfg.History != want {
		t.Errorf("History = %+v, want %+v", cfg.History, want)
	}
	want := StatusPage{
		Listen: "0.0.0.0:8080", Title: "Example <status>", Monitors: []string{"api"}, Tags: []string{"public"},
		// Normalised as [web] hostnames are.
		Hostnames: []string{"status.example.org", "2001:db8::1"},
	}
	if !reflect.DeepEqual(cfg.StatusPage, want) {
		t.Errorf("StatusPage = %+v, want %+v", cfg.StatusPage, want)
	}
	if !cfg.StatusPage.Enabled() {
		t.Error("status_page.listen is set, Enabled says no page")
	}
	// keep_removed takes the file's duration syntax, the bare 0 included.
	for _, v := range []string{`0`, `"0s"`, `"1h30m"`} {
		if _, err := Parse("mem.toml", []byte("[history]\nkeep_removed = "+v+"\n")); err != nil {
			t.Errorf("keep_removed = %s: %v", v, err)
		}
	}
}

func TestHistoryAndStatusPageErrors(t *testing.T) {
	hermeticEnv(t)
	for name, tc := range map[string]struct{ doc, want string }{
		"keep_removed negative": {"[history]\nkeep_removed = \"-1h\"\n",
			"mem.toml:2: history: keep_removed: -1h is negative"},
		"keep_removed in days": {"[history]\n\nkeep_removed = \"30d\"\n",
			`mem.toml:3: history: keep_removed: "30d" is not a duration such as "500ms", "30s", "5m" or "1h30m"; durations have no days unit: write "720h"`},
		"enabled not a bool": {"[history]\nenabled = \"yes\"\n",
			`mem.toml:2: history: enabled: expected true or false, got string "yes"`},
		"history unknown key": {"[history]\nmaintenance_count_as_down = true\n",
			`mem.toml:2: history: unknown key "maintenance_count_as_down" (did you mean "maintenance_counts_as_down"?)`},
		"history not a table": {"history = true\n",
			"mem.toml:1: history: expected a table ([history]), got boolean true"},
		"listen not host:port": {"[status_page]\nlisten = \"8080\"\n",
			`mem.toml:2: status_page: listen: "8080" is not host:port`},
		"listen port not numeric": {"[status_page]\nlisten = \"0.0.0.0:http\"\n",
			`mem.toml:2: status_page: listen: port "http" is not a number from 0 to 65535`},
		"listen port too large": {"[status_page]\nlisten = \"0.0.0.0:70000\"\n",
			`mem.toml:2: status_page: listen: port "70000" is not a number from 0 to 65535`},
		"listen host a name": {"[status_page]\nlisten = \"status.example.org:8080\"\n",
			`mem.toml:2: status_page: listen: host "status.example.org" is not an IP address or localhost`},
		"listen is listen": {"listen = \"127.0.0.1:9300\"\n[status_page]\nlisten = \"127.0.0.1:9300\"\n",
			`mem.toml:3: status_page: listen: "127.0.0.1:9300" overlaps listen = "127.0.0.1:9300"`},
		"listen overlaps the default listen": {"[status_page]\nlisten = \"0.0.0.0:9207\"\n",
			`mem.toml:2: status_page: listen: "0.0.0.0:9207" overlaps listen = "127.0.0.1:9207"`},
		"title empty": {"[status_page]\ntitle = \" \"\n",
			`mem.toml:2: status_page: title: is empty; leave it out for the default "Status"`},
		"title control": {"[status_page]\ntitle = \"a\\u0007b\"\n",
			`mem.toml:2: status_page: title: "a\ab" contains control characters`},
		"title bidi": {"[status_page]\ntitle = \"ok\\u202edb\"\n",
			`mem.toml:2: status_page: title: "ok\u202edb" contains the bidirectional control character U+202E`},
		"monitors unknown": {"[status_page]\nmonitors = [\n  \"shop\",\n  \"shpo\",\n]\n" + twoMonitors,
			`mem.toml:4: status_page: monitors: no monitor named "shpo" (did you mean "shop"?)`},
		"monitors empty": {"[status_page]\nmonitors = []\n",
			"mem.toml:2: status_page: monitors: empty list: name at least one monitor, or leave the key out"},
		"monitors not strings": {"[status_page]\nmonitors = [1]\n",
			"mem.toml:2: status_page: monitors: element 1: expected a string, got integer 1"},
		"tags empty": {"[status_page]\ntags = []\n",
			"mem.toml:2: status_page: tags: empty list: name at least one tag, or leave the key out"},
		"tag empty": {"[status_page]\ntags = [\"public\", \"\"]\n",
			"mem.toml:2: status_page: tags: element 2 is empty"},
		"hostnames with port": {"[status_page]\nhostnames = [\"ok.example\", \"status.example.org:8080\"]\n",
			`mem.toml:2: status_page: hostnames: "status.example.org:8080" is not a host name or IP address (leave the port out)`},
		"status_page unknown key": {"[status_page]\nlisten_addr = \"0.0.0.0:8080\"\n",
			`mem.toml:2: status_page: unknown key "listen_addr"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("mem.toml", []byte(tc.doc))
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) != 1 || !strings.HasPrefix(ve.Errors[0].Error(), tc.want) {
				t.Fatalf("Parse = %v, want one error starting %q", err, tc.want)
			}
		})
	}
}

func TestStatusPageShows(t *testing.T) {
	shop := &Monitor{Name: "shop", Tags: []string{"prod", "public"}}
	api := &Monitor{Name: "api", Tags: []string{"prod"}}
	blog := &Monitor{Name: "blog"}
	for _, tc := range []struct {
		name     string
		page     StatusPage
		shown    []*Monitor
		notShown []*Monitor
	}{
		{"neither key: every monitor", StatusPage{}, []*Monitor{shop, api, blog}, nil},
		{"monitors only", StatusPage{Monitors: []string{"api"}}, []*Monitor{api}, []*Monitor{shop, blog}},
		{"tags only", StatusPage{Tags: []string{"public"}}, []*Monitor{shop}, []*Monitor{api, blog}},
		{"any of the tags", StatusPage{Tags: []string{"nope", "prod"}}, []*Monitor{shop, api}, []*Monitor{blog}},
		{"monitors or tags", StatusPage{Monitors: []string{"blog"}, Tags: []string{"public"}}, []*Monitor{shop, blog}, []*Monitor{api}},
		// Names and tags are matched exactly: a tag is not a name.
		{"a tag named like a monitor", StatusPage{Tags: []string{"api"}}, nil, []*Monitor{shop, api, blog}},
		{"no monitor", StatusPage{}, nil, []*Monitor{nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range tc.shown {
				if !tc.page.Shows(m) {
					t.Errorf("%q is not shown, want shown", m.Name)
				}
			}
			for _, m := range tc.notShown {
				if tc.page.Shows(m) {
					t.Errorf("%v is shown, want hidden", m)
				}
			}
		})
	}
}

func TestListenOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"127.0.0.1:9207", "127.0.0.1:9207", true},
		{"127.0.0.1:9207", "127.0.0.1:8080", false},
		{"127.0.0.1:9207", "127.0.0.2:9207", false},
		{"127.0.0.1:9207", "0.0.0.0:9207", true},
		{"127.0.0.1:9207", ":9207", true},
		{"[::]:9207", "192.0.2.1:9207", true},
		{"localhost:9207", "127.0.0.1:9207", true},
		{"localhost:9207", "[::1]:9207", true},
		{"localhost:9207", "192.0.2.1:9207", false},
		{"[::ffff:192.0.2.1]:9207", "192.0.2.1:9207", true},
		{"127.0.0.1:09207", "127.0.0.1:9207", true},
		// Port 0 picks a free port each time.
		{"127.0.0.1:0", "127.0.0.1:0", false},
		{"bad", "127.0.0.1:9207", false},
	} {
		if got := listenOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("listenOverlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := listenOverlap(tc.b, tc.a); got != tc.want {
			t.Errorf("listenOverlap(%q, %q) = %v, want %v", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestDiffStatusPageAndHistory: the public listener is bound at start, so a
// new status_page.listen needs a restart; the rest of both tables applies
// on reload.
func TestDiffStatusPageAndHistory(t *testing.T) {
	old := &Config{History: defaultHistory(), StatusPage: StatusPage{Title: "Status"}}
	reloadable := &Config{
		History:    History{Enabled: false, MaintenanceCountsAsDown: true, KeepRemoved: time.Hour},
		StatusPage: StatusPage{Title: "Other", Monitors: []string{"shop"}, Tags: []string{"public"}, Hostnames: []string{"a.example"}},
	}
	if c := Diff(old, reloadable); len(c.NeedRestart) != 0 {
		t.Errorf("history and status page content changed: needs restart %v, want nothing", c.NeedRestart)
	}
	moved := &Config{History: defaultHistory(), StatusPage: StatusPage{Title: "Status", Listen: "0.0.0.0:8080"}}
	if c := Diff(old, moved); !reflect.DeepEqual(c.NeedRestart, []string{"status_page.listen"}) {
		t.Errorf("status_page.listen set: needs restart %v, want [status_page.listen]", c.NeedRestart)
	}
}

func TestKeysHistoryAndStatusPage(t *testing.T) {
	keys := Keys()
	if want := []string{"enabled", "maintenance_counts_as_down", "keep_removed"}; !slices.Equal(keys["history"], want) {
		t.Errorf("history keys = %v, want %v", keys["history"], want)
	}
	if want := []string{"listen", "title", "monitors", "tags", "hostnames"}; !slices.Equal(keys["status_page"], want) {
		t.Errorf("status_page keys = %v, want %v", keys["status_page"], want)
	}
	for _, k := range keys[""] {
		if k == "history" || k == "status_page" {
			t.Errorf("table %q listed among the top-level keys %v", k, keys[""])
		}
	}
}
