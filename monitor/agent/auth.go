package agent

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The headers and scheme of the signature. They are the wire protocol
// between coordinator and agent: changing one breaks every deployed pair.
const (
	HeaderTimestamp = "X-Vantage-Timestamp" // unix seconds
	HeaderNonce     = "X-Vantage-Nonce"     // ≥ 16 random bytes, hex
	// HeaderResponseSignature signs a 200 answer with the key that
	// verified the request, binding it to the request's nonce, so that a
	// man in the middle of a plain-http agent cannot forge a verdict.
	HeaderResponseSignature = "X-Vantage-Signature"
	AuthScheme              = "VANTAGE-HMAC-SHA256"
)

// MinKeyBytes is the least entropy a shared key may have, after decoding.
const MinKeyBytes = 32

// MinNonceBytes is the least length of a nonce, after hex decoding.
const MinNonceBytes = 16

// maxNonceBytes stops a client from making the replay cache store large
// strings.
const maxNonceBytes = 64

// ClockSkew is how far a request's timestamp may be from the agent's clock.
const ClockSkew = 30 * time.Second

// canonical is the string both sides sign:
// "METHOD\nTARGET\nTIMESTAMP\nNONCE\nhex(sha256(body))", where TARGET is
// the request's path and query as sent (e.g. "/v1/probe").
func canonical(method, target, timestamp, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	b.Grow(len(method) + len(target) + len(timestamp) + len(nonce) + 4 + 2*len(sum))
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(target)
	b.WriteByte('\n')
	b.WriteString(timestamp)
	b.WriteByte('\n')
	b.WriteString(nonce)
	b.WriteByte('\n')
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.Bytes()
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// Sign returns the Authorization header value for a request.
func Sign(key []byte, method, target, timestamp, nonce string, body []byte) string {
	return AuthScheme + " " + hex.EncodeToString(mac(key, canonical(method, target, timestamp, nonce, body)))
}

// responseMAC signs an answer: the request's nonce ties it to one request.
func responseMAC(key []byte, nonce string, status int, body []byte) string {
	return hex.EncodeToString(mac(key, canonical("RESPONSE", strconv.Itoa(status), "", nonce, body)))
}

// NewNonce returns a fresh random nonce: MinNonceBytes bytes, hex.
func NewNonce() string {
	var b [MinNonceBytes]byte
	rand.Read(b[:]) // never fails on supported platforms (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// GenerateKey returns a new random shared key as one line of hex, the form
// a key file holds.
func GenerateKey() string {
	var b [MinKeyBytes]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ParseKeys reads the keys of a key file: one key per line, hex or base64,
// each at least MinKeyBytes after decoding. Blank lines and lines starting
// with '#' are ignored. Several keys support rotation: an agent accepts
// any of them, and a client signs with the first.
func ParseKeys(text string) ([][]byte, error) {
	var keys [][]byte
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := decodeKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key found (generate one with `vantage agent -gen-key`)")
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	// Hex first: a hex string is usually valid base64 too, and would then
	// decode to different bytes than the other side expects.
	k, err := hex.DecodeString(s)
	if err != nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if k, err = enc.DecodeString(s); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, errors.New("the key is neither hex nor base64")
	}
	if len(k) < MinKeyBytes {
		return nil, fmt.Errorf("the key has %d bytes after decoding; at least %d are required", len(k), MinKeyBytes)
	}
	return k, nil
}

// ReadKeyFile reads and parses a key file; see ParseKeys.
func ReadKeyFile(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	keys, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return keys, nil
}

// authError says why a request was not authenticated. Its text goes back
// to the client: it names the check that failed, never anything about the
// keys.
type authError string

func (e authError) Error() string { return string(e) }

// verify checks the signature headers of a request against keys and
// returns the key that matched. It does not consult the replay cache.
func verify(keys [][]byte, now time.Time, method, target string, h headerGetter, body []byte) ([]byte, string, error) {
	ts := h.Get(HeaderTimestamp)
	nonce := h.Get(HeaderNonce)
	auth := h.Get("Authorization")
	if ts == "" || nonce == "" || auth == "" {
		return nil, "", authError("missing " + HeaderTimestamp + ", " + HeaderNonce + " or Authorization header")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, "", authError(HeaderTimestamp + " is not unix seconds")
	}
	// Compare in seconds so that a huge timestamp cannot overflow a Duration.
	if d := now.Unix() - sec; d > int64(ClockSkew/time.Second) || d < -int64(ClockSkew/time.Second) {
		return nil, "", authError(fmt.Sprintf("timestamp is %ds from the agent's clock; at most %s is allowed (check NTP on both hosts)", d, ClockSkew))
	}
	if n, err := hex.DecodeString(nonce); err != nil || len(n) < MinNonceBytes || len(n) > maxNonceBytes {
		return nil, "", authError(fmt.Sprintf("%s must be %d to %d random bytes in hex", HeaderNonce, MinNonceBytes, maxNonceBytes))
	}
	scheme, sigHex, ok := strings.Cut(auth, " ")
	if !ok || scheme != AuthScheme {
		return nil, "", authError("Authorization is not " + AuthScheme)
	}
	sig, err := hex.DecodeString(strings.TrimSpace(sigHex))
	if err != nil || len(sig) != sha256.Size {
		return nil, "", authError("bad signature")
	}
	msg := canonical(method, target, ts, nonce, body)
	var match []byte
	for _, k := range keys {
		// Check every key even after a match, so the time taken does not
		// say which key (or whether an early one) matched.
		if hmac.Equal(mac(k, msg), sig) && match == nil {
			match = k
		}
	}
	if match == nil {
		return nil, "", authError("bad signature")
	}
	return match, nonce, nil
}

type headerGetter interface{ Get(string) string }

// KeyID is a short, non-secret name for a key, for logs: the first bytes
// of an HMAC of a fixed string, which says which key without revealing it.
func KeyID(key []byte) string {
	return hex.EncodeToString(mac(key, []byte("vantage key id")))[:8]
}
