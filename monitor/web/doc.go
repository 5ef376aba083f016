// Package web serves the daemon's read-only HTTP surface: /healthz for
// service managers and load balancers, /metrics for Prometheus, a JSON API
// under /api/v1 for scripts, plain HTML pages at / and /monitors/{name} for
// people, and badges for READMEs; and, for the optional [status_page]
// listener, the public subset of it. It reads everything through the Source
// interface (and HistorySource, when the daemon keeps history), which the
// daemon implements, and changes nothing.
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
//   - GET /api/v1/monitors/{name}/history?window=24h: the monitor's
//     history.Report over the window (24h, the default, 7d, 30d, 90d or
//     365d): uptime seconds and ratio, incidents and latency points; 400
//     for another window, 404 for a monitor neither configured nor kept
//     after its removal, and 404 when the daemon keeps no history. A path
//     ending in a segment "history" asks for the history of what precedes
//     it, a name escaped with url.PathEscape being one segment however
//     many slashes it holds. Written unescaped, "/api/v1/monitors/x/history"
//     is x's history unless no monitor "x" is configured and one named
//     "x/history" is; then it is that monitor's document.
//   - GET /api/v1/incidents: {"incidents": [history.IncidentEntry...],
//     "generated_at", "limit", "next"}, across monitors, newest first
//     (opened_at, then id). Filters: state=open or resolved; monitor=NAME;
//     since=, an RFC 3339 time or an age before now (90m, 24h, 7d), which
//     keeps the incidents still open then or resolved after it. limit=N
//     (default 100, at most 1000). "next", absent on the last page, is the
//     URL of the next one: the same filters (an age pinned to the time it
//     meant) and before=, an opaque cursor to pass on as it is. A bad
//     state, since, limit or before is a 400 naming the parameter.
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
//     impaired or unreachable. A name links to its detail page. A monitor
//     that is up with an open certificate or performance incident (its
//     Warnings) stays UP, with an amber label beside the state
//     ("certificate expires in 4 days", "slow: TTFB"; a solid, stronger
//     amber when critical), and sorts before the other up monitors.
//   - GET /monitors/{name}: the monitor's detail page: uptime over 24h, 7d,
//     30d and 90d, an SVG response-time chart per vantage, its incidents
//     and its latest result with the evidence and fixes (page.go,
//     detail.go), the leaf's serial and the certificate of the served
//     chain that expires first. A monitor with warnings has a Warnings
//     section: the summary, the certificate's subject, issuer, serial,
//     SANs and not_after or the slow phase, what each vantage saw, and
//     the fixes (warnings.go). A 404 page for a name neither configured
//     nor kept.
//   - GET /badge/{name}/status.svg, /badge/{name}/uptime/{window}.svg and
//     /badge/{name}/response/{window}.svg: shields.io-style SVG badges,
//     cached for 60 seconds (monitor/web/badge.go). The status badge is
//     labelled with the name and says up (green), failing, recovering or
//     degraded (an incident seen from some regions only; orange), degraded
//     in yellow (up, with an open performance incident), down (red) or
//     unknown (grey); an expiring certificate leaves it up. The uptime badge ("uptime 30d | 99.95%")
//     cuts the percentage to two decimals, never rounding up to 100%, and
//     is bright green from 99.9%, green from 99%, yellow-green from 98%,
//     yellow from 95%, orange from 90%, red below, and grey "no data" when
//     nothing was measured. The response badge ("response 24h | 182 ms",
//     blue) is the mean of the window's latency points' p50 of total, each
//     weighted by its checks: percentiles of steps and vantages do not merge
//     into one, so it is a typical response time, not a true median. A
//     monitor not configured is a 404, not a badge.
//
// The pages are plain HTML with an inline style sheet and no script. They
// work from 360 px wide (the tables become stacked cards) and follow
// prefers-color-scheme. The public listener (WithPublic) serves the same
// pages with only names, states, scope, uptime, response times and
// incidents: never a URL, an error text, evidence, fixes, a gateway or a
// vantage's error. Of the warnings it says only "degraded performance" of
// a slow monitor, and nothing of certificates (publicWarnings says why).
//
// # The public listener
//
// With WithPublic, Handler serves only /, /monitors/{name} and the badges,
// for the monitors the [status_page] selects; any other path, /metrics,
// /healthz and the whole API among them, is a plain 404, as is a monitor
// it does not select, which is neither shown nor counted. It reads the
// daemon through a filter (monitor/web/public.go) that copies only names,
// states, times, classes, scopes, regions and timings, so no URL, error
// text, header, body excerpt, evidence, fix, tag or vantage address
// reaches a public page, and the daemon's errors are logged, not shown.
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
// Each request calls Source.Monitors once (the page and API; the history
// API and the badges then read HistorySource once too) or Source.Health
// once (/healthz) and renders into memory before writing, so a failure
// mid-render gives a clean 500 instead of half a page. The status page asks
// HistorySource.Overview for the rows it shows only (one page, at most
// MaxPageSize rows, however many monitors there are), and the detail page
// asks History once per window. Timeouts belong to the daemon's
// http.Server.
package web
