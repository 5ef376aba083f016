// Package web serves the daemon's read-only HTTP surface: /healthz for
// service managers and load balancers, /metrics for Prometheus, a JSON API
// under /api/v1/monitors for scripts, and a plain HTML status page at / for
// people. It reads everything through the Source interface, which the daemon
// implements, and changes nothing.
//
// # Endpoints
//
//   - GET /healthz: 200 "ok" while Source.Health is nil, else 503 with the
//     reason as plain text.
//   - GET /metrics: the Prometheus handler the daemon passes in (404 when
//     there is none).
//   - GET /api/v1/monitors: {"monitors": [MonitorView...], "generated_at": t}.
//     Optional filters: state=down (repeatable or comma-separated: up,
//     failing, down, recovering), tag=prod (repeatable; a monitor matches
//     when it has any of the tags) and prefix=shop- (of the name). Paged:
//     limit=N rows (default 500, at most 5000) of page=N (from 1); the body
//     also says "total" (monitors selected), "page", "limit", and "next",
//     the URL of the next page, absent on the last one.
//   - GET /api/v1/monitors/{name}: {"monitor": MonitorView, "generated_at": t},
//     or 404 {"error": "..."}. Names may hold any character; escape them in
//     the path (url.PathEscape).
//   - GET /api/v1/notifications: {"notifications": [NotificationView...],
//     "receivers": [ReceiverView...], "generated_at": t}: what is still in
//     the outbox, waiting, being sent, or failed for good with its last
//     error, and which receivers are degraded (asked to wait longer than
//     max_retry_after). Optional filter: state=failed (or pending, sending).
//   - GET /: the status page, worst monitors first. It takes the same
//     filters and paging as the API, with Previous and Next links. Each
//     row says for whom the monitor is down (its scope) and, when the
//     Source keeps history (HistorySource), has a 90-day bar and the
//     30-day uptime; a panel above the table says which vantages are
//     impaired or unreachable. A name links to its detail page.
//   - GET /monitors/{name}: the monitor's detail page: uptime over 24h, 7d,
//     30d and 90d, an SVG response-time chart per vantage, its incidents
//     and its latest result with the evidence and fixes (page.go,
//     detail.go). A 404 page for a name neither configured nor kept.
//
// The pages are plain HTML with an inline style sheet and no script. They
// work from 360 px wide (the tables become stacked cards) and follow
// prefers-color-scheme. The public listener (WithPublic) serves the same
// pages with only names, states, scope, uptime, response times and
// incidents: never a URL, an error text, evidence, fixes, a gateway or a
// vantage's error.
//
// AllowHosts, which the daemon puts in front, answers 421 to a request whose
// Host header names neither loopback, the listen address nor a configured
// [web] hostname (DNS rebinding).
//
// Every endpoint answers GET and HEAD only (405 otherwise). API errors are
// JSON objects {"error": "..."}. Every time is a result.Time: RFC 3339, or
// null for one that has not happened (an open incident's resolved_at, the
// last_check of a monitor not checked yet).
//
// # Hostile text
//
// Monitor names and URLs come from the config, and result text (errors,
// details, gateway names) comes from the monitored targets, which may be
// hostile. The page is rendered with html/template, so every value is escaped
// for its context, and it is served with a Content-Security-Policy that
// forbids scripts altogether as a second line of defence. Passwords in
// monitor URLs (https://user:pass@host/) are shown as "xxxxx" in both the
// page and the API.
//
// # Cost
//
// Each request calls Source.Monitors once (the page and API) or Source.Health
// once (/healthz) and renders into memory before writing, so a failure
// mid-render gives a clean 500 instead of half a page. The status page asks
// HistorySource.Overview for the rows it shows only (one page, at most
// MaxPageSize rows, however many monitors there are), and the detail page
// asks History once per window. Timeouts belong to the daemon's
// http.Server.
package web
