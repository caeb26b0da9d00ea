package tierbench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/bench"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/local"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/testenv"
)

var (
	tier       = flag.Bool("tier", false, "run the latency-optimized tier benchmark (takes minutes)")
	requests   = flag.Int("tier.requests", 40, "workload items; each is sent once per profile")
	conc       = flag.Int("tier.concurrency", 4, "requests in flight")
	background = flag.Int("tier.background", 4, "streams another tenant keeps running on the loaded engine")
	input      = flag.String("tier.input", "100-2000", "input tokens per request (seed: 100-100k)")
	output     = flag.String("tier.output", "100-300", "output tokens per request (seed: 100-1000)")
	seed       = flag.Uint64("tier.seed", 1, "workload seed")
	outDir     = flag.String("tier.out", "", "directory for requests.jsonl and the report (optional)")
	verbose    = flag.Bool("tier.v", false, "print every request as it finishes")
)

// TestTier runs the benchmark and prints the seed's table.
func TestTier(t *testing.T) {
	if !*tier {
		t.Skip("pass -tier to run the tier benchmark")
	}
	gguf := testenv.GGUF(t)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The fleet: two instances of the built-in engine, one thread each
	// (the machine has two cores). "loaded" has more slots and so twice the
	// weight, but another tenant keeps it busy.
	fast, err := local.New(ctx, local.Config{Path: gguf, Slots: 2, Threads: 1, ContextSize: 4096}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	loaded, err := local.New(ctx, local.Config{Path: gguf, Slots: 4, Threads: 1, ContextSize: 4096}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	model := &routing.Model{ID: "smollm2", Profiles: []llm.Latency{llm.LatencyStandard, llm.LatencyOptimized},
		Deployments: []*routing.Deployment{
			{Name: "engine-a", Type: "local", Provider: fast, Weight: 1, MaxConcurrency: 2, Timeout: 10 * time.Minute},
			{Name: "engine-b", Type: "local", Provider: loaded, Weight: 2, MaxConcurrency: 4, Timeout: 10 * time.Minute},
		}}
	r := routing.New([]*routing.Model{model})

	// Another tenant's traffic on engine-b, for the whole run.
	bgCtx, stopBG := context.WithCancel(ctx)
	var bg sync.WaitGroup
	for i := 0; i < *background; i++ {
		bg.Add(1)
		go func() { // ends when stopBG is called
			defer bg.Done()
			for bgCtx.Err() == nil {
				mt := 400
				s, err := loaded.ConverseStream(bgCtx, &llm.Request{Model: "smollm2",
					Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(fmt.Sprintf("Tenant job %d: write a long story about the sea.", i))}}},
					Inference: llm.InferenceConfig{MaxTokens: &mt}})
				if err != nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				llm.Collect(s)
			}
		}()
	}
	defer func() { stopBG(); bg.Wait() }()

	in, err := bench.ParseRange(*input)
	if err != nil {
		t.Fatal(err)
	}
	out, err := bench.ParseRange(*output)
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := bench.ParseTasks("all")
	b := &bench.Builder{Counter: engineCounter{fast}, Method: "counted:local"}
	items, err := b.Build(ctx, bench.WorkloadSpec{Requests: *requests + 2, Seed: *seed, Tasks: tasks, Input: in, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	client := &routerClient{r: r}
	targets := []bench.Target{
		{Name: "standard", Client: client, Model: "smollm2", Profile: "standard"},
		{Name: "optimized", Client: client, Model: "smollm2", Profile: "optimized"},
	}
	var recs []bench.Record
	temp := 0.0
	info, err := bench.Run(ctx, bench.RunOptions{
		Targets: targets, Items: items, Stream: true, Temperature: &temp,
		Load: bench.Load{Concurrency: *conc, Warmup: 2, MaxTime: 20 * time.Minute},
		OnRecord: func(rec bench.Record) {
			recs = append(recs, rec)
			if *verbose {
				ms := func(p *float64) float64 {
					if p == nil {
						return -1
					}
					return *p
				}
				fmt.Fprintf(os.Stderr, "tier: #%d %s warmup=%v in=%d out=%d ttft=%.0fms otps=%.1f dep=%s err=%s\n",
					rec.Seq, rec.Target, rec.Warmup, rec.InputTokens, rec.OutputTokens, ms(rec.TTFTMs), ms(rec.OTPS), rec.Deployment, rec.Error)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := bench.Summarize(recs, []string{"optimized", "standard"}, "standard")
	sum.Started, sum.Ended, sum.StopReason = info.Started, info.Ended, info.StopReason
	st := r.Stats()
	var rep strings.Builder
	fmt.Fprintf(&rep, "%s\n", seedTable(sum))
	for _, g := range sum.Groups {
		e2e := 0.0
		if g.Metrics.E2E.P50 != nil {
			e2e = *g.Metrics.E2E.P50
		}
		fmt.Fprintf(&rep, "%-9s requests %d ok %d failed %d deployments %v E2E P50 %.2fs\n",
			g.Target, g.Requests, g.Succeeded, g.Failed, g.Deployments, e2e)
	}
	opt := st.Requests[llm.LatencyOptimized]
	fmt.Fprintf(&rep, "hedges: %d of %d optimized requests (%.1f%% extra attempts); retries %d\n",
		st.Hedges, opt, 100*st.HedgeRate, st.Retries)
	for _, d := range st.Deployments {
		fmt.Fprintf(&rep, "%s: attempts %d hedges %d (won %d) ttft_ewma %.0fms p90 %.0fms otps_ewma %.1f\n",
			d.Deployment, d.Attempts, d.Hedges, d.HedgeWins, d.TTFTMs, d.P90TTFTMs, d.OTPS)
	}
	t.Log("\n" + rep.String())
	if *outDir != "" {
		if err := bench.WriteReport(*outDir, sum, recs); err != nil {
			t.Log(err)
		}
		os.WriteFile(*outDir+"/tier.txt", []byte(rep.String()), 0o644)
	}
	for _, g := range sum.Groups {
		if g.Failed > 0 {
			t.Errorf("%s: %d requests failed", g.Target, g.Failed)
		}
	}
}

// seedTable prints the comparison in the seed's layout.
func seedTable(s bench.Summary) string {
	var b strings.Builder
	f := func(p *float64, pct bool) string {
		if p == nil {
			return "-"
		}
		if pct {
			return fmt.Sprintf("%+.2f%%", *p)
		}
		return fmt.Sprintf("%.2f", *p)
	}
	fmt.Fprintf(&b, "| Model | Inference profile | TTFT P50 (s) | TTFT P90 (s) | OTPS P50 | OTPS P90 |\n|---|---|---|---|---|---|\n")
	for _, c := range s.Comparisons {
		for _, row := range []bench.Row{c.CandRow, c.BaseRow} {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", row.Model, row.Profile, f(row.TTFTP50, false), f(row.TTFTP90, false), f(row.OTPSP50, false), f(row.OTPSP90, false))
		}
		i := c.Improvement
		fmt.Fprintf(&b, "| | Improvement | %s | %s | %s | %s |\n", f(i.TTFTP50, true), f(i.TTFTP90, true), f(i.OTPSP50, true), f(i.OTPSP90, true))
	}
	return b.String()
}

// engineCounter counts prompt tokens with the engine's tokenizer.
type engineCounter struct{ e *local.Engine }

func (c engineCounter) CountTokens(ctx context.Context, system, prompt string) (int, error) {
	return c.e.CountTokens(ctx, request("", "", system, prompt, 0, nil))
}

func request(model, profile, system, prompt string, maxTokens int, temp *float64) *llm.Request {
	req := &llm.Request{Model: model, Performance: llm.Latency(profile),
		Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(prompt)}}}}
	if system != "" {
		req.System = []llm.Block{llm.TextBlock(system)}
	}
	if maxTokens > 0 {
		req.Inference.MaxTokens = &maxTokens
	}
	req.Inference.Temperature = temp
	return req
}

// routerClient is a bench.Client that calls the router in process, as the
// gateway's final handler would.
type routerClient struct{ r *routing.Router }

func (c *routerClient) API() string      { return "outcrop-router" }
func (c *routerClient) Endpoint() string { return "in-process" }

func (c *routerClient) Do(ctx context.Context, req bench.Request) (bench.Result, error) {
	var res bench.Result
	call := &gateway.Call{Request: request(req.Model, req.Profile, req.System, req.Prompt, req.MaxTokens, req.Temperature), Stream: true, Received: time.Now()}
	s, err := c.r.Route(ctx, call)
	if err != nil {
		res.End = time.Now()
		return res, &bench.Error{Type: bench.ErrServer, Err: err}
	}
	defer s.Close()
	for {
		ev, err := s.Next()
		now := time.Now()
		if errors.Is(err, io.EOF) {
			res.End = now
			break
		}
		if err != nil {
			res.End = now
			return res, &bench.Error{Type: bench.ErrStream, Err: err}
		}
		switch ev.Type {
		case llm.EventBlockDelta:
			if res.First.IsZero() {
				res.First = now
			}
			res.Last = now
			res.Chunks++
			res.TextBytes += len(ev.Text)
		case llm.EventMetadata:
			if ev.Usage != nil {
				res.InputTokens, res.OutputTokens, res.CachedTokens = ev.Usage.InputTokens, ev.Usage.OutputTokens, ev.Usage.CacheReadInputTokens
				res.UsageReported = true
			}
		}
	}
	sv := call.Served()
	res.ProfileServed, res.Deployment = string(sv.Profile), sv.Deployment
	return res, nil
}
