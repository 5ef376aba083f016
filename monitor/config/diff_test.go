package config

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	hermeticEnv(t)
	load := func(src string) *Config {
		t.Helper()
		cfg, err := Parse("mem.toml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	old := load(`
[[monitor]]
name = "same"
url = "https://same.example.com/"

[[monitor]]
name = "retimed"
url = "https://retimed.example.com/"

[[monitor]]
name = "moved"
url = "https://moved.example.com/"

[[monitor]]
name = "gone"
url = "https://gone.example.com/"
`)
	// "same" moves in the file and is written differently, but its
	// effective settings are equal: it must not count as changed.
	new := load(`
listen = "127.0.0.1:9300"

[[monitor]]
name = "new"
url = "https://new.example.com/"

[[monitor]]
name = "retimed"
url = "https://retimed.example.com/"
timeout = "3s"

[[monitor]]
name = "moved"
url = "https://moved.example.com/other"

[[monitor]]
name = "same"
url = "https://same.example.com/"
schedule = "@every 30s"
`)
	got := Diff(old, new)
	want := Changes{
		Added:       []string{"new"},
		Removed:     []string{"gone"},
		Changed:     []string{"moved", "retimed"},
		NeedRestart: []string{"listen"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff = %+v, want %+v", got, want)
	}
	if s := got.String(); s != "added: new; removed: gone; changed: moved, retimed; needs restart: listen" {
		t.Errorf("String = %q", s)
	}
	if d := Diff(old, old); !d.Empty() || d.String() != "no monitor changes" {
		t.Errorf("Diff(old, old) = %+v", d)
	}

	// A change in [defaults] changes every monitor that inherits it.
	def := load(`
[defaults]
confirm = 3
[[monitor]]
name = "same"
url = "https://same.example.com/"
`)
	if d := Diff(load(`
[[monitor]]
name = "same"
url = "https://same.example.com/"
`), def); !reflect.DeepEqual(d.Changed, []string{"same"}) {
		t.Errorf("defaults change: %+v", d)
	}
}

func TestDiffVantages(t *testing.T) {
	hermeticEnv(t)
	t.Setenv("K1", "key-one")
	t.Setenv("K2", "key-two")
	mk := func(env string) *Config {
		cfg, err := Parse("mem.toml", []byte(`
[[vantage]]
name = "fra1"
url = "https://fra1.example.net:9208"
key_env = "`+env+`"

[[monitor]]
name = "m"
url = "https://m.example.com/"
`))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	// A new key for a vantage is a change, though it prints the same.
	if d := Diff(mk("K1"), mk("K2")); !reflect.DeepEqual(d.VantagesChanged, []string{"fra1"}) || len(d.Changed) != 0 {
		t.Errorf("key change: %+v", d)
	}
}

// TestDiffWebConfigFile: which web config file is served is fixed at
// start, so changing it says "needs restart"; hostnames apply on reload.
func TestDiffWebConfigFile(t *testing.T) {
	old := &Config{Web: Web{ConfigFile: "/etc/vantage/web.yml"}}
	if c := Diff(old, &Config{Web: Web{ConfigFile: "/etc/vantage/web.yml", Hostnames: []string{"a.example"}}}); len(c.NeedRestart) != 0 {
		t.Errorf("new hostnames: needs restart %v, want nothing", c.NeedRestart)
	}
	if c := Diff(old, &Config{}); !reflect.DeepEqual(c.NeedRestart, []string{"web.config_file"}) {
		t.Errorf("config_file removed: needs restart %v, want [web.config_file]", c.NeedRestart)
	}
}
