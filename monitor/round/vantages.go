package round

import (
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// RemoteProber is the prober of a configured remote vantage: an agent.Client
// signing with the first key of the vantage's key file.
func RemoteProber(v *config.Vantage) (vantage.Prober, error) {
	if v.Key.IsZero() {
		return nil, fmt.Errorf("vantage %s: no key configured", v.Name)
	}
	keys, err := agent.ParseKeys(v.Key.Reveal())
	if err != nil {
		return nil, fmt.Errorf("vantage %s: reading its key: %w", v.Name, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("vantage %s: its key file holds no key", v.Name)
	}
	c := &agent.Client{URL: v.URL, Key: keys[0], Timeout: v.Timeout, CA: v.CAPool}
	if v.Insecure {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator asked for it (insecure = true)
		c.HTTPClient = &http.Client{Transport: tr}
	}
	return c, nil
}

// UsesVantages reports whether cfg asks for rounds through vantage points:
// any [[vantage]] or a [canary]. Without either a round is the local probe
// alone.
func UsesVantages(cfg *config.Config) bool {
	return len(cfg.Vantages) > 0 || len(cfg.Canary.URLs) > 0
}

// NewRunner builds the vantage runner of cfg: local probes through local,
// every [[vantage]] through remote (RemoteProber when nil).
func NewRunner(cfg *config.Config, local vantage.Prober, remote func(*config.Vantage) (vantage.Prober, error), opts vantage.Options) (*vantage.Runner, error) {
	if remote == nil {
		remote = RemoteProber
	}
	remotes := make(map[string]vantage.Prober, len(cfg.Vantages))
	for i := range cfg.Vantages {
		v := &cfg.Vantages[i]
		p, err := remote(v)
		if err != nil {
			return nil, err
		}
		remotes[v.Name] = p
	}
	opts.Canary = cfg.Canary
	return vantage.New(local, remotes, opts)
}
