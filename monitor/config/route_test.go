package config

import (
	"reflect"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func TestRouting(t *testing.T) {
	cfg := &Config{Routes: []Route{
		{MatchTags: []string{"prod"}, MinSeverity: incident.SeverityWarning,
			Classes: []string{"bad_gateway", "gateway_timeout"}, Receivers: []string{"slack", "mail"}, Continue: true},
		{MatchMonitors: []string{"shop"}, MinSeverity: incident.SeverityCritical, Receivers: []string{"pager", "slack"}},
		{MinSeverity: incident.SeverityInfo, Receivers: []string{"log"}},
	}}
	shop := &Monitor{Name: "shop", Tags: []string{"prod", "eu"}}
	blog := &Monitor{Name: "blog", Tags: []string{"prod"}}
	dev := &Monitor{Name: "dev"}
	tests := []struct {
		name  string
		m     *Monitor
		sev   incident.Severity
		class result.Class
		want  []string
	}{
		{"gateway on prod continues to shop route", shop, incident.SeverityCritical, result.ClassBadGateway, []string{"slack", "mail", "pager"}},
		{"gateway on prod, warning: shop route needs critical", shop, incident.SeverityWarning, result.ClassBadGateway, []string{"slack", "mail", "log"}},
		{"other class skips first route", shop, incident.SeverityCritical, result.ClassDNSError, []string{"pager", "slack"}},
		{"info is below warning", blog, incident.SeverityInfo, result.ClassBadGateway, []string{"log"}},
		{"untagged monitor falls through", dev, incident.SeverityCritical, result.ClassTimeout, []string{"log"}},
	}
	for _, tt := range tests {
		if got := cfg.ReceiversFor(tt.m, tt.sev, tt.class); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := (&Config{}).ReceiversFor(shop, incident.SeverityCritical, result.ClassTimeout); got != nil {
		t.Errorf("no routes: %v", got)
	}
}
