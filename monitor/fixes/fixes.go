// Package fixes is the project's knowledge base of next steps for an
// operator, keyed by class, gateway and evidence.
package fixes

import "github.com/vantage-monitor/vantage/monitor/result"

// Suggest returns ordered next steps for r, most specific first.
// PLACEHOLDER: replaced by the knowledge base.
func Suggest(r *result.Result) []string {
	return nil
}
