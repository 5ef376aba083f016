package render

import (
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/notify"
)

// shown is m as it may be shown to people: every URL in it, whatever the
// field (the monitor's URL, where a redirect ended, an error or a body
// excerpt that quotes one), follows the one URL rule of monitor/redact, so
// a user-info password reads "xxxxx" and a secret-looking query value "…".
// The receivers also hide every secret of the config (they render a copy
// redacted with the daemon's Redactor); this holds for every rendering,
// the demo's and notify-test's included. m itself is not changed.
func shown(m *notify.Message) *notify.Message { return redact.Copy(m, redact.URLs) }
