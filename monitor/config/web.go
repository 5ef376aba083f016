package config

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	toolkit "github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
)

// hostnameRE is a DNS name as a Host header carries it: letters, digits,
// hyphens and dots, no port.
var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

func (l *loader) checkWeb(w *Web) {
	l.checkHostnames(w.Hostnames, "web.hostnames", "web")
	if w.ConfigFile == "" {
		return
	}
	if !filepath.IsAbs(w.ConfigFile) {
		w.ConfigFile = filepath.Join(l.dir, w.ConfigFile)
	}
	// The exporter-toolkit's own check: the YAML, the bcrypt hashes, the
	// certificate and key files and the TLS settings.
	if err := toolkit.Validate(w.ConfigFile); err != nil {
		l.add("web.config_file", "web", "config_file", "%s: %s", w.ConfigFile, err)
		return
	}
	auth, err := webAuth(w.ConfigFile)
	if err != nil {
		l.add("web.config_file", "web", "config_file", "%s: %s", w.ConfigFile, err)
		return
	}
	w.Auth = auth
}

// checkHostnames checks and normalises, in place, the hostnames key of
// [web] or [status_page] (at path, in section sec): lower case, no trailing
// dot, IP addresses in their canonical form, so the Host check compares
// like with like.
func (l *loader) checkHostnames(hosts []string, path, sec string) {
	for i, h := range hosts {
		n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")); ip != nil {
			n = ip.String()
		} else if !hostnameRE.MatchString(n) {
			l.add(indexPath(path, i), sec, "hostnames", "%q is not a host name or IP address (leave the port out)", h)
			continue
		}
		hosts[i] = n
	}
}

// webAuth reports whether a web configuration file (already validated)
// makes clients authenticate: by basic auth, or by a client certificate
// verified against a CA. The toolkit keeps its parsed form to itself; these
// are the two keys of its format that say so.
func webAuth(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var c struct {
		Users map[string]string `yaml:"basic_auth_users"`
		TLS   struct {
			ClientAuth string `yaml:"client_auth_type"`
		} `yaml:"tls_server_config"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return false, err
	}
	return len(c.Users) > 0 || c.TLS.ClientAuth == "RequireAndVerifyClientCert", nil
}
