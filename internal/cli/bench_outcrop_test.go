package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/app"
	"github.com/outcrop/outcrop/internal/bench"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/testenv"
)

// TestBenchAgainstOutcrop starts Outcrop in-process with the built-in engine
// serving SmolLM2 in both profiles and runs a small interleaved
// standard-vs-optimized benchmark through the Bedrock API with the AWS SDK,
// then recomputes every summary figure from requests.jsonl.
func TestBenchAgainstOutcrop(t *testing.T) {
	gguf := testenv.GGUF(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDBENCH")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
home: %s
models:
  - id: smollm2-135m-instruct
    profiles: [standard, optimized]
    deployments:
      - name: engine-0
        provider: local
        model: %s
        options: {slots: 2, context_size: 2048}
`, t.TempDir(), gguf)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(srvCtx, ln) }() // ends when srvCtx is cancelled
	defer func() { stop(); <-done }()

	out := filepath.Join(t.TempDir(), "run")
	env, stdout, stderr := benchEnv()
	err = Run(ctx, env, []string{"bench", "--endpoint", "http://" + ln.Addr().String(), "--model", "smollm2-135m-instruct",
		"--profile", "standard", "--profile", "optimized", "--requests", "2", "--warmup", "1", "--concurrency", "2",
		"--input-tokens", "60,150", "--output-tokens", "8", "--out", out, "--progress", "log", "--max-time", "4m"})
	if err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, stderr)
	}
	if !strings.Contains(stdout.String(), "| Improvement |") {
		t.Errorf("no seed-layout comparison in output:\n%s", stdout)
	}
	bad, err := bench.Verify(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
	var s bench.Summary
	b, _ := os.ReadFile(filepath.Join(out, bench.FileSummary))
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Groups) != 2 || len(s.Comparisons) != 1 {
		t.Fatalf("groups %d, comparisons %d; want 2 and 1", len(s.Groups), len(s.Comparisons))
	}
	for _, g := range s.Groups {
		if g.Succeeded != 2 || g.Metrics.TTFT.N != 2 {
			t.Errorf("%s: %+v, ttft n %d; want 2 streamed successes", g.Target, g.Counts, g.Metrics.TTFT.N)
		}
		if g.ProfilesServed[g.ProfileRequested] != 2 || g.Deployments["engine-0"] != 2 {
			t.Errorf("%s served by %v / %v; want profile %s on engine-0", g.Target, g.ProfilesServed, g.Deployments, g.ProfileRequested)
		}
	}
	if !strings.Contains(strings.Join(s.Notes, " "), "CountTokens") {
		t.Errorf("notes %q: prompt sizes should be counted with CountTokens", s.Notes)
	}
	env, vout, _ := benchEnv()
	if err := Run(ctx, env, []string{"bench", "verify", out}); err != nil {
		t.Errorf("bench verify: %v\n%s", err, vout)
	}
}
