package config

import (
	"fmt"
	"log/slog"
)

const secretMask = "<secret>"

// Secret holds a credential read at load time. Every way of printing or
// encoding it shows "<secret>"; only Reveal gives the value, so a secret
// reaches a log line or an API response only by an explicit, greppable call.
//
// The value sits behind a pointer so that even reflection-based printing of
// a struct that embeds a Secret (fmt's %+v on an unexported field) shows an
// address, never the content.
type Secret struct{ v *string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: &s} }

// Reveal returns the secret value. Call it only where the value is handed
// to the service that needs it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return secretMask }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return secretMask }

// Format implements fmt.Formatter, so no verb or flag prints the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", secretMask)
		return
	}
	_, _ = f.Write([]byte(secretMask))
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + secretMask + `"`), nil }

// MarshalText implements encoding.TextMarshaler (TOML, YAML, map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(secretMask), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(secretMask) }
