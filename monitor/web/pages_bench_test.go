package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// BenchmarkStatusPage10k renders / for 10,000 monitors: every one counted
// and sorted, a page of 500 rows, each with its 90-day bar (the issue's
// goal: under 300 ms).
func BenchmarkStatusPage10k(b *testing.B) {
	const n = 10000
	src := &histSource{
		fakeSource: fakeSource{mons: manyMonitors(n)},
		days:       make(map[string][]history.DayCell, n),
		up30:       make(map[string]history.Uptime, n),
		vantages:   true,
		snap: vantage.Snapshot{Vantages: []vantage.Health{
			{Name: result.LocalVantage, State: vantage.Healthy},
			{Name: "eu-west", State: vantage.Unreachable, Since: testNow.Add(-time.Hour), Error: "connection refused"},
		}},
	}
	for i, m := range src.mons {
		src.days[m.Name] = ninetyDays(i)
		src.up30[m.Name] = history.Uptime{Up: 30*24*time.Hour - time.Hour, Down: time.Hour}
	}
	h := pagesHandler(src)
	rec := serve(h, http.MethodGet, "/")
	if rec.Code != 200 || len(cellRE.FindAllString(rec.Body.String(), -1)) != DefaultPageSize*90 {
		b.Fatalf("status %d, %d cells", rec.Code, len(cellRE.FindAllString(rec.Body.String(), -1)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		b.SetBytes(int64(rec.Body.Len()))
	}
}

// BenchmarkDetailPage90d renders /monitors/{name} with 90 days of history:
// four windows, two vantages' charts of 288 points and 90 incidents (the
// issue's goal: under 50 ms).
func BenchmarkDetailPage90d(b *testing.B) {
	src := sampleHistory()
	rep := sampleReport("shop")
	for i := range 90 {
		at := testNow.Add(-time.Duration(i+3) * 24 * time.Hour)
		rep.Incidents = append(rep.Incidents, history.IncidentEntry{
			ID: int64(100 + i), Monitor: "shop", Kind: incident.KindTarget,
			FirstFailureAt: result.TimeOf(at), OpenedAt: result.TimeOf(at.Add(time.Minute)),
			RecoveredAt: result.TimeOf(at.Add(9 * time.Minute)), ResolvedAt: result.TimeOf(at.Add(10 * time.Minute)),
			DurationSeconds: 540, Class: result.ClassServerError, Gateway: fmt.Sprintf("gw%d", i), Scope: result.ScopePartial,
			Regions: []string{"eu-west"}, Severity: incident.SeverityWarning, Resolution: "recovered",
		})
	}
	src.reports["shop"] = rep
	h := pagesHandler(src)
	if rec := serve(h, http.MethodGet, "/monitors/shop"); rec.Code != 200 {
		b.Fatalf("status %d", rec.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/monitors/shop", nil))
		b.SetBytes(int64(rec.Body.Len()))
	}
}
