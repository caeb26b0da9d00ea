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
	"strconv"
	"strings"
	"testing"
	"time"

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

// ollamaChat streams one /api/chat call and measures it like timed does.
func ollamaChat(tb testing.TB, base, prompt string, maxTokens, threads int) timing {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{
		"model":    "smollm2:135m",
		"stream":   true,
		"messages": []map[string]string{{"role": "user", "content": prompt}},
		"options":  map[string]any{"temperature": 0, "seed": 7, "num_predict": maxTokens, "num_thread": threads, "num_ctx": 4096},
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

// BenchmarkVsOllama runs the same greedy 128-token request against the
// built-in engine and Ollama v0.17.4 serving the same GGUF, alternating
// between them so that both see the same machine load. Each request has a
// unique prompt, so neither engine reuses a cached prefix. Besides wall
// time it reports CPU time per processed token (input + output), which
// machine load does not distort: the engine's is this whole process's,
// client included; Ollama's is its runner process's.
func BenchmarkVsOllama(b *testing.B) {
	base := testenv.OllamaURL(b)
	path := testenv.GGUF(b)
	threads := benchThreads()
	e, err := New(context.Background(), Config{Path: path, Threads: threads, Slots: 1, ContextSize: 4096}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	prompt := func(i int) string {
		return fmt.Sprintf("Request %d at %d. Write a short story about a lighthouse keeper.", i, time.Now().UnixNano())
	}
	// Warm both (Ollama loads its runner with the thread count on first use).
	timed(b, e, benchRequest(prompt(-1), 8))
	ollamaChat(b, base, prompt(-1), 8, threads)
	var sums [2]struct{ ttft, rate, cpu float64 }
	runner := ollamaRunner()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0 := cpuTime(os.Getpid())
		a := timed(b, e, benchRequest(prompt(i), 128))
		c1 := cpuTime(runner)
		o := ollamaChat(b, base, prompt(i), 128, threads)
		c2 := cpuTime(runner)
		cpuA := cpuTime(os.Getpid()) - c0 // includes the client side of both calls
		sums[0].cpu += cpuA.Seconds() * 1000 / float64(a.tokens+a.usage.InputTokens)
		sums[1].cpu += (c2 - c1).Seconds() * 1000 / float64(o.tokens+o.usage.InputTokens)
		for k, tm := range []timing{a, o} {
			sums[k].ttft += tm.ttft.Seconds() * 1000
			sums[k].rate += tm.decodeRate()
		}
		b.Logf("outcrop: in %d out %d ttft %v %.1f tok/s | ollama: in %d out %d ttft %v %.1f tok/s",
			a.usage.InputTokens, a.tokens, a.ttft.Round(time.Millisecond), a.decodeRate(),
			o.usage.InputTokens, o.tokens, o.ttft.Round(time.Millisecond), o.decodeRate())
	}
	n := float64(b.N)
	b.ReportMetric(sums[0].ttft/n, "outcrop-ttft-ms")
	b.ReportMetric(sums[1].ttft/n, "ollama-ttft-ms")
	b.ReportMetric(sums[0].rate/n, "outcrop-tok/s")
	b.ReportMetric(sums[1].rate/n, "ollama-tok/s")
	b.ReportMetric(sums[0].cpu/n, "outcrop-cpu-ms/token")
	b.ReportMetric(sums[1].cpu/n, "ollama-cpu-ms/token")
	b.ReportMetric(float64(peakRSS(os.Getpid()))/(1<<20), "outcrop-peak-rss-MiB")
	if pid := ollamaRunner(); pid > 0 {
		b.ReportMetric(float64(peakRSS(pid))/(1<<20), "ollama-runner-peak-rss-MiB")
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

// ollamaRunner finds the pid of a running `ollama runner` process.
func ollamaRunner() int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 1 && strings.HasSuffix(args[0], "ollama") && args[1] == "runner" {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
			return pid
		}
	}
	return 0
}
