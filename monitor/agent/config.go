package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/vantage-monitor/vantage/monitor/config/tomlguard"
)

// Config is what `vantage agent` reads from its TOML file; the flags of the
// same names override it.
//
//	listen = "0.0.0.0:9208"
//	key_file = "/etc/vantage/agent.key"
//	tls_cert = "/etc/vantage/agent.crt"
//	tls_key = "/etc/vantage/agent.pem"
//	refuse_private = true
//	max_concurrency = 16
//	rate = 10.0
//	burst = 20
type Config struct {
	Listen         string  `toml:"listen"`
	KeyFile        string  `toml:"key_file"`
	TLSCert        string  `toml:"tls_cert"`
	TLSKey         string  `toml:"tls_key"`
	RefusePrivate  bool    `toml:"refuse_private"`
	MaxConcurrency int     `toml:"max_concurrency"`
	Rate           float64 `toml:"rate"`
	Burst          int     `toml:"burst"`
}

// LoadConfig reads an agent config file. Unknown keys are errors naming
// the key and its line. A relative file path is looked up in
// $CREDENTIALS_DIRECTORY when systemd sets it (LoadCredential=), as the
// daemon's config does, and next to the config file otherwise.
func LoadConfig(path string) (Config, error) {
	return loadConfig(path, os.Getenv("CREDENTIALS_DIRECTORY"))
}

func loadConfig(path, credentials string) (Config, error) {
	b, err := tomlguard.ReadFile(path)
	if tomlguard.IsLimit(err) {
		return Config{}, fmt.Errorf("agent config %s: %w", path, err)
	}
	if err != nil {
		return Config{}, fmt.Errorf("reading agent config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("agent config %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if credentials != "" {
		dir = credentials
	}
	for _, p := range []*string{&c.KeyFile, &c.TLSCert, &c.TLSKey} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return c, nil
}

// ParseConfig decodes the TOML of an agent config.
func ParseConfig(data []byte) (Config, error) {
	// BurntSushi/toml's memory grows with the square of the nesting depth.
	if err := tomlguard.Check(data); err != nil {
		return Config{}, err
	}
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Config{}, fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
		}
		return Config{}, err
	}
	var errs []error
	for _, k := range md.Undecoded() {
		name := k.String()
		if line := keyLine(data, k); line > 0 {
			errs = append(errs, fmt.Errorf("line %d: unknown key %q", line, name))
		} else {
			errs = append(errs, fmt.Errorf("unknown key %q", name))
		}
	}
	if c.MaxConcurrency < 0 {
		errs = append(errs, fmt.Errorf("max_concurrency: %d is negative", c.MaxConcurrency))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate: %g is negative", c.Rate))
	}
	if c.Burst < 0 {
		errs = append(errs, fmt.Errorf("burst: %d is negative", c.Burst))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls_cert and tls_key go together"))
	}
	return c, errors.Join(errs...)
}

// keyLine finds the line that defines the top-level or table key k, for
// error messages; 0 when it cannot tell. The agent config is flat, so a
// line-by-line search is enough.
func keyLine(data []byte, k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	last := k[len(k)-1]
	table := strings.Join(k[:len(k)-1], ".")
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			cur = strings.Trim(line, "[] ")
			if len(k) == 1 && cur == last {
				return n
			}
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		if ok && cur == table && strings.Trim(strings.TrimSpace(name), `"'`) == last {
			return n
		}
	}
	return 0
}
