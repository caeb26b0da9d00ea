package local

import (
	"context"
	"fmt"
	"io"
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
	e, err := New(context.Background(), Config{Path: path, Slots: 4, ContextSize: 1024, Threads: benchThreads()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
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

// BenchmarkHugePages compares decoding with the engine's memory on huge
// pages (the default) and on small pages: two engines on the same model in
// this process, sent the same greedy 128-token request alternately, so
// that both see the same machine. Reported: mean decode rate of each and
// the per-pair ratio huge/small as median, min and max.
func BenchmarkHugePages(b *testing.B) {
	path := testenv.GGUF(b)
	var engines [2]*Engine
	for k, small := range []bool{false, true} {
		e, err := New(context.Background(), Config{Path: path, Threads: benchThreads(), Slots: 1, ContextSize: 4096,
			PrefixCacheTokens: -1, NoHugePages: small}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		<-e.hugeDone
		engines[k] = e
	}
	b.Logf("huge pages: %d MiB vs %d MiB", engines[0].Stats().HugePageBytes>>20, engines[1].Stats().HugePageBytes>>20)
	var rate [2]float64
	var ratios []float64
	for i := 0; i < b.N; i++ {
		var got [2]float64
		for j := 0; j < 2; j++ {
			k := (i + j) % 2
			got[k] = timed(b, engines[k], benchRequest("Write a short story about a lighthouse keeper.", 128)).decodeRate()
			rate[k] += got[k]
		}
		ratios = append(ratios, got[0]/got[1])
	}
	slices.Sort(ratios)
	b.ReportMetric(rate[0]/float64(b.N), "huge-tok/s")
	b.ReportMetric(rate[1]/float64(b.N), "small-tok/s")
	b.ReportMetric(ratios[len(ratios)/2], "ratio-median")
	b.ReportMetric(ratios[0], "ratio-min")
	b.ReportMetric(ratios[len(ratios)-1], "ratio-max")
}
