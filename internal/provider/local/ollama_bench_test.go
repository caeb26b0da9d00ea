package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/testenv"
)

// benchThreads is the llama.cpp thread count of the real-model tests and
// benchmarks (both engines in the side-by-side one): $OUTCROP_BENCH_THREADS,
// default 1. One thread keeps results stable on a shared machine, where
// llama.cpp's spinning thread barrier collapses when another process takes
// a core.
func benchThreads() int {
	if n, err := strconv.Atoi(os.Getenv("OUTCROP_BENCH_THREADS")); err == nil && n > 0 {
		return n
	}
	return 1
}

// benchNoHugePages reports whether $OUTCROP_BENCH_HUGEPAGES=0 asks the
// real-model tests and benchmarks to leave the engine on small pages, for
// comparing with the default.
func benchNoHugePages() bool { return os.Getenv("OUTCROP_BENCH_HUGEPAGES") == "0" }

// ollamaChat streams one /api/chat call and measures it like timed does.
// The options match the engine's request: greedy, no repetition penalty
// (Ollama's default is 1.1, the engine has none), the same thread count and
// context window.
func ollamaChat(tb testing.TB, base, system, prompt string, maxTokens, threads int) timing {
	tb.Helper()
	msgs := []map[string]string{{"role": "user", "content": prompt}}
	if system != "" {
		msgs = append([]map[string]string{{"role": "system", "content": system}}, msgs...)
	}
	body, _ := json.Marshal(map[string]any{
		"model":    "smollm2:135m",
		"stream":   true,
		"messages": msgs,
		"options": map[string]any{"temperature": 0, "seed": 7, "num_predict": maxTokens, "num_thread": threads,
			"num_ctx": 4096, "num_batch": 512, "repeat_penalty": 1, "top_k": defaultTopK, "top_p": defaultTopP},
	})
	start := time.Now()
	resp, err := http.Post(base+"/api/chat", "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("ollama: %s", resp.Status)
	}
	var tm timing
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var chunk struct {
			Message         struct{ Content string }
			Done            bool
			EvalCount       int `json:"eval_count"`
			PromptEvalCount int `json:"prompt_eval_count"`
		}
		if err := json.Unmarshal(sc.Bytes(), &chunk); err != nil {
			tb.Fatal(err)
		}
		if chunk.Message.Content != "" && tm.ttft == 0 {
			tm.ttft = time.Since(start)
		}
		if chunk.Done {
			tm.tokens = chunk.EvalCount
			tm.usage.InputTokens = chunk.PromptEvalCount
			tm.usage.OutputTokens = chunk.EvalCount
		}
	}
	tm.total = time.Since(start)
	return tm
}

// benchOllamaURL is the Ollama server of the side-by-side benchmark:
// $OUTCROP_BENCH_OLLAMA_URL, else the test server. A private server
// (OLLAMA_NUM_PARALLEL=1, used by nobody else) is the fair comparison: the
// shared test server runs 4 parallel sequences, batches other callers'
// requests with the benchmark's and reloads its runner whenever a caller
// asks for another thread count.
func benchOllamaURL(tb testing.TB) string {
	if u := os.Getenv("OUTCROP_BENCH_OLLAMA_URL"); u != "" {
		return u
	}
	return testenv.OllamaURL(tb)
}

// BenchmarkVsOllama runs the same greedy 128-token request against the
// built-in engine and Ollama v0.17.4 serving the same GGUF, alternating
// which goes first in each iteration so that both see the same machine
// load. Both use benchThreads threads, a 4,096-token context, batch 512,
// one sequence (slots: 1 and no prefix cache here, OLLAMA_NUM_PARALLEL=1
// for a private Ollama), flash attention on, f16 KV cache, the same chat
// template and the same sampling.
//
// Two prompt cases:
//   - cold: the system prompt carries a unique tag, so neither engine can
//     reuse a cached prefix and both evaluate the whole prompt;
//   - warm: the default system prompt and a unique user message, so both
//     reuse the shared prefix of the previous request (Ollama's runner
//     always does; the engine does when the request sets no seed).
//
// Reported: mean TTFT and decode rate of each, and the per-iteration ratios
// decode = outcrop/ollama tok/s and ttft = ollama/outcrop TTFT (so >1 means
// Outcrop is faster in both) as median, min and max. CPU time per processed
// token is this whole process's for the engine (client side of both calls
// included) and the runner process's for Ollama.
func BenchmarkVsOllama(b *testing.B) {
	for _, mode := range []string{"cold", "warm"} {
		b.Run(mode, func(b *testing.B) { benchVsOllama(b, mode) })
	}
}

func benchVsOllama(b *testing.B, mode string) {
	base := benchOllamaURL(b)
	path := testenv.GGUF(b)
	threads := benchThreads()
	// The engine is configured as Ollama's runner is: one sequence of 4,096
	// cells (no prefix cache sequences) and flash attention on, which is
	// what Ollama's "auto" picks on CPU and the engine's default.
	// OUTCROP_BENCH_FA=0 turns it off.
	noFA := os.Getenv("OUTCROP_BENCH_FA") == "0"
	e, err := New(context.Background(), Config{Path: path, Threads: threads, Slots: 1, ContextSize: 4096, BatchSize: 512,
		PrefixCacheTokens: -1, NoFlashAttention: noFA, NoHugePages: benchNoHugePages()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	<-e.hugeDone
	const task = "Write a short story about a lighthouse keeper."
	// call runs iteration i on one engine; k is 0 for the engine, 1 for Ollama.
	call := func(k, i, maxTokens int) timing {
		tag := fmt.Sprintf("Request %d at %d.", i, time.Now().UnixNano())
		system, user := "", tag+" "+task
		if mode == "cold" {
			system, user = tag+" You are a helpful AI assistant named SmolLM, trained by Hugging Face", task
		}
		if k == 1 {
			return ollamaChat(b, base, system, user, maxTokens, threads)
		}
		req := benchRequest(user, maxTokens)
		if system != "" {
			req.System = []llm.Block{llm.TextBlock(system)}
		}
		if mode == "warm" {
			req.Inference.Seed = nil // a seed turns off slot reuse
		}
		return timed(b, e, req)
	}
	// Warm both (Ollama loads its runner with the thread count on first use).
	for k := 0; k < 2; k++ {
		call(k, -2, 8)
		call(k, -1, 8)
	}
	runner := ollamaRunner(base)
	var tm [2][]timing
	var cpu [2]float64
	var decodeRatio, ttftRatio []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var got [2]timing
		for j := 0; j < 2; j++ {
			k := (i + j) % 2 // alternate which engine goes first
			c0, r0 := cpuTime(os.Getpid()), cpuTime(runner)
			got[k] = call(k, i, 128)
			c1, r1 := cpuTime(os.Getpid()), cpuTime(runner)
			d := c1 - c0 // includes this process's client side of the call
			if k == 1 {
				d = r1 - r0
			}
			cpu[k] += d.Seconds() * 1000 / float64(got[k].tokens+got[k].usage.InputTokens)
			tm[k] = append(tm[k], got[k])
		}
		a, o := got[0], got[1]
		decodeRatio = append(decodeRatio, a.decodeRate()/o.decodeRate())
		ttftRatio = append(ttftRatio, o.ttft.Seconds()/a.ttft.Seconds())
		b.Logf("%s: outcrop in %d (cached %d) out %d ttft %v %.1f tok/s | ollama in %d out %d ttft %v %.1f tok/s | decode ratio %.2f ttft ratio %.2f",
			mode, a.usage.InputTokens, a.usage.CacheReadInputTokens, a.tokens, a.ttft.Round(time.Millisecond), a.decodeRate(),
			o.usage.InputTokens, o.tokens, o.ttft.Round(time.Millisecond), o.decodeRate(), decodeRatio[i], ttftRatio[i])
	}
	b.StopTimer()
	n := float64(b.N)
	for k, name := range []string{"outcrop", "ollama"} {
		var ttft, rate float64
		for _, t := range tm[k] {
			ttft += t.ttft.Seconds() * 1000
			rate += t.decodeRate()
		}
		b.ReportMetric(ttft/n, name+"-ttft-ms")
		b.ReportMetric(rate/n, name+"-tok/s")
		b.ReportMetric(cpu[k]/n, name+"-cpu-ms/token")
	}
	for _, r := range []struct {
		name string
		v    []float64
	}{{"decode-ratio", decodeRatio}, {"ttft-ratio", ttftRatio}} {
		sort.Float64s(r.v)
		b.ReportMetric(r.v[len(r.v)/2], r.name+"-median")
		b.ReportMetric(r.v[0], r.name+"-min")
		b.ReportMetric(r.v[len(r.v)-1], r.name+"-max")
	}
	b.ReportMetric(float64(peakRSS(os.Getpid()))/(1<<20), "outcrop-peak-rss-MiB")
	if runner > 0 {
		b.ReportMetric(float64(peakRSS(runner))/(1<<20), "ollama-runner-peak-rss-MiB")
	}
}

// cpuTime returns the user+system CPU time a process has used so far
// (clock-tick resolution), 0 if unknown.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses.
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// peakRSS returns VmHWM of a process in bytes, 0 if unknown.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ollamaRunner finds the pid of the `ollama runner` process of the Ollama
// server at base: a runner whose environment's OLLAMA_HOST names base's
// port, else the only runner; 0 if unknown.
func ollamaRunner(base string) int {
	port := base[strings.LastIndexByte(base, ':')+1:]
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var runners []int
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && strings.HasSuffix(args[0], "ollama") && args[1] == "runner" && !slices.Contains(args, "--ollama-engine") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
			env, _ := os.ReadFile(filepath.Join(filepath.Dir(d), "environ"))
			for _, kv := range strings.Split(string(env), "\x00") {
				if h, ok := strings.CutPrefix(kv, "OLLAMA_HOST="); ok && strings.HasSuffix(strings.TrimRight(h, "/"), ":"+port) {
					return pid
				}
			}
			runners = append(runners, pid)
		}
	}
	if len(runners) == 1 {
		return runners[0]
	}
	return 0
}
