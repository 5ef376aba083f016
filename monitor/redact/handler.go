package redact

import (
	"context"
	"fmt"
	"log/slog"
)

// Handler is a slog.Handler that redacts every record before the handler
// it wraps sees it: the message, every string attribute, every error and
// Stringer (as its redacted text) and the strings inside any other value.
type Handler struct {
	inner slog.Handler
	f     func(string) string
}

// NewHandler wraps inner so that f redacts every record.
func NewHandler(inner slog.Handler, f func(string) string) *Handler {
	return &Handler{inner: inner, f: f}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	n := slog.NewRecord(r.Time, r.Level, h.f(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		n.AddAttrs(h.attr(a))
		return true
	})
	return h.inner.Handle(ctx, n)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = h.attr(a)
	}
	return &Handler{inner: h.inner.WithAttrs(out), f: h.f}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), f: h.f}
}

func (h *Handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(h.f(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]slog.Attr, len(g))
		for i, e := range g {
			out[i] = h.attr(e)
		}
		a.Value = slog.GroupValue(out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			// Its text is what would be printed, and errors are where
			// servers echo what they were sent.
			a.Value = slog.StringValue(h.f(x.Error()))
		case fmt.Stringer:
			a.Value = slog.StringValue(h.f(x.String()))
		default:
			a.Value = h.any(x)
		}
	default:
		a.Value = v
	}
	return a
}

// any redacts the strings inside x. A value Copy cannot rebuild (it
// panics on some reflect corner) is logged as its redacted %v text: a log
// line must never take the daemon down, nor leak.
func (h *Handler) any(x any) (v slog.Value) {
	defer func() {
		if recover() != nil {
			v = slog.StringValue(h.f(fmt.Sprintf("%v", x)))
		}
	}()
	return slog.AnyValue(Copy(x, h.f))
}
