package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/testenv"
)

// timing is what one streamed request measured.
type timing struct {
	ttft   time.Duration
	total  time.Duration
	tokens int
	usage  llm.Usage
}

// timed streams req and measures time to first token and decode rate.
func timed(tb testing.TB, e *Engine, req *llm.Request) timing {
	tb.Helper()
	start := time.Now()
	s, err := e.ConverseStream(context.Background(), req)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	var tm timing
	for {
		ev, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if ev.Type == llm.EventBlockDelta && tm.ttft == 0 {
			tm.ttft = time.Since(start)
		}
		if ev.Usage != nil {
			tm.usage = *ev.Usage
		}
	}
	tm.total = time.Since(start)
	tm.tokens = tm.usage.OutputTokens
	return tm
}

// decodeRate is output tokens per second after the first token.
func (t timing) decodeRate() float64 {
	if t.tokens < 2 {
		return 0
	}
	return float64(t.tokens-1) / (t.total - t.ttft).Seconds()
}

func benchRequest(prompt string, maxTokens int) *llm.Request {
	r := userRequest(prompt)
	r.Inference.MaxTokens = ptr(maxTokens)
	r.Inference.Temperature = ptr(0.0)
	r.Inference.Seed = ptr(int64(7)) // no implicit reuse between iterations
	return r
}

// BenchmarkDecode measures a single stream on the real model: TTFT of a
// short chat prompt and decode tokens/s over 128 greedy tokens.
func BenchmarkDecode(b *testing.B) {
	e := realEngine(b)
	var ttft, rate float64
	for i := 0; i < b.N; i++ {
		tm := timed(b, e, benchRequest("Write a short story about a lighthouse keeper.", 128))
		ttft += tm.ttft.Seconds() * 1000
		rate += tm.decodeRate()
	}
	b.ReportMetric(ttft/float64(b.N), "ttft-ms")
	b.ReportMetric(rate/float64(b.N), "decode-tok/s")
}

// BenchmarkPrefixCache measures TTFT of a request whose ~1,500-token system
// prompt is marked with a cachePoint: uncached (a fresh prefix each time)
// and cached (the same prefix as the previous request).
func BenchmarkPrefixCache(b *testing.B) {
	e := realEngine(b)
	long := func(tag string) string {
		return tag + " " + strings.Repeat("The shop sells hammers, nails, screws, saws, drills and paint; staff answer questions about tools. ", 75)
	}
	mk := func(sys, q string) *llm.Request {
		r := benchRequest(q, 1)
		r.System = []llm.Block{llm.TextBlock(sys), {Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}}}
		return r
	}
	for _, mode := range []string{"uncached", "cached"} {
		b.Run(mode, func(b *testing.B) {
			sys := long("warm")
			timed(b, e, mk(sys, "Hello?"))
			var ttft float64
			var read, in int
			for i := 0; i < b.N; i++ {
				if mode == "uncached" {
					sys = long(fmt.Sprintf("variant %d %d", i, time.Now().UnixNano()))
				}
				tm := timed(b, e, mk(sys, fmt.Sprintf("Question %d: do you sell glue?", i)))
				ttft += tm.ttft.Seconds() * 1000
				read, in = tm.usage.CacheReadInputTokens, tm.usage.InputTokens
			}
			b.ReportMetric(ttft/float64(b.N), "ttft-ms")
			b.ReportMetric(float64(in), "input-tokens")
			b.ReportMetric(float64(read), "cache-read-tokens")
		})
	}
}

// BenchmarkConcurrent measures aggregate output tokens/s with 1, 2 and 4
// simultaneous streams (the engine has 4 slots here).
func BenchmarkConcurrent(b *testing.B) {
	path := realEngine(b).cfg.Path
	e, err := New(context.Background(), Config{Path: path, Slots: 4, ContextSize: 1024, Threads: benchThreads(),
		NoFlashAttention: os.Getenv("OUTCROP_BENCH_FA") == "0"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	<-e.hugeDone
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			var tokens int
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				var mu sync.Mutex
				start := time.Now()
				for j := 0; j < n; j++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						tm := timed(b, e, benchRequest(fmt.Sprintf("Stream %d: write a short poem about autumn.", j), 64))
						mu.Lock()
						tokens += tm.tokens
						mu.Unlock()
					}()
				}
				wg.Wait()
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(tokens)/elapsed.Seconds(), "aggregate-tok/s")
		})
	}
}

// pairCase is one comparison of BenchmarkPaired: configurations a and b,
// named an and bn in the metrics.
type pairCase struct {
	name     string
	a, b     func(*Config)
	an, bn   string
	system   bool // a long, fresh system prompt (prefill)
	maxToken int
	// pool runs the engines as the server does (two slots and the prefix
	// cache) and marks the system prompt with a cachePoint, so the KV pool
	// holds other requests' prefixes, as on a server that has run a while.
	pool bool
}

// BenchmarkPaired compares two engine configurations on the same model in
// this process, sending the same greedy request to each alternately (which
// goes first alternates too), so that both see the same machine:
//   - hugepages: memory on huge pages (the default) vs small pages;
//     flash attention is on (the default) in every case but the flash ones;
//   - flash/short: flash attention on vs off, 64-token prompt, 128 tokens;
//   - flash/long: the same with a 1,772-token prompt and one output token
//     (prefill);
//   - flash/pool: flash attention on vs off on engines configured as the
//     server's (two slots, prefix cache) whose KV pool holds the cached
//     prefixes of earlier requests; fresh 1,772-token prompts, 64 tokens;
//   - file/short and file/long: the test model vs $OUTCROP_BENCH_GGUF_B,
//     when set (the same model in another weight format, say).
//
// Each engine has one slot and a 4,096-token context. Reported: mean TTFT
// and decode rate of each, and the per-pair ratios a/b of decode rate and
// b/a of TTFT (above 1 means a is faster) as median, min and max.
func BenchmarkPaired(b *testing.B) {
	long := "variant " + strings.Repeat("The shop sells hammers, nails, screws, saws, drills and paint; staff answer questions about tools. ", 75)
	noFA := func(c *Config) { c.NoFlashAttention = true }
	cases := []pairCase{
		{"hugepages", func(*Config) {}, func(c *Config) { c.NoHugePages = true }, "huge", "small", false, 128, false},
		{"flash/short", func(*Config) {}, noFA, "fa", "nofa", false, 128, false},
		{"flash/long", func(*Config) {}, noFA, "fa", "nofa", true, 1, false},
		{"flash/pool", func(*Config) {}, noFA, "fa", "nofa", true, 64, true},
	}
	// OUTCROP_BENCH_GGUF_B compares the test model with another file of
	// the same model (for example converted to another weight format).
	if other := os.Getenv("OUTCROP_BENCH_GGUF_B"); other != "" {
		toOther := func(c *Config) { c.Path = other }
		cases = append(cases,
			pairCase{"file/short", func(*Config) {}, toOther, "a", "b", false, 128, false},
			pairCase{"file/long", func(*Config) {}, toOther, "a", "b", true, 1, false})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var engines [2]*Engine
			for k, tune := range []func(*Config){c.a, c.b} {
				cfg := Config{Path: testenv.GGUF(b), Threads: benchThreads(), Slots: 1, ContextSize: 4096, PrefixCacheTokens: -1,
					NoHugePages: benchNoHugePages()}
				if c.pool {
					cfg.Slots, cfg.PrefixCacheTokens = 2, 0
				}
				tune(&cfg)
				e, err := New(context.Background(), cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				<-e.hugeDone
				engines[k] = e
			}
			mk := func(i, k int) *llm.Request {
				if !c.system {
					return benchRequest("Write a short story about a lighthouse keeper.", c.maxToken)
				}
				// A fresh prefix each time: slots reuse their previous prompt.
				req := benchRequest("Do you sell glue?", c.maxToken)
				req.System = []llm.Block{llm.TextBlock(fmt.Sprintf("%d %d %s", i, k, long))}
				if c.pool {
					req.System = append(req.System, llm.Block{Kind: llm.KindCachePoint, CachePoint: &llm.CachePoint{}})
				}
				return req
			}
			if c.pool {
				for k := range engines { // fill the pool with two cached prefixes
					timed(b, engines[k], mk(-1, k))
					timed(b, engines[k], mk(-2, k))
				}
			}
			var ttft, rate [2]float64
			var decodeRatio, ttftRatio []float64
			for i := 0; i < b.N; i++ {
				var got [2]timing
				for j := 0; j < 2; j++ {
					k := (i + j) % 2
					got[k] = timed(b, engines[k], mk(i, k))
					ttft[k] += got[k].ttft.Seconds() * 1000
					rate[k] += got[k].decodeRate()
				}
				if c.maxToken > 1 {
					decodeRatio = append(decodeRatio, got[0].decodeRate()/got[1].decodeRate())
				}
				ttftRatio = append(ttftRatio, got[1].ttft.Seconds()/got[0].ttft.Seconds())
			}
			n := float64(b.N)
			for k, name := range []string{c.an, c.bn} {
				b.ReportMetric(ttft[k]/n, name+"-ttft-ms")
				if c.maxToken > 1 {
					b.ReportMetric(rate[k]/n, name+"-tok/s")
				}
			}
			for _, r := range []struct {
				name string
				v    []float64
			}{{"decode-ratio", decodeRatio}, {"ttft-ratio", ttftRatio}} {
				if len(r.v) == 0 {
					continue
				}
				slices.Sort(r.v)
				b.ReportMetric(r.v[len(r.v)/2], r.name+"-median")
				b.ReportMetric(r.v[0], r.name+"-min")
				b.ReportMetric(r.v[len(r.v)-1], r.name+"-max")
			}
		})
	}
}
