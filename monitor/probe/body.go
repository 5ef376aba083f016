package probe

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"regexp"
)

// maxReadBuf is the largest read buffer a probe uses on a body, whatever
// MaxBody is: bodies are streamed, never held whole, except (up to MaxBody)
// for expect_json, which decodes the document.
const maxReadBuf = 32 << 10

// bodyReader streams a body once, up to max bytes, keeping only what the
// checks need: a count, the first excerptBytes (when excerpt is non-nil),
// and for expect_body the last len(expect)-1 bytes, so a match that straddles
// two reads is still found.
type bodyReader struct {
	src     io.Reader
	max     int64
	n       int64
	expect  []byte
	found   bool
	carry   []byte
	excerpt []byte
	// keep, for expect_json, holds every byte read (up to max): JSON is
	// decoded whole, so only then is the body held.
	keep  bool
	all   []byte
	trunc bool
	err   error // first read error other than io.EOF
}

// Read makes the body, bounded and observed, an io.Reader for
// regexp.MatchReader.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n >= b.max {
		return 0, io.EOF
	}
	if rem := b.max - b.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.src.Read(p)
	if n > 0 {
		b.observe(p[:n])
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *bodyReader) observe(p []byte) {
	b.n += int64(len(p))
	if b.keep {
		b.all = append(b.all, p...)
	}
	if b.excerpt != nil && len(b.excerpt) < excerptBytes {
		b.excerpt = append(b.excerpt, p[:min(len(p), excerptBytes-len(b.excerpt))]...)
	}
	if b.expect == nil || b.found {
		return
	}
	keep := len(b.expect) - 1
	if keep == 0 {
		b.found = bytes.Contains(p, b.expect)
		return
	}
	if b.carry == nil {
		b.carry = make([]byte, 0, 2*keep)
	}
	if len(b.carry) > 0 {
		joined := append(b.carry, p[:min(len(p), keep)]...)
		if bytes.Contains(joined, b.expect) {
			b.found = true
			return
		}
	}
	if bytes.Contains(p, b.expect) {
		b.found = true
		return
	}
	if len(p) >= keep {
		b.carry = append(b.carry[:0], p[len(p)-keep:]...)
		return
	}
	all := append(b.carry, p...)
	n := min(len(all), keep)
	copy(all, all[len(all)-n:])
	b.carry = all[:n]
}

// run reads the body to its end or to max. It reports whether re (if any)
// matched what was read, and the first read error.
func (b *bodyReader) run(re *regexp.Regexp) (matched bool, err error) {
	if re != nil {
		matched = re.MatchReader(bufio.NewReaderSize(b, 4096))
		if b.err != nil {
			return matched, b.err
		}
	}
	// Small bodies are the common case; grow only when reads fill it.
	buf := make([]byte, 512)
	for {
		n, err := b.Read(buf)
		if err == io.EOF {
			return matched, nil
		}
		if err != nil {
			return matched, err
		}
		if n == len(buf) && len(buf) < maxReadBuf {
			buf = make([]byte, maxReadBuf)
		}
	}
}

// truncated decides, once max bytes were read, whether the body went on.
func (b *bodyReader) truncated(resp *http.Response) {
	if resp.ContentLength >= 0 {
		b.trunc = resp.ContentLength > b.max
		return
	}
	var one [1]byte
	n, _ := b.src.Read(one[:])
	b.trunc = n > 0
}
