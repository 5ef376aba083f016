package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// bareResult is what the bare child prints as JSON when it is done.
type bareResult struct {
	Requests int64   `json:"requests"` // completed inside the window
	Errors   int64   `json:"errors"`   // failed inside the window
	Dropped  int64   `json:"dropped"`  // due but not started: the loop fell behind
	Seconds  float64 `json:"seconds"`  // length of the window
	CPUUs    int64   `json:"cpu_us"`   // own CPU used inside the window
}

// tick is how often the bare loop releases the requests that are due. The
// daemon's scheduler coalesces its wake-ups the same way (10ms), so neither
// side pays a timer per request.
const tick = 10 * time.Millisecond

// runBare makes GET requests to urls (in turn) at rate per second, each on
// a fresh connection, reading the whole body: the floor the daemon's probe
// is compared with. After warm it measures its own CPU and completions over
// window.
func runBare(ctx context.Context, urls []string, rate float64, warm, window time.Duration, workers int) (bareResult, error) {
	client := &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   5 * time.Second,
	}
	var done, failed atomic.Int64
	jobs := make(chan string, workers*64)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range jobs {
				if err := get(ctx, client, u); err != nil {
					failed.Add(1)
				} else {
					done.Add(1)
				}
			}
		}()
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()

	start := time.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	var issued, dropped int64
	var res bareResult
	var cpu0 time.Duration
	var done0, failed0, dropped0 int64
	windowStart := start.Add(warm)
	measuring := false
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case now := <-t.C:
			if !measuring && !now.Before(windowStart) {
				c, err := procCPU(os.Getpid())
				if err != nil {
					return res, err
				}
				cpu0, done0, failed0, dropped0 = c, done.Load(), failed.Load(), dropped
				windowStart, measuring = now, true
			}
			if measuring && now.Sub(windowStart) >= window {
				c, err := procCPU(os.Getpid())
				if err != nil {
					return res, err
				}
				res.CPUUs = (c - cpu0).Microseconds()
				res.Requests = done.Load() - done0
				res.Errors = failed.Load() - failed0
				res.Dropped = dropped - dropped0
				res.Seconds = now.Sub(windowStart).Seconds()
				return res, nil
			}
			due := int64(now.Sub(start).Seconds() * rate)
			for ; issued < due; issued++ {
				select {
				case jobs <- urls[issued%int64(len(urls))]:
				default:
					dropped++
				}
			}
		}
	}
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

func writeBareResult(w io.Writer, r bareResult) error {
	return json.NewEncoder(w).Encode(r)
}
