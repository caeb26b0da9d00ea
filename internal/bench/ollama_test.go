package bench

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/testenv"
)

// TestOllamaEndToEnd runs a tiny streaming benchmark against a real
// OpenAI-compatible server (Ollama serving smollm2:135m) and checks every
// summary figure against the per-request file.
func TestOllamaEndToEnd(t *testing.T) {
	base := testenv.OllamaURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := NewOpenAI(OpenAIOptions{Endpoint: base})
	items, err := (&Builder{}).Build(ctx, WorkloadSpec{Requests: 3, Seed: 3,
		Input: Range{Values: []int{60, 120}}, Output: Range{Min: 8, Max: 8}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rec, err := NewRecorder(dir)
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	info, err := Run(ctx, RunOptions{
		Targets: []Target{{Name: "ollama", Client: c, Model: "smollm2:135m"}},
		Items:   items, Stream: true, Temperature: &zero,
		Load:     Load{Concurrency: 1, Warmup: 1, MaxTime: 3 * time.Minute},
		OnRecord: rec.Add,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rec.Close()
	s, err := Report(dir, Summary{Started: info.Started, Ended: info.Ended, StopReason: info.StopReason}, []string{"ollama"}, "")
	if err != nil {
		t.Fatal(err)
	}
	g := s.Groups[0]
	if info.StopReason != "complete" || g.Succeeded != 2 || g.Failed != 0 {
		t.Fatalf("run %s, counts %+v; want 2 successes", info.StopReason, g.Counts)
	}
	if g.Metrics.TTFT.N != 2 || g.Metrics.OTPS.N == 0 || g.Metrics.InputTokens.N != 2 {
		t.Errorf("metrics n: ttft %d otps %d input %d; want streaming figures and server usage",
			g.Metrics.TTFT.N, g.Metrics.OTPS.N, g.Metrics.InputTokens.N)
	}
	recs, _ := ReadRecords(filepath.Join(dir, FileRequests))
	for _, r := range recs {
		if r.UsageSource != "server" {
			t.Errorf("record %d usage_source = %q, want server (stream_options.include_usage)", r.Seq, r.UsageSource)
		}
	}
	checkRecomputed(t, dir)
	checkFiles(t, dir)
}

func TestOllamaModelNotFound(t *testing.T) {
	base := testenv.OllamaURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := NewOpenAI(OpenAIOptions{Endpoint: base}).Do(ctx, Request{Model: "no-such-model:1b", Prompt: "hi", MaxTokens: 4, Stream: true})
	var be *Error
	if !errors.As(err, &be) || be.Type != ErrModelNotFound || !be.Fatal() {
		t.Fatalf("Do(unknown model) = %v, want a fatal %s error", err, ErrModelNotFound)
	}
}

func TestOpenAIUnreachable(t *testing.T) {
	_, err := NewOpenAI(OpenAIOptions{Endpoint: closedPort(t)}).Do(context.Background(), Request{Model: "m", Prompt: "hi", MaxTokens: 4, Stream: true})
	var be *Error
	if !errors.As(err, &be) || be.Type != ErrConnection {
		t.Fatalf("Do(closed port) = %v, want %s", err, ErrConnection)
	}
}
