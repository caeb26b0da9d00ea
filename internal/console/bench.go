package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/bench"
	"github.com/outcrop/outcrop/internal/llm"
)

// benchRoutes run `outcrop bench` from the admin API: start a run against
// an endpoint (progress by polling), list the saved runs, get one with its
// table and chart data, compare two. Runs are written as the CLI writes
// them (requests.jsonl, summary.json, charts, report.html) under Admin.BenchDir.
type benchRoutes struct {
	g         *Admin
	authorize func(r *http.Request, action, resource string) error
	readBody  func(r *http.Request) ([]byte, error)
}

// BenchRequest is the body of POST /admin/v1/bench/runs.
type BenchRequest struct {
	// API is bedrock (Converse/ConverseStream) or openai (chat completions).
	API string `json:"api"`
	// Endpoint is the base URL of the server measured.
	Endpoint string `json:"endpoint"`
	// APIKey authenticates to the endpoint (a Bedrock API key or an OpenAI
	// key, sent as a bearer token); it is not stored with the run.
	APIKey string `json:"apiKey"`
	// Models and Profiles are crossed into targets (profiles: standard,
	// optimized; none means the endpoint's default).
	Models   []string `json:"models"`
	Profiles []string `json:"profiles"`
	// Requests per target (1–1000), Concurrency (1–64), Warmup (0–100).
	Requests    int `json:"requests"`
	Concurrency int `json:"concurrency"`
	Warmup      int `json:"warmup"`
	// Tasks is the task mix ("all", or e.g. "chat=2,summarize"),
	// InputTokens and OutputTokens ranges such as "256" or "100-400".
	Tasks        string `json:"tasks"`
	InputTokens  string `json:"inputTokens"`
	OutputTokens string `json:"outputTokens"`
	// Stream measures TTFT/OTPS (default true).
	Stream *bool `json:"stream"`
	// MaxTime bounds the run (default 10m, at most 1h).
	MaxTime string `json:"maxTime"`
	// Seed makes the workload reproducible (default 1).
	Seed uint64 `json:"seed"`
}

// BenchPlan is a validated BenchRequest.
type BenchPlan struct {
	BenchRequest
	mix           []bench.TaskWeight
	input, output bench.Range
	maxTime       time.Duration
	stream        bool
}

var benchModelPattern = regexp.MustCompile(`^[A-Za-z0-9._:/@+-]{1,256}$`)

// ParseBenchRequest decodes and checks a bench run request.
func ParseBenchRequest(b []byte) (BenchPlan, error) {
	var p BenchPlan
	if err := decodeBody(b, &p.BenchRequest); err != nil {
		return p, err
	}
	bad := func(format string, a ...any) (BenchPlan, error) {
		return p, llm.Errorf(llm.KindValidation, format, a...)
	}
	if p.API != "bedrock" && p.API != "openai" {
		return bad("api must be bedrock or openai")
	}
	u, err := url.Parse(p.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(p.Endpoint) > 2048 {
		return bad("endpoint must be an http(s) URL")
	}
	if len(p.Models) == 0 || len(p.Models) > 8 {
		return bad("models must list 1 to 8 model IDs")
	}
	for _, m := range p.Models {
		if !benchModelPattern.MatchString(m) {
			return bad("model %q is not a model ID", m)
		}
	}
	if len(p.Profiles) > 2 {
		return bad("profiles: at most standard and optimized")
	}
	for _, pr := range p.Profiles {
		if pr != "standard" && pr != "optimized" {
			return bad("profile %q: use standard or optimized", pr)
		}
	}
	if p.Requests == 0 {
		p.Requests = 20
	}
	if p.Concurrency == 0 {
		p.Concurrency = 1
	}
	if p.Requests < 1 || p.Requests > 1000 || p.Concurrency < 1 || p.Concurrency > 64 || p.Warmup < 0 || p.Warmup > 100 {
		return bad("requests must be 1-1000, concurrency 1-64, warmup 0-100")
	}
	if p.mix, err = bench.ParseTasks(p.Tasks); err != nil {
		return bad("tasks: %v", err)
	}
	if p.InputTokens == "" {
		p.InputTokens = "256"
	}
	if p.OutputTokens == "" {
		p.OutputTokens = "64"
	}
	if p.input, err = bench.ParseRange(p.InputTokens); err != nil {
		return bad("inputTokens: %v", err)
	}
	if p.output, err = bench.ParseRange(p.OutputTokens); err != nil {
		return bad("outputTokens: %v", err)
	}
	p.maxTime = 10 * time.Minute
	if p.MaxTime != "" {
		d, err := time.ParseDuration(p.MaxTime)
		if err != nil || d < time.Second || d > time.Hour {
			return bad("maxTime must be a duration from 1s to 1h")
		}
		p.maxTime = d
	}
	if p.Seed == 0 {
		p.Seed = 1
	}
	p.stream = p.Stream == nil || *p.Stream
	return p, nil
}

// benchRuns tracks the runs this replica is executing.
type benchRuns struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]*benchRun
}

// benchRun is one run in progress.
type benchRun struct {
	// mu guards the fields below.
	mu       sync.Mutex
	done     int
	failed   int
	planned  int
	finished bool
	err      string
	cancel   context.CancelFunc
	// targets and started are set at creation and never change.
	targets []string
	started time.Time
}

// BenchRunJSON is a run in the list, or its progress.
type BenchRunJSON struct {
	ID        string    `json:"runId"`
	State     string    `json:"state"` // running, done, failed, interrupted
	Started   time.Time `json:"startedAt,omitzero"`
	Ended     time.Time `json:"endedAt,omitzero"`
	Done      int       `json:"done"`
	Failed    int       `json:"failed"`
	Planned   int       `json:"planned"`
	Error     string    `json:"error,omitempty"`
	Targets   []string  `json:"targets"`
	StopCause string    `json:"stopReason,omitempty"`
}

var runIDPattern = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}-[a-z0-9_-]{4,16}$`)

func (b *benchRoutes) dir() (string, error) {
	if b.g.BenchDir == "" {
		return "", llm.Errorf(llm.KindNotFound, "benchmarks are not enabled on this server")
	}
	return b.g.BenchDir, nil
}

// start begins a run in the background and answers 202 with its ID.
func (b *benchRoutes) start(w http.ResponseWriter, r *http.Request) error {
	body, err := b.readBody(r)
	if err != nil {
		return err
	}
	p, err := ParseBenchRequest(body)
	if err != nil {
		return err
	}
	if err := b.authorize(r, "outcrop:StartBenchRun", "*"); err != nil {
		return err
	}
	dir, err := b.dir()
	if err != nil {
		return err
	}
	id := time.Now().UTC().Format("20060102-150405") + "-" + strings.ToLower(randomToken(6))
	id = strings.Map(func(c rune) rune {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' {
			return c
		}
		return 'x'
	}, id)
	out := filepath.Join(dir, id)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	run := &benchRun{cancel: cancel, planned: p.Requests * len(p.Models) * max(1, len(p.Profiles)), targets: targetNames(p), started: time.Now().UTC()}
	b.g.bench.mu.Lock()
	b.g.bench.m[id] = run
	b.g.bench.mu.Unlock()
	go func() { // ends when the run does: finished, its maxTime, or DELETE
		defer cancel()
		err := runBench(ctx, p, out, run)
		run.mu.Lock()
		run.finished = true
		if err != nil {
			run.err = err.Error()
		}
		run.mu.Unlock()
		if err != nil {
			b.g.Logger.Warn("bench run failed", "component", "console", "run", id, "error", err)
		}
	}()
	writeJSON(w, http.StatusAccepted, BenchRunJSON{ID: id, State: "running", Started: time.Now().UTC(), Planned: run.planned, Targets: targetNames(p)})
	return nil
}

func targetNames(p BenchPlan) []string {
	var out []string
	profiles := p.Profiles
	if len(profiles) == 0 {
		profiles = []string{""}
	}
	for _, m := range p.Models {
		for _, pr := range profiles {
			name := m
			if len(p.Models) == 1 && pr != "" {
				name = pr
			} else if pr != "" {
				name = m + "/" + pr
			}
			out = append(out, name)
		}
	}
	return out
}

// runBench runs the plan as `outcrop bench` does, writing into out.
func runBench(ctx context.Context, p BenchPlan, out string, run *benchRun) error {
	var client bench.Client
	if p.API == "bedrock" {
		c, err := bench.NewBedrock(ctx, bench.BedrockOptions{Endpoint: p.Endpoint, BearerToken: p.APIKey})
		if err != nil {
			return err
		}
		client = c
	} else {
		client = bench.NewOpenAI(bench.OpenAIOptions{Endpoint: p.Endpoint, APIKey: p.APIKey})
	}
	names := targetNames(p)
	var targets []bench.Target
	i := 0
	profiles := p.Profiles
	if len(profiles) == 0 {
		profiles = []string{""}
	}
	for _, m := range p.Models {
		for _, pr := range profiles {
			targets = append(targets, bench.Target{Name: names[i], Client: client, Model: m, Profile: pr})
			i++
		}
	}
	items, err := (&bench.Builder{}).Build(ctx, bench.WorkloadSpec{Requests: p.Requests + p.Warmup, Seed: p.Seed, Tasks: p.mix, Input: p.input, Output: p.output})
	if err != nil {
		return fmt.Errorf("build prompts: %w", err)
	}
	rec, err := bench.NewRecorder(out)
	if err != nil {
		return err
	}
	info, runErr := bench.Run(ctx, bench.RunOptions{
		Targets: targets, Items: items, Stream: p.stream, DistinctPrompts: true,
		Load: bench.Load{Concurrency: p.Concurrency, MaxTime: p.maxTime, Warmup: p.Warmup},
		OnRecord: func(r bench.Record) {
			rec.Add(r)
			if r.Warmup {
				return
			}
			run.mu.Lock()
			run.done++
			if r.Error != "" {
				run.failed++
			}
			run.mu.Unlock()
		},
	})
	if err := rec.Close(); err != nil {
		return err
	}
	notes := []string{"Started from the console (admin API); prompt sizes are estimated (4 bytes per token)."}
	cfg := map[string]any{"api": p.API, "endpoint": p.Endpoint, "models": p.Models, "profiles": p.Profiles, "requests": p.Requests,
		"concurrency": p.Concurrency, "warmup": p.Warmup, "tasks": p.Tasks, "input_tokens": p.InputTokens, "output_tokens": p.OutputTokens,
		"stream": p.stream, "seed": p.Seed}
	meta := bench.Summary{Started: info.Started, Ended: info.Ended, Interrupted: info.Interrupted, StopReason: info.StopReason,
		Planned: info.Planned, Notes: notes, Config: cfg}
	if _, err := bench.Report(out, meta, names, ""); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return runErr
}

// list answers the saved runs, newest first, with the ones in progress.
func (b *benchRoutes) list(w http.ResponseWriter, r *http.Request) error {
	if err := b.authorize(r, "outcrop:ListBenchRuns", "*"); err != nil {
		return err
	}
	dir, err := b.dir()
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return &llm.Error{Kind: llm.KindInternal, Err: err}
	}
	out := []BenchRunJSON{}
	seen := map[string]bool{}
	for _, e := range ents {
		if !e.IsDir() || !runIDPattern.MatchString(e.Name()) {
			continue
		}
		out = append(out, b.status(dir, e.Name()))
		seen[e.Name()] = true
	}
	var running []string // started here but with no folder yet
	b.g.bench.mu.Lock()
	for id := range b.g.bench.m {
		if !seen[id] {
			running = append(running, id)
		}
	}
	b.g.bench.mu.Unlock()
	for _, id := range running {
		out = append(out, b.status(dir, id))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	writeJSON(w, http.StatusOK, map[string]any{"runs": out})
	return nil
}

// status describes a run: in progress here, or finished on disk.
func (b *benchRoutes) status(dir, id string) BenchRunJSON {
	s := BenchRunJSON{ID: id, Targets: []string{}}
	b.g.bench.mu.Lock()
	run := b.g.bench.m[id]
	b.g.bench.mu.Unlock()
	if run != nil {
		run.mu.Lock()
		s.Done, s.Failed, s.Planned, s.Error = run.done, run.failed, run.planned, run.err
		s.Targets, s.Started = run.targets, run.started
		s.State = "running"
		finished := run.finished
		if finished {
			s.State = "done"
			if run.err != "" {
				s.State = "failed"
			}
		}
		run.mu.Unlock()
		if !finished {
			return s
		}
	}
	_, sum, err := bench.LoadRun(filepath.Join(dir, id))
	if err != nil {
		if s.State == "" {
			s.State, s.Error = "failed", "unreadable result folder"
		}
		return s
	}
	s.Started, s.Ended, s.StopCause = sum.Started, sum.Ended, sum.StopReason
	if s.State == "" {
		s.State = "done"
	}
	if sum.Interrupted && s.State == "done" {
		s.State = "interrupted"
	}
	if s.Planned == 0 {
		s.Planned = sum.Planned
	}
	s.Targets = []string{}
	for _, g := range sum.Groups {
		s.Targets = append(s.Targets, g.Target)
		if run == nil {
			s.Done += g.Requests
			s.Failed += g.Failed
		}
	}
	return s
}

// get answers one run: its progress and, once written, its summary (the
// seed's table as comparisons, every group's metrics and breakdowns) and
// the chart series (per-request TTFT, OTPS and E2E by target).
func (b *benchRoutes) get(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !runIDPattern.MatchString(id) {
		return llm.Errorf(llm.KindValidation, "run ID %q is not one this server issued", truncate(id, 64))
	}
	if err := b.authorize(r, "outcrop:GetBenchRun", "*"); err != nil {
		return err
	}
	dir, err := b.dir()
	if err != nil {
		return err
	}
	st := b.status(dir, id)
	recs, sum, err := bench.LoadRun(filepath.Join(dir, id))
	if err != nil {
		if st.State == "running" {
			writeJSON(w, http.StatusOK, map[string]any{"run": st})
			return nil
		}
		return llm.Errorf(llm.KindNotFound, "no bench run %s", id)
	}
	body := map[string]any{"run": st, "summary": sum, "series": chartSeries(recs)}
	if t, err := os.ReadFile(filepath.Join(dir, id, bench.FileSummary)); err == nil && !json.Valid(t) {
		return &llm.Error{Kind: llm.KindInternal, Err: fmt.Errorf("bench run %s: summary.json is not JSON", id)}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// SeriesPoint is one measured request in a run's chart data.
type SeriesPoint struct {
	Seq    int      `json:"seq"`
	TTFTMs *float64 `json:"ttftMs"`
	OTPS   *float64 `json:"otps"`
	E2EMs  *float64 `json:"e2eMs"`
	Error  string   `json:"error,omitempty"`
}

func chartSeries(recs []bench.Record) map[string][]SeriesPoint {
	out := map[string][]SeriesPoint{}
	for _, r := range recs {
		if r.Warmup {
			continue
		}
		out[r.Target] = append(out[r.Target], SeriesPoint{Seq: r.Seq, TTFTMs: r.TTFTMs, OTPS: r.OTPS, E2EMs: r.E2EMs, Error: r.Error})
	}
	return out
}

// compare answers two saved runs side by side, as `outcrop bench compare`.
func (b *benchRoutes) compare(w http.ResponseWriter, r *http.Request) error {
	a, c := r.URL.Query().Get("a"), r.URL.Query().Get("b")
	if !runIDPattern.MatchString(a) || !runIDPattern.MatchString(c) {
		return llm.Errorf(llm.KindValidation, "a and b must be run IDs")
	}
	if err := b.authorize(r, "outcrop:GetBenchRun", "*"); err != nil {
		return err
	}
	dir, err := b.dir()
	if err != nil {
		return err
	}
	ra, _, errA := bench.LoadRun(filepath.Join(dir, a))
	rb, _, errB := bench.LoadRun(filepath.Join(dir, c))
	if errA != nil || errB != nil {
		return llm.Errorf(llm.KindNotFound, "both runs must exist and have finished")
	}
	writeJSON(w, http.StatusOK, map[string]any{"summary": bench.CompareRuns(ra, rb, "A", "B")})
	return nil
}

// stop cancels a run in progress; the records so far are kept.
func (b *benchRoutes) stop(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !runIDPattern.MatchString(id) {
		return llm.Errorf(llm.KindValidation, "run ID %q is not one this server issued", truncate(id, 64))
	}
	if err := b.authorize(r, "outcrop:StartBenchRun", "*"); err != nil {
		return err
	}
	b.g.bench.mu.Lock()
	run := b.g.bench.m[id]
	b.g.bench.mu.Unlock()
	if run == nil {
		return llm.Errorf(llm.KindNotFound, "no bench run %s in progress here", id)
	}
	run.cancel()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
