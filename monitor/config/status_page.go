package config

import (
	"net"
	"strings"
)

// DefaultStatusPageTitle heads the public page when [status_page] does not
// give a title.
const DefaultStatusPageTitle = "Status"

// StatusPage is the [status_page] table: an optional second listener that
// serves a page for the public (names, states, uptime, incidents), apart
// from the operator's listen, which also serves the API and /metrics.
type StatusPage struct {
	// Listen is where the public page is served; "" serves none.
	Listen string `toml:"listen" json:"listen,omitempty"`
	Title  string `toml:"title" json:"title"`
	// Monitors and Tags choose what the page shows; see Shows.
	Monitors []string `toml:"monitors" json:"monitors,omitempty"`
	Tags     []string `toml:"tags" json:"tags,omitempty"`
	// Hostnames are what the public listener accepts in the Host header
	// besides loopback and its own listen address, as [web] hostnames are
	// for listen. Lower-cased at load.
	Hostnames []string `toml:"hostnames" json:"hostnames,omitempty"`
}

// Enabled reports whether a public page is served at all.
func (p *StatusPage) Enabled() bool { return p.Listen != "" }

// Shows reports whether the public page shows m: a monitor listed in
// Monitors or carrying any of Tags, or every monitor when neither is set.
// It is the one rule for it, so the page, its monitor pages and its badges
// cannot disagree about what the public may see.
func (p *StatusPage) Shows(m *Monitor) bool {
	if m == nil {
		return false
	}
	if len(p.Monitors) == 0 && len(p.Tags) == 0 {
		return true
	}
	if contains(p.Monitors, m.Name) {
		return true
	}
	for _, t := range p.Tags {
		if m.HasTag(t) {
			return true
		}
	}
	return false
}

// checkStatusPage runs after the monitors are loaded: monitors names them.
func (l *loader) checkStatusPage(cfg *Config, p *StatusPage, t map[string]any) {
	const sec = "status_page"
	add := func(key, format string, args ...any) { l.add(joinPath(sec, key), sec, key, format, args...) }
	if p.Listen != "" {
		if _, _, err := parseListen(p.Listen); err != nil {
			add("listen", "%s", err)
		} else if listenOverlap(cfg.Listen, p.Listen) {
			add("listen", "%q overlaps listen = %q (the same port on a shared address); give the public page a port of its own", p.Listen, cfg.Listen)
		}
	}
	switch {
	case !written(t, "title"):
	case strings.TrimSpace(p.Title) == "":
		add("title", "is empty; leave it out for the default %q", DefaultStatusPageTitle)
	case strings.ContainsFunc(p.Title, func(r rune) bool { return r < ' ' || r == 0x7f }):
		add("title", "%q contains control characters", p.Title)
	case strings.ContainsFunc(p.Title, isBidiControl):
		add("title", "%s", bidiMsg(p.Title))
	}
	// An empty list would read as "show nothing" but, as an unset key,
	// mean "show everything": refuse the ambiguity.
	if written(t, "monitors") && len(p.Monitors) == 0 {
		add("monitors", "empty list: name at least one monitor, or leave the key out (with neither monitors nor tags, every monitor is shown)")
	}
	l.checkMonitorRefs(cfg, p.Monitors, sec, sec, "monitors")
	if written(t, "tags") && len(p.Tags) == 0 {
		add("tags", "empty list: name at least one tag, or leave the key out (with neither monitors nor tags, every monitor is shown)")
	}
	for i, tag := range p.Tags {
		if strings.TrimSpace(tag) == "" {
			l.add(indexPath(joinPath(sec, "tags"), i), sec, "tags", "element %d is empty", i+1)
		}
	}
	l.checkHostnames(p.Hostnames, joinPath(sec, "hostnames"), sec)
}

// listenOverlap reports whether two valid listen addresses claim the same
// port on an address they share: the second bind would fail, or one
// listener would answer for the other. Port 0 (any free port) never does.
func listenOverlap(a, b string) bool {
	ha, pa, errA := parseListen(a)
	hb, pb, errB := parseListen(b)
	if errA != nil || errB != nil || pa != pb || pa == 0 {
		return false
	}
	ipsA, ipsB := listenIPs(ha), listenIPs(hb)
	if ipsA == nil || ipsB == nil { // every address
		return true
	}
	for _, x := range ipsA {
		for _, y := range ipsB {
			if x.Equal(y) {
				return true
			}
		}
	}
	return false
}

// listenIPs is what a listen host binds: nil for every address.
func listenIPs(host string) []net.IP {
	if host == "localhost" {
		return []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return []net.IP{ip}
}
