package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// manyMonitors is n monitors in name order, every third down and every
// fifth tagged "eu", each with a result that makes its row realistic.
func manyMonitors(n int) []MonitorView {
	ms := make([]MonitorView, n)
	for i := range ms {
		m := MonitorView{
			Name: fmt.Sprintf("m%06d", i), URL: fmt.Sprintf("https://m%06d.example.test/healthz", i),
			Schedule: "@every 30s", State: incident.StateUp, LastCheck: result.TimeOf(testNow),
			LastResult: &result.Outcome{Result: result.Result{Class: result.ClassOK, Status: 200, OK: true, Phases: result.Phases{TotalMs: 12}}},
		}
		if i%3 == 0 {
			m.State = incident.StateDown
			m.LastResult = &result.Outcome{Result: result.Result{Class: result.ClassBadGateway, Status: 502, Gateway: "nginx", Error: strings.Repeat("upstream failed ", 10)}}
		}
		if i%5 == 0 {
			m.Tags = []string{"eu"}
		}
		ms[i] = m
	}
	return ms
}

type listPage struct {
	Monitors []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"monitors"`
	Total int    `json:"total"`
	Page  int    `json:"page"`
	Limit int    `json:"limit"`
	Next  string `json:"next"`
}

// TestAPIPages: following "next" from the first page visits every selected
// monitor exactly once, in order, no page over the limit.
func TestAPIPages(t *testing.T) {
	const n = 1234
	h := newTestHandler(&fakeSource{mons: manyMonitors(n)}, nil, nil)
	for _, tc := range []struct {
		first string
		limit int
		want  func(i int) bool
	}{
		{"/api/v1/monitors", DefaultPageSize, func(int) bool { return true }},
		{"/api/v1/monitors?limit=100&state=down", 100, func(i int) bool { return i%3 == 0 }},
		{"/api/v1/monitors?limit=7&tag=eu&prefix=m0001", 7, func(i int) bool { return i%5 == 0 && i >= 100 && i < 200 }},
	} {
		t.Run(tc.first, func(t *testing.T) {
			var want []string
			for i := range n {
				if tc.want(i) {
					want = append(want, fmt.Sprintf("m%06d", i))
				}
			}
			var got []string
			next, pages := tc.first, 0
			for next != "" {
				rec := serve(h, http.MethodGet, next)
				if rec.Code != 200 {
					t.Fatalf("%s: %d %s", next, rec.Code, rec.Body)
				}
				var p listPage
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
					t.Fatal(err)
				}
				pages++
				if len(p.Monitors) > tc.limit || p.Limit != tc.limit || p.Page != pages || p.Total != len(want) {
					t.Fatalf("%s: %d monitors, limit %d, page %d, total %d", next, len(p.Monitors), p.Limit, p.Page, p.Total)
				}
				for _, m := range p.Monitors {
					got = append(got, m.Name)
				}
				if p.Next != "" && !strings.HasPrefix(p.Next, "/api/v1/monitors?") {
					t.Fatalf("next = %q", p.Next)
				}
				next = p.Next
				if pages > n {
					t.Fatal("next never ends")
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("pages hold %d monitors, want each of %d once", len(got), len(want))
			}
			if wantPages := max(1, (len(want)+tc.limit-1)/tc.limit); pages != wantPages {
				t.Errorf("%d pages, want %d", pages, wantPages)
			}
		})
	}
}

// TestStatusPagePages: the page shows at most one page of rows, worst
// first, and its Next links cover every monitor once.
func TestStatusPagePages(t *testing.T) {
	const n = 1100
	h := newTestHandler(&fakeSource{mons: manyMonitors(n)}, nil, nil)
	seen := map[string]int{}
	next, pages := "/", 0
	for next != "" {
		rec := serve(h, http.MethodGet, next)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", next, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		pages++
		rows := strings.Count(body, "<tr class=")
		if rows > DefaultPageSize {
			t.Fatalf("page %d has %d rows", pages, rows)
		}
		for _, name := range rowNameRE.FindAllStringSubmatch(body, -1) {
			seen[name[1]]++
		}
		if pages == 1 && !strings.Contains(pageText(body), "Page 1 of 3, rows 1–500.") {
			t.Errorf("first page does not say where it is: %s", pageText(body)[:300])
		}
		next = ""
		if m := nextRE.FindStringSubmatch(body); m != nil {
			next = "/" + strings.ReplaceAll(m[1], "&amp;", "&")
		}
		if pages > 10 {
			t.Fatal("Next never ends")
		}
	}
	if pages != 3 || len(seen) != n {
		t.Fatalf("%d pages showed %d monitors, want 3 pages and %d", pages, len(seen), n)
	}
	for name, c := range seen {
		if c != 1 {
			t.Fatalf("%s shown %d times", name, c)
		}
	}
	// Worst first across pages: the first page is all down.
	rec := serve(h, http.MethodGet, "/?limit=5")
	if got := strings.Count(rec.Body.String(), `<tr class="down">`); got != 5 {
		t.Errorf("first page of 5 has %d down rows, want 5", got)
	}
	rec = serve(h, http.MethodGet, "/?page=9")
	if text := pageText(rec.Body.String()); rec.Code != 200 || !strings.Contains(text, "Page 9 is past the last page. Last page") {
		t.Errorf("past the end: %d %s", rec.Code, text)
	}
}

var (
	rowNameRE = regexp.MustCompile(`<td class="name wrap"><a href="monitors/([^"]+)">`)
	nextRE    = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
)

func TestPagingErrors(t *testing.T) {
	h := newTestHandler(&fakeSource{mons: manyMonitors(3)}, nil, nil)
	for _, q := range []string{"limit=0", "limit=5001", "limit=x", "page=0", "page=-1", "page=x"} {
		for _, path := range []string{"/api/v1/monitors?", "/?"} {
			if rec := serve(h, http.MethodGet, path+q); rec.Code != 400 {
				t.Errorf("%s%s: %d, want 400", path, q, rec.Code)
			}
		}
	}
	rec := serve(h, http.MethodGet, "/api/v1/monitors?page=99999999999999999")
	var p listPage
	if err := json.Unmarshal(rec.Body.Bytes(), &p); rec.Code != 200 || err != nil || len(p.Monitors) != 0 || p.Total != 3 || p.Next != "" {
		t.Errorf("a page far past the end: %d %s", rec.Code, rec.Body)
	}
}

// TestListBytesBounded: with 20,000 monitors, what a request writes stays
// about one page's worth, not the whole fleet's.
func TestListBytesBounded(t *testing.T) {
	h := newTestHandler(&fakeSource{mons: manyMonitors(20000)}, nil, nil)
	for path, limit := range map[string]int{"/api/v1/monitors": 600 << 10, "/": 600 << 10} {
		rec := serve(h, http.MethodGet, path)
		if rec.Code != 200 || rec.Body.Len() > limit {
			t.Errorf("%s: %d, %d bytes, want at most %d", path, rec.Code, rec.Body.Len(), limit)
		}
	}
}
