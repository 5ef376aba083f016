package web

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// fakeHistory is a Source that keeps history: reports by monitor name (a
// name without one is unknown, as for the daemon), incidents it pages
// through as the store does, and it records what it was asked.
type fakeHistory struct {
	fakeSource
	reports    map[string]*history.Report
	historyErr error
	incidents  []history.IncidentEntry // any order; served newest first
	incErr     error
	overview   map[string]Overview
	vantages   vantage.Snapshot

	hmu       sync.Mutex
	windows   []history.Window
	queries   []history.IncidentQuery
	overviews [][]string
}

func (f *fakeHistory) History(_ context.Context, monitor string, w history.Window) (*history.Report, error) {
	f.hmu.Lock()
	f.windows = append(f.windows, w)
	f.hmu.Unlock()
	if f.historyErr != nil {
		return nil, f.historyErr
	}
	rep, ok := f.reports[monitor]
	if !ok {
		return nil, fmt.Errorf("reading the history of %q: %w", monitor, ErrUnknownMonitor)
	}
	c := *rep
	c.Window = w
	return &c, nil
}

// Incidents filters and pages like the store: (opened_at, id) descending,
// Before excluded, next set while more remain.
func (f *fakeHistory) Incidents(_ context.Context, q history.IncidentQuery) ([]history.IncidentEntry, history.Cursor, error) {
	f.hmu.Lock()
	f.queries = append(f.queries, q)
	f.hmu.Unlock()
	if f.incErr != nil {
		return nil, history.Cursor{}, f.incErr
	}
	all := slices.Clone(f.incidents)
	slices.SortFunc(all, func(a, b history.IncidentEntry) int {
		if c := b.OpenedAt.Compare(a.OpenedAt.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	var sel []history.IncidentEntry
	for _, e := range all {
		open := e.ResolvedAt.IsZero()
		switch {
		case q.State == "open" && !open, q.State == "resolved" && open:
			continue
		case q.Monitor != "" && e.Monitor != q.Monitor:
			continue
		case !q.Since.IsZero() && !open && e.ResolvedAt.Before(q.Since):
			continue
		case !q.Before.IsZero() && (e.OpenedAt.After(q.Before.OpenedAt) || e.OpenedAt.Equal(q.Before.OpenedAt) && e.ID >= q.Before.ID):
			continue
		}
		sel = append(sel, e)
	}
	if len(sel) > q.Limit {
		last := sel[q.Limit-1]
		return sel[:q.Limit], history.Cursor{OpenedAt: last.OpenedAt.Time, ID: last.ID}, nil
	}
	return sel, history.Cursor{}, nil
}

func (f *fakeHistory) Overview(_ context.Context, monitors []string) (map[string]Overview, error) {
	f.hmu.Lock()
	f.overviews = append(f.overviews, monitors)
	f.hmu.Unlock()
	out := map[string]Overview{}
	for _, m := range monitors {
		if o, ok := f.overview[m]; ok {
			out[m] = o
		}
	}
	return out, nil
}

func (f *fakeHistory) Vantages(context.Context) (vantage.Snapshot, bool) {
	return f.vantages, len(f.vantages.Vantages) > 0
}

func (f *fakeHistory) askedWindows() []history.Window {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	return slices.Clone(f.windows)
}

func (f *fakeHistory) askedQueries() []history.IncidentQuery {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	return slices.Clone(f.queries)
}
