package agent

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/probe"
)

// newClock starts at a fixed instant, so signed timestamps are the same in every run.
func newClock() *testkit.Clock { return testkit.NewClock(time.Unix(1_750_000_000, 0)) }

var (
	testKey  = bytes.Repeat([]byte{0x42}, 32)
	otherKey = bytes.Repeat([]byte{0x17}, 32)
)

// target is a loopback HTTP server that counts the requests it gets.
type target struct {
	*httptest.Server
	hits atomic.Int64
}

func newTarget(t testing.TB, h http.HandlerFunc) *target {
	t.Helper()
	tg := &target{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("all good")) }
	}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(tg.Close)
	return tg
}

// agentUnderTest is a Server behind httptest, with a fake clock.
type agentUnderTest struct {
	*httptest.Server
	srv   *Server
	clock *testkit.Clock
}

func newAgent(t testing.TB, opts Options) *agentUnderTest {
	t.Helper()
	c := newClock()
	if opts.Keys == nil {
		opts.Keys = [][]byte{testKey}
	}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	a := &agentUnderTest{Server: httptest.NewServer(srv), srv: srv, clock: c}
	t.Cleanup(a.Close)
	return a
}

func (a *agentUnderTest) client(key []byte) *Client {
	return &Client{URL: a.URL, Key: key, Now: a.clock.Now}
}

func specJSON(t testing.TB, s probe.Spec) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawRequest sends a hand-signed request, so tests can break one part of it.
type rawRequest struct {
	method, path string
	key          []byte
	ts           time.Time
	nonce        string
	body         []byte // what is signed
	sendBody     []byte // what is sent; nil means body
	noAuth       bool
}

func (a *agentUnderTest) do(t testing.TB, rr rawRequest) (*http.Response, string) {
	t.Helper()
	if rr.method == "" {
		rr.method = http.MethodPost
	}
	if rr.path == "" {
		rr.path = ProbePath
	}
	if rr.key == nil {
		rr.key = testKey
	}
	if rr.ts.IsZero() {
		rr.ts = a.clock.Now()
	}
	if rr.nonce == "" {
		rr.nonce = NewNonce()
	}
	send := rr.sendBody
	if send == nil {
		send = rr.body
	}
	req, err := http.NewRequest(rr.method, a.URL+rr.path, bytes.NewReader(send))
	if err != nil {
		t.Fatal(err)
	}
	if !rr.noAuth {
		ts := strconv.FormatInt(rr.ts.Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderNonce, rr.nonce)
		req.Header.Set("Authorization", Sign(rr.key, rr.method, rr.path, ts, rr.nonce, rr.body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.String()
}
