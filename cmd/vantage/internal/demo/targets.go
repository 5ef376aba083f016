package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// nginxVersion is the version the demo gateways claim, matching the real
// nginx pages recorded in monitor/gateway/testdata/real.
const nginxVersion = "nginx/1.22.1"

// nginxPage is nginx's built-in error page for code and reason, byte for
// byte (CRLF line ends included) as nginx 1.22.1 serves it.
func nginxPage(code int, reason string) string {
	return "<html>\r\n<head><title>" + fmt.Sprint(code) + " " + reason + "</title></head>\r\n<body>\r\n" +
		"<center><h1>" + fmt.Sprint(code) + " " + reason + "</h1></center>\r\n" +
		"<hr><center>" + nginxVersion + "</center>\r\n</body>\r\n</html>\r\n"
}

// nginxGateway is a reverse proxy to upstream that fails the way nginx
// does: 502 Bad Gateway when the upstream cannot be reached, 504 Gateway
// Time-out when it does not answer within timeout, each with nginx's
// Server header and page, so the probe's fingerprinting sees nginx.
func nginxGateway(upstream string, timeout time.Duration) http.Handler {
	u := &url.URL{Scheme: "http", Host: upstream}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		ResponseHeaderTimeout: timeout,
		DisableKeepAlives:     true,
	}
	rp.ErrorLog = nil
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		code, reason := http.StatusBadGateway, "Bad Gateway"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			code, reason = http.StatusGatewayTimeout, "Gateway Time-out"
		}
		page := nginxPage(code, reason)
		h := w.Header()
		h.Set("Server", nginxVersion)
		h.Set("Content-Type", "text/html")
		h.Set("Content-Length", fmt.Sprint(len(page)))
		w.WriteHeader(code)
		_, _ = w.Write([]byte(page))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", nginxVersion)
		rp.ServeHTTP(w, r)
	})
}

// slowUpstream answers after delay, or gives up when the caller does.
func slowUpstream(delay time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			_, _ = w.Write([]byte("too late\n"))
		case <-r.Context().Done():
		}
	})
}

// page serves body with status 200.
func page(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(body))
	})
}
