// Command loadgen sends chat-completion requests at a fixed arrival rate
// (open loop, so a slow server cannot slow the offered load) and reports
// latency percentiles: end-to-end for JSON requests, time to first byte of
// content for streams. With -c it runs closed loop instead: -c workers send
// -n requests in all, each worker its next request as soon as the last one
// ended, and it reports throughput besides the percentiles. With -hold it
// opens -streams concurrent streams and keeps them open for the given
// time, for memory measurements.
//
//	loadgen -url http://127.0.0.1:8080/v1/chat/completions -rate 500 -duration 20s [-stream]
//	loadgen -url http://127.0.0.1:8080/v1/chat/completions -c 50 -n 20000 [-stream]
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080/v1/chat/completions", "chat completions URL")
	model := flag.String("model", "instant", "model")
	rate := flag.Float64("rate", 500, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	warmup := flag.Duration("warmup", 2*time.Second, "sending time excluded from the figures")
	stream := flag.Bool("stream", false, "stream responses and measure time to first content")
	streams := flag.Int("streams", 0, "with -hold: number of concurrent streams to open")
	hold := flag.Duration("hold", 0, "open -streams streams and keep them open this long")
	maxInflight := flag.Int("max-inflight", 4000, "give up on requests beyond this many in flight")
	conc := flag.Int("c", 0, "closed loop: this many workers, each sending its next request when the last one ends")
	total := flag.Int("n", 1000, "closed loop: requests to send in all (after -warmup-n)")
	warmupN := flag.Int("warmup-n", 200, "closed loop: requests sent first and left out of the figures")
	maxTokens := flag.Int("max-tokens", 8, "max_tokens of every request")
	flag.Parse()

	tr := &http.Transport{MaxIdleConns: 10000, MaxIdleConnsPerHost: 10000, MaxConnsPerHost: 0, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	body := func(s bool) []byte {
		return []byte(fmt.Sprintf(`{"model":%q,"stream":%v,"max_tokens":%d,"messages":[{"role":"user","content":"Say hello."}]}`, *model, s, *maxTokens))
	}
	if *conc > 0 {
		closedLoop(client, *url, body(*stream), *stream, *conc, *warmupN, *total)
		return
	}

	if *hold > 0 {
		holdStreams(client, *url, body(true), *streams, *hold)
		return
	}

	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     atomic.Int64
		dropped  atomic.Int64
		inflight atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	measureFrom := start.Add(*warmup)
	end := start.Add(*warmup + *duration)
	interval := time.Duration(float64(time.Second) / *rate)
	b := body(*stream)
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if at.After(end) {
			break
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		if inflight.Load() >= int64(*maxInflight) {
			dropped.Add(1)
			continue
		}
		inflight.Add(1)
		wg.Add(1)
		go func(at time.Time) { // ends when the request completes or times out
			defer wg.Done()
			defer inflight.Add(-1)
			d, err := one(client, *url, b, *stream, at)
			if at.Before(measureFrom) {
				return
			}
			if err != nil {
				errs.Add(1)
				return
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}(at)
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	what := "e2e"
	if *stream {
		what = "ttft"
	}
	fmt.Printf("url=%s rate=%.0f/s duration=%v stream=%v n=%d errors=%d dropped=%d\n", *url, *rate, *duration, *stream, len(lat), errs.Load(), dropped.Load())
	if len(lat) > 0 {
		fmt.Printf("%s_ms p50=%.3f p90=%.3f p99=%.3f max=%.3f (nearest-rank)\n", what,
			ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99)), ms(lat[len(lat)-1]))
	}
}

// one sends a request scheduled at `at` and returns the latency from the
// scheduled time, so that client-side queueing counts against the server
// (no coordinated omission).
func one(c *http.Client, url string, body []byte, stream bool, at time.Time) (time.Duration, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	if !stream {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return 0, err
		}
		return time.Since(at), nil
	}
	sc := bufio.NewScanner(resp.Body)
	var ttft time.Duration
	for sc.Scan() {
		line := sc.Text()
		if ttft == 0 && strings.Contains(line, `"content":"`) && !strings.Contains(line, `"content":""`) {
			ttft = time.Since(at)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if ttft == 0 {
		return 0, fmt.Errorf("no content")
	}
	return ttft, nil
}

// closedLoop sends warmup requests and then total more from conc workers
// and prints throughput and latency percentiles of the latter.
func closedLoop(c *http.Client, url string, body []byte, stream bool, conc, warmup, total int) {
	run := func(n int) ([]time.Duration, int64, time.Duration) {
		var next, errs atomic.Int64
		lats := make([][]time.Duration, conc)
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < conc; w++ {
			wg.Add(1)
			go func() { // ends when the n requests are taken
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					d, err := one(c, url, body, stream, time.Now())
					if err != nil {
						errs.Add(1)
						continue
					}
					lats[w] = append(lats[w], d)
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		var all []time.Duration
		for _, l := range lats {
			all = append(all, l...)
		}
		return all, errs.Load(), el
	}
	run(warmup)
	lat, errs, el := run(total)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	what := "e2e"
	if stream {
		what = "ttft"
	}
	fmt.Printf("url=%s c=%d stream=%v n=%d errors=%d elapsed=%v throughput=%.0f/s\n", url, conc, stream, len(lat), errs, el.Round(time.Millisecond), float64(len(lat))/el.Seconds())
	if len(lat) > 0 {
		fmt.Printf("%s_ms p50=%.3f p90=%.3f p99=%.3f max=%.3f rps=%.0f errors=%d (nearest-rank)\n", what,
			ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(lat, 99)), ms(lat[len(lat)-1]), float64(len(lat))/el.Seconds(), errs)
	}
}

func holdStreams(c *http.Client, url string, body []byte, n int, hold time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), hold)
	defer cancel()
	var open, failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { // ends when the hold context expires or the stream ends
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil || resp.StatusCode != 200 {
				failed.Add(1)
				return
			}
			open.Add(1)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
		if i%100 == 99 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(hold / 2)
	fmt.Fprintf(os.Stdout, "streams open=%d failed=%d (holding %v)\n", open.Load(), failed.Load(), hold)
	wg.Wait()
}

func pct(s []time.Duration, p float64) time.Duration {
	i := int(p/100*float64(len(s))+0.999999) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
