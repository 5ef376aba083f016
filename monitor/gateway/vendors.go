package gateway

import "strings"

// Each vendor's file (cloudflare.go, nginx.go, envoy.go, ...) holds its
// name, its header and page fingerprints, its detail tokens and their words.
// What no vendor's file can say is where the vendor stands among the others:
// that is what this file says. Adding a vendor is its file, its place in the
// lists below, and its fixes in monitor/fixes. The facts behind the
// fingerprints, with the vendors' documentation, are in docs/gateways.md.
//
// Detail tokens are short stable strings; the fixes knowledge base and
// users' scripts match on them, so they never change once released.

// headerFacts are the header values most vendors' checks read, looked up
// once per response.
type headerFacts struct {
	server, lserver string // Server, and lower-cased
	via, lvia       string // every Via value, joined, and lower-cased
	isError         bool   // the status is 400 or more
}

// readHeaders finds the hops the headers name, outermost first. The order of
// the checks is the order of the layers in real deployments: edge CDNs, then
// platform load balancers, then proxies, then web servers named only by
// Server.
func (s *scan) readHeaders() {
	if s.h == nil {
		return
	}
	server := s.get("Server")
	via := strings.Join(s.h.Values("Via"), ", ")
	f := &headerFacts{server: server, lserver: lowerASCII(server), via: via, lvia: lowerASCII(via), isError: s.status >= 400}

	s.cloudflareHeaders(f)
	s.akamaiHeaders(f)
	s.fastlyHeaders(f)
	s.cloudfrontHeaders(f)
	s.azureFrontDoorHeaders(f)
	s.vercelHeaders(f)
	s.flyHeaders(f)
	s.gcpHeaders(f)
	s.albHeaders(f)
	s.azureAppGWHeaders(f)
	s.herokuHeaders(f)
	s.varnishHeaders(f) // after Fastly, which is built on Varnish
	s.envoyHeaders(f)
	// Web servers named only by Server: they may be the origin itself.
	s.caddyHeaders(f)
	s.nginxHeaders(f)
	s.apacheHeaders(f)
}

// readBody matches the error pages gateways generate. Pages that print a
// status must print the response's status, so an nginx page served with 200
// (a blog post quoting one, a custom page) is not taken for an nginx error.
// The checks run from the most specific page to the least.
func (s *scan) readBody() verdict {
	if s.status < 400 || len(s.body) == 0 {
		return verdict{}
	}
	for _, f := range []func() (verdict, bool){
		s.cloudflarePage,
		s.nginxStylePage, // nginx, and the AWS ALB's, Azure's and Cloudflare's copies
		s.haproxyPage,
		s.varnishPage, // Varnish, and Fastly's copy
		s.envoyText,
		s.apachePage,
		s.cloudfrontPage,
		s.gcpPage,
		s.azureFrontDoorPage,
		s.herokuPage,
		s.vercelPage,
		s.akamaiPage,
		s.traefikText,
		s.caddyText,
	} {
		if v, ok := f(); ok {
			return v
		}
	}
	return verdict{}
}

// Words says in a few plain words what a detail token of this package means
// ("origin refused the connection" for DetailCloudflare521), or "" for a
// token it does not set. The renderers use it, so the words of a vendor's
// tokens live in the vendor's file.
func Words(detail string) string {
	for _, words := range []func(string) string{
		cloudflareWords,
		envoyWords,
		haproxyWords,
		varnishWords,
		fastlyWords,
		traefikWords,
		caddyWords,
		vercelWords,
	} {
		if w := words(detail); w != "" {
			return w
		}
	}
	return ""
}
