package config

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/redact"
)

// BasicAuth is a monitor's basic_auth = { username, password_file }: HTTP
// Basic credentials with the password read from a file at load, as
// Prometheus's basic_auth reads its password_file.
type BasicAuth struct {
	Username     string `toml:"username" json:"username"`
	PasswordFile string `toml:"password_file" json:"password_file"`
	// Password is the content of PasswordFile.
	Password Secret `toml:"-" json:"password"`
}

// IsZero reports whether no basic_auth is set.
func (b BasicAuth) IsZero() bool { return b.Username == "" && b.PasswordFile == "" }

var basicAuthKeys = []string{"username", "password_file"}

// decodeTOML reads the inline table, reporting every problem in it.
func (b *BasicAuth) decodeTOML(v any) error {
	t, ok := asTable(v)
	if !ok {
		return typeError(`a table such as { username = "probe", password_file = "shop-password" }`, v)
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var problems []string
	for _, k := range keys {
		s, isString := t[k].(string)
		switch {
		case !contains(basicAuthKeys, k):
			problems = append(problems, fmt.Sprintf("unknown key %q%s", k, suggest(k, basicAuthKeys)))
		case !isString:
			problems = append(problems, fmt.Sprintf("%s: %s", k, typeError("a string", t[k])))
		case k == "username":
			b.Username = s
		default:
			b.PasswordFile = s
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// headerNameRE is RFC 9110's token, what a header name may hold.
var headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// checkCredentials reads a monitor's basic_auth password and header_files
// (in $CREDENTIALS_DIRECTORY when systemd sets it, like every secret file)
// and checks that no header is set twice.
func (l *loader) checkCredentials(m *Monitor, t map[string]any, path, sec string) {
	add := func(key, format string, args ...any) { l.add(joinPath(path, key), sec, key, format, args...) }
	set := map[string]string{} // canonical header name → the key that sets it
	for name := range m.Headers {
		set[http.CanonicalHeaderKey(name)] = "headers." + name
	}
	if written(t, "basic_auth") && !l.bad[joinPath(path, "basic_auth")] {
		b := &m.BasicAuth
		if b.Username == "" {
			add("basic_auth.username", "missing")
		} else if strings.Contains(b.Username, ":") {
			add("basic_auth.username", "%q holds a colon, which HTTP Basic cannot carry in a user name", b.Username)
		}
		if b.PasswordFile == "" {
			add("basic_auth.password_file", "missing: the file holding the password")
		} else {
			b.Password = l.credentialFile(path, sec, "basic_auth.password_file", b.PasswordFile)
		}
		if other, ok := set["Authorization"]; ok {
			add("basic_auth", "sets the Authorization header, which %s sets too; use one", other)
		}
		set["Authorization"] = "basic_auth"
	}
	if !written(t, "header_files") || l.bad[joinPath(path, "header_files")] {
		return
	}
	names := make([]string, 0, len(m.HeaderFiles))
	for name := range m.HeaderFiles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		key, file := "header_files."+name, m.HeaderFiles[name]
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !headerNameRE.MatchString(name):
			add(key, "%q is not a valid header name", name)
			continue
		case file == "":
			add(key, "empty: name the file holding the header's value")
			continue
		}
		if other, ok := set[canon]; ok {
			add(key, "sets the %s header, which %s sets too; use one", canon, other)
			continue
		}
		set[canon] = key
		if s := l.credentialFile(path, sec, key, file); !s.IsZero() {
			if m.HeaderSecrets == nil {
				m.HeaderSecrets = map[string]Secret{}
			}
			m.HeaderSecrets[canon] = s
		}
	}
}

// credentialFile reads a secret file that becomes part of a request: one
// line, since a header value cannot hold a line break.
func (l *loader) credentialFile(path, sec, key, file string) Secret {
	s := l.secret(path, sec, key, file, "", "", true)
	if strings.ContainsAny(s.Reveal(), "\r\n") {
		l.add(joinPath(path, key), sec, key, "%s holds more than one line; a header value is one line", l.secretPath(file))
		return Secret{}
	}
	return s
}

// addCredentials puts the monitor's file credentials into the request
// headers of s.
func (m *Monitor) addCredentials(s *probe.Spec) {
	if m.BasicAuth.IsZero() && len(m.HeaderSecrets) == 0 {
		return
	}
	if s.Headers == nil {
		s.Headers = make(map[string]string, 1+len(m.HeaderSecrets))
	}
	if !m.BasicAuth.IsZero() {
		cred := m.BasicAuth.Username + ":" + m.BasicAuth.Password.Reveal()
		s.Headers["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
	}
	for name, v := range m.HeaderSecrets {
		s.Headers[name] = v.Reveal()
	}
}

// Secrets lists every secret the config holds, for the Redactor that keeps
// them out of logs, the API, notifications and stored errors: receiver
// tokens, webhook URLs and SMTP passwords, agent keys, monitor basic_auth
// passwords and credential headers (inline or from header_files), and the
// passwords and secret-looking query values of every configured URL.
func (c *Config) Secrets() []redact.Secret {
	var out []redact.Secret
	addURL := func(u string) { out = append(out, redact.URLSecrets(u)...) }
	monitor := func(m *Monitor) {
		addURL(m.URL)
		addURL(m.Origin)
		for name, v := range m.Headers {
			if redact.SecretHeader(name) {
				out = append(out, redact.HeaderSecrets(v)...)
			}
		}
		if !m.BasicAuth.IsZero() {
			out = append(out, redact.Secret{Value: m.BasicAuth.Password.Reveal(), User: m.BasicAuth.Username})
		}
		for _, v := range m.HeaderSecrets {
			out = append(out, redact.HeaderSecrets(v.Reveal())...)
		}
	}
	monitor(&c.Defaults)
	for i := range c.Monitors {
		monitor(&c.Monitors[i])
	}
	for _, u := range c.Canary.URLs {
		addURL(u)
	}
	for i := range c.Vantages {
		v := &c.Vantages[i]
		out = append(out, redact.Secret{Value: v.Key.Reveal()})
		addURL(v.URL)
	}
	for i := range c.Receivers {
		r := &c.Receivers[i]
		out = append(out, redact.Secret{Value: r.Token.Reveal()}, redact.Secret{Value: r.AppToken.Reveal()}, redact.Secret{Value: r.Password.Reveal(), User: r.Username})
		if hook := r.WebhookURL.Reveal(); hook != "" {
			out = append(out, redact.Secret{Value: hook})
			// The path is the credential: errors tend to quote the URL
			// without its scheme and host, or only its last part.
			if u, err := url.Parse(hook); err == nil && u.Path != "" && u.Path != "/" {
				out = append(out, redact.Secret{Value: u.Path})
				if i := strings.LastIndexByte(u.Path, '/'); i >= 0 && len(u.Path)-i > 8 {
					out = append(out, redact.Secret{Value: u.Path[i+1:]})
				}
			}
			addURL(hook)
		}
		addURL(r.APIURL)
	}
	out = append(out, redact.Secret{Value: c.API.Token.Reveal()})
	return slices.DeleteFunc(out, func(s redact.Secret) bool { return s.Value == "" })
}
