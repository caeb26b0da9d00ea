package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/outcrop/outcrop/internal/bench"
)

func init() {
	register("bench", "measure TTFT, OTPS and E2E of a Bedrock or OpenAI endpoint (and compare runs)", runBench)
}

const benchSynopsis = `bench --endpoint URL --model ID [flags]
       outcrop bench compare DIR_A DIR_B [--out DIR]
       outcrop bench verify DIR`

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// benchTarget is one target as given by flags or the workload file.
type benchTarget struct {
	Name     string `yaml:"name"`
	API      string `yaml:"api"`
	Endpoint string `yaml:"endpoint"`
	Model    string `yaml:"model"`
	Profile  string `yaml:"profile"`
	Region   string `yaml:"region"`
}

// workloadFile is the YAML accepted by --workload. Keys mirror the flags.
type workloadFile struct {
	Seed         *uint64       `yaml:"seed"`
	Requests     *int          `yaml:"requests"`
	Concurrency  *int          `yaml:"concurrency"`
	Rate         *float64      `yaml:"rate"`
	Duration     *string       `yaml:"duration"`
	MaxTime      *string       `yaml:"max_time"`
	Warmup       *int          `yaml:"warmup"`
	Stream       *bool         `yaml:"stream"`
	Temperature  *float64      `yaml:"temperature"`
	Tasks        yaml.Node     `yaml:"tasks"`
	InputTokens  *string       `yaml:"input_tokens"`
	OutputTokens *string       `yaml:"output_tokens"`
	Prompts      *string       `yaml:"prompts"`
	Baseline     *string       `yaml:"baseline"`
	Targets      []benchTarget `yaml:"targets"`
}

// benchConfig is the resolved configuration of a run.
type benchConfig struct {
	targets     []benchTarget
	seed        uint64
	requests    int
	concurrency int
	rate        float64
	duration    time.Duration
	maxTime     time.Duration
	warmup      int
	stream      bool
	temperature float64
	tasks       string
	input       string
	output      string
	prompts     string
	baseline    string
	out         string
	countTokens bool
	// countEndpoint, when set, is a Bedrock endpoint whose CountTokens
	// sizes the prompts; countModel is the model it counts for.
	countEndpoint string
	countModel    string
	apiKey        string
	bearer        string
	showProgress  string
	distinct      bool
}

func runBench(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "compare" {
		return runBenchCompare(ctx, env, args[1:])
	}
	if len(args) > 0 && args[0] == "verify" {
		return runBenchVerify(env, args[1:])
	}
	fs := newFlagSet(env, "bench", benchSynopsis)
	var endpoints, models, profiles, targetSpecs multiFlag
	fs.Var(&endpoints, "endpoint", "base URL of the endpoint (repeatable); default: the region's AWS Bedrock endpoint")
	api := fs.String("api", "", "wire API: bedrock|openai (default: openai when the URL ends in /v1, else bedrock)")
	fs.Var(&models, "model", "model ID (repeatable)")
	fs.Var(&profiles, "profile", "performanceConfig.latency to request: standard|optimized (repeatable)")
	fs.Var(&targetSpecs, "target", "extra target as name=N,api=A,endpoint=URL,model=M,profile=P (repeatable)")
	region := fs.String("region", firstNonEmpty(env.Getenv("AWS_REGION"), env.Getenv("AWS_DEFAULT_REGION"), "us-east-1"), "AWS region (part of the SigV4 signature)")
	requests := fs.Int("requests", 20, "measured requests per target")
	concurrency := fs.Int("concurrency", 1, "requests in flight (closed loop); with --rate, the in-flight cap (0: none)")
	rate := fs.Float64("rate", 0, "fixed arrival rate in requests per second (open loop); 0: closed loop")
	duration := fs.Duration("duration", 0, "stop starting requests after this long (0: no bound)")
	maxTime := fs.Duration("max-time", 30*time.Minute, "hard time limit: cancel whatever is still running")
	warmup := fs.Int("warmup", 1, "warm-up requests per target, not measured")
	stream := fs.Bool("stream", true, "use ConverseStream / SSE streaming (TTFT and OTPS need it)")
	temperature := fs.Float64("temperature", 0, "sampling temperature; negative: leave to the server")
	tasks := fs.String("tasks", "all", "task mix: all, or a list like sequence-counting,story-writing or summarization=2,translation=1")
	input := fs.String("input-tokens", "100-1000", "prompt sizes: N, A-B (log-uniform) or A,B,C (cycled)")
	output := fs.String("output-tokens", "100-300", "maxTokens: N, A-B (uniform) or A,B,C (cycled)")
	workload := fs.String("workload", "", "YAML workload file (flags given on the command line override it)")
	prompts := fs.String("prompts", "", "JSONL file of custom prompts {\"prompt\",\"system\",\"max_tokens\",\"task\"} instead of the built-in tasks")
	seed := fs.Uint64("seed", 1, "seed of the generated prompts")
	out := fs.String("out", "", "output directory (default bench-results/<time>)")
	baseline := fs.String("baseline", "", "target every other target is compared with (default: standard vs optimized pairs, else the first)")
	countTokens := fs.Bool("count-tokens", true, "size prompts with the endpoint's CountTokens (Bedrock API); else estimate")
	countEndpoint := fs.String("count-endpoint", "", "size prompts with CountTokens of this Bedrock endpoint instead (e.g. to give an OpenAI target the same prompts as an earlier Bedrock run)")
	countModel := fs.String("count-model", "", "model for --count-endpoint (default: the first target's model)")
	progress := fs.String("progress", "auto", "progress display: auto|bar|log|off")
	distinct := fs.Bool("distinct-prompts", false, "prefix each prompt with its target and item so that targets behind one server share no prompt cache")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	cfg := benchConfig{
		seed: *seed, requests: *requests, concurrency: *concurrency, rate: *rate, duration: *duration,
		maxTime: *maxTime, warmup: *warmup, stream: *stream, temperature: *temperature, tasks: *tasks,
		input: *input, output: *output, prompts: *prompts, baseline: *baseline, out: *out,
		countTokens: *countTokens, countEndpoint: *countEndpoint, countModel: *countModel, apiKey: env.Getenv("OPENAI_API_KEY"),
		bearer: env.Getenv("AWS_BEARER_TOKEN_BEDROCK"), showProgress: *progress, distinct: *distinct,
	}
	if *workload != "" {
		wf, err := loadWorkloadFile(*workload)
		if err != nil {
			return err
		}
		if err := cfg.applyFile(wf, *workload, set); err != nil {
			return err
		}
	}
	for _, spec := range targetSpecs {
		t, err := parseTargetSpec(spec)
		if err != nil {
			return fmt.Errorf("--target %q: %v: %w", spec, err, ErrUsage)
		}
		cfg.targets = append(cfg.targets, t)
	}
	if len(models) > 0 || len(cfg.targets) == 0 {
		cfg.targets = append(cfg.targets, crossTargets(endpoints, *api, models, profiles)...)
	}
	for i := range cfg.targets {
		t := &cfg.targets[i]
		if t.Region == "" {
			t.Region = *region
		}
		if t.API == "" {
			t.API = guessAPI(t.Endpoint)
		}
		if t.API != "bedrock" && t.API != "openai" {
			return fmt.Errorf("api %q: want bedrock or openai: %w", t.API, ErrUsage)
		}
		if t.Model == "" {
			return fmt.Errorf("no model: give --model ID: %w", ErrUsage)
		}
		if t.Profile != "" && t.Profile != "standard" && t.Profile != "optimized" {
			return fmt.Errorf("profile %q: want standard or optimized: %w", t.Profile, ErrUsage)
		}
		if t.API == "openai" && t.Endpoint == "" {
			return fmt.Errorf("--api openai needs --endpoint: %w", ErrUsage)
		}
	}
	nameTargets(cfg.targets)
	if cfg.requests < 1 || cfg.concurrency < 0 || cfg.rate < 0 || cfg.warmup < 0 {
		return fmt.Errorf("--requests must be ≥1; --concurrency, --rate, --warmup ≥0: %w", ErrUsage)
	}
	if cfg.out == "" {
		cfg.out = filepath.Join("bench-results", time.Now().UTC().Format("20060102-150405"))
	}
	return cfg.run(ctx, env)
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func guessAPI(endpoint string) string {
	if strings.HasSuffix(strings.TrimRight(endpoint, "/"), "/v1") {
		return "openai"
	}
	return "bedrock"
}

// crossTargets makes one target per endpoint × model × profile.
func crossTargets(endpoints []string, api string, models, profiles []string) []benchTarget {
	if len(endpoints) == 0 {
		endpoints = []string{""}
	}
	if len(models) == 0 {
		models = []string{""}
	}
	if len(profiles) == 0 {
		profiles = []string{""}
	}
	var out []benchTarget
	for _, e := range endpoints {
		for _, m := range models {
			for _, p := range profiles {
				out = append(out, benchTarget{API: api, Endpoint: e, Model: m, Profile: p})
			}
		}
	}
	return out
}

// nameTargets labels unnamed targets by what distinguishes them.
func nameTargets(ts []benchTarget) {
	varies := func(f func(benchTarget) string) bool {
		for _, t := range ts {
			if f(t) != f(ts[0]) {
				return true
			}
		}
		return false
	}
	epVaries := varies(func(t benchTarget) string { return t.API + t.Endpoint })
	seen := map[string]int{}
	for i := range ts {
		t := &ts[i]
		if t.Name == "" {
			parts := []string{}
			if epVaries {
				host := strings.TrimPrefix(strings.TrimPrefix(t.Endpoint, "http://"), "https://")
				parts = append(parts, t.API+"@"+strings.TrimSuffix(host, "/"))
			}
			parts = append(parts, t.Model)
			if t.Profile != "" {
				parts = append(parts, t.Profile)
			}
			t.Name = strings.Join(parts, "/")
		}
		seen[t.Name]++
		if seen[t.Name] > 1 {
			t.Name += "#" + strconv.Itoa(seen[t.Name])
		}
	}
}

func parseTargetSpec(spec string) (benchTarget, error) {
	var t benchTarget
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return t, fmt.Errorf("%q is not key=value", kv)
		}
		switch strings.TrimSpace(k) {
		case "name":
			t.Name = v
		case "api":
			t.API = v
		case "endpoint":
			t.Endpoint = v
		case "model":
			t.Model = v
		case "profile":
			t.Profile = v
		case "region":
			t.Region = v
		default:
			return t, fmt.Errorf("unknown key %q", k)
		}
	}
	return t, nil
}

// loadWorkloadFile parses a workload file strictly: unknown keys and wrong
// types are errors with the file's line number.
func loadWorkloadFile(path string) (*workloadFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("workload file: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	var wf workloadFile
	if err := dec.Decode(&wf); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("workload file %s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return &wf, nil
}

// applyFile takes the file's values for every flag not set on the command line.
func (c *benchConfig) applyFile(wf *workloadFile, path string, set map[string]bool) error {
	bad := func(key string, err error) error {
		return fmt.Errorf("workload file %s: %s: %v", path, key, err)
	}
	if wf.Seed != nil && !set["seed"] {
		c.seed = *wf.Seed
	}
	if wf.Requests != nil && !set["requests"] {
		c.requests = *wf.Requests
	}
	if wf.Concurrency != nil && !set["concurrency"] {
		c.concurrency = *wf.Concurrency
	}
	if wf.Rate != nil && !set["rate"] {
		c.rate = *wf.Rate
	}
	for _, d := range []struct {
		v    *string
		flag string
		dst  *time.Duration
	}{{wf.Duration, "duration", &c.duration}, {wf.MaxTime, "max-time", &c.maxTime}} {
		if d.v != nil && !set[d.flag] {
			v, err := time.ParseDuration(*d.v)
			if err != nil {
				return bad(strings.ReplaceAll(d.flag, "-", "_"), err)
			}
			*d.dst = v
		}
	}
	if wf.Warmup != nil && !set["warmup"] {
		c.warmup = *wf.Warmup
	}
	if wf.Stream != nil && !set["stream"] {
		c.stream = *wf.Stream
	}
	if wf.Temperature != nil && !set["temperature"] {
		c.temperature = *wf.Temperature
	}
	if wf.Tasks.Kind != 0 && !set["tasks"] {
		switch wf.Tasks.Kind {
		case yaml.ScalarNode:
			c.tasks = wf.Tasks.Value
		case yaml.SequenceNode:
			var list []string
			if err := wf.Tasks.Decode(&list); err != nil {
				return bad("tasks", err)
			}
			c.tasks = strings.Join(list, ",")
		case yaml.MappingNode:
			var parts []string
			for i := 0; i+1 < len(wf.Tasks.Content); i += 2 {
				parts = append(parts, wf.Tasks.Content[i].Value+"="+wf.Tasks.Content[i+1].Value)
			}
			c.tasks = strings.Join(parts, ",")
		default:
			return bad("tasks", fmt.Errorf("line %d: want a list, a mapping of weights or a string", wf.Tasks.Line))
		}
		if _, err := bench.ParseTasks(c.tasks); err != nil {
			return bad("tasks", fmt.Errorf("line %d: %v", wf.Tasks.Line, err))
		}
	}
	if wf.InputTokens != nil && !set["input-tokens"] {
		c.input = *wf.InputTokens
	}
	if wf.OutputTokens != nil && !set["output-tokens"] {
		c.output = *wf.OutputTokens
	}
	if wf.Prompts != nil && !set["prompts"] {
		p := *wf.Prompts
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		c.prompts = p
	}
	if wf.Baseline != nil && !set["baseline"] {
		c.baseline = *wf.Baseline
	}
	if !set["endpoint"] && !set["model"] && !set["profile"] {
		c.targets = append(c.targets, wf.Targets...)
	}
	return nil
}

func (c *benchConfig) run(ctx context.Context, env *Env) error {
	mix, err := bench.ParseTasks(c.tasks)
	if err != nil {
		return fmt.Errorf("--tasks: %v: %w", err, ErrUsage)
	}
	inR, err := bench.ParseRange(c.input)
	if err != nil {
		return fmt.Errorf("--input-tokens: %v: %w", err, ErrUsage)
	}
	outR, err := bench.ParseRange(c.output)
	if err != nil {
		return fmt.Errorf("--output-tokens: %v: %w", err, ErrUsage)
	}
	var custom []bench.CustomPrompt
	if c.prompts != "" {
		if custom, err = bench.ReadPrompts(c.prompts); err != nil {
			return err
		}
	}

	// Clients, one per distinct endpoint.
	targets := make([]bench.Target, len(c.targets))
	var counter bench.TokenCounter
	counterMethod := ""
	clients := map[string]bench.Client{}
	for i, t := range c.targets {
		key := t.API + " " + t.Endpoint + " " + t.Region
		cl, ok := clients[key]
		if !ok {
			switch t.API {
			case "bedrock":
				b, err := bench.NewBedrock(ctx, bench.BedrockOptions{Endpoint: t.Endpoint, Region: t.Region, BearerToken: c.bearer})
				if err != nil {
					return err
				}
				cl = b
			default:
				cl = bench.NewOpenAI(bench.OpenAIOptions{Endpoint: t.Endpoint, APIKey: c.apiKey})
			}
			clients[key] = cl
		}
		if b, ok := cl.(*bench.Bedrock); ok && counter == nil && c.countTokens {
			counter = b.Counter(t.Model)
			counterMethod = "counted:bedrock CountTokens " + t.Model
		}
		targets[i] = bench.Target{Name: t.Name, Client: cl, Model: t.Model, Profile: t.Profile}
	}

	if c.countEndpoint != "" && c.countTokens {
		b, err := bench.NewBedrock(ctx, bench.BedrockOptions{Endpoint: c.countEndpoint, Region: c.targets[0].Region, BearerToken: c.bearer})
		if err != nil {
			return err
		}
		model := firstNonEmpty(c.countModel, c.targets[0].Model)
		counter, counterMethod = b.Counter(model), "counted:bedrock CountTokens "+model
	}

	// Workload: warm-up items first, then the measured ones.
	stderr := env.Stderr
	fmt.Fprintf(stderr, "bench: building %d prompts (seed %d)\n", c.requests+c.warmup, c.seed)
	builder := &bench.Builder{Counter: counter, Method: counterMethod}
	items, err := builder.Build(ctx, bench.WorkloadSpec{
		Requests: c.requests + c.warmup, Seed: c.seed, Tasks: mix, Input: inR, Output: outR, Prompts: custom,
	})
	if err != nil {
		return fmt.Errorf("build prompts: %w", err)
	}
	var notes []string
	switch {
	case counter == nil:
		notes = append(notes, "Prompt sizes are estimated (4 bytes per token): the endpoint's API has no token counter.")
	case builder.FellBack() != nil:
		notes = append(notes, fmt.Sprintf("Prompt sizes are estimated (4 bytes per token): CountTokens failed (%v).", builder.FellBack()))
		fmt.Fprintf(stderr, "bench: CountTokens unavailable, estimating prompt sizes: %v\n", builder.FellBack())
	default:
		notes = append(notes, "Prompt sizes were measured with CountTokens on "+counterMethod[len("counted:bedrock CountTokens "):]+".")
	}
	if !c.stream {
		notes = append(notes, "Non-streaming run: TTFT, TTLT, OTPS and ITL are not measurable; only E2E is reported.")
	}

	rec, err := bench.NewRecorder(c.out)
	if err != nil {
		return err
	}
	var temp *float64
	if c.temperature >= 0 {
		temp = &c.temperature
	}
	prog := newProgress(env, c.showProgress, c.requests*len(targets))
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	fmt.Fprintf(stderr, "bench: %d targets × %d requests (+%d warm-up), writing %s\n", len(targets), c.requests, c.warmup, c.out)
	info, runErr := bench.Run(ctx, bench.RunOptions{
		Targets: targets, Items: items, Stream: c.stream, Temperature: temp, DistinctPrompts: c.distinct,
		Load: bench.Load{Concurrency: c.concurrency, Rate: c.rate, Duration: c.duration, MaxTime: c.maxTime, Warmup: c.warmup},
		OnRecord: func(r bench.Record) {
			rec.Add(r)
			prog.record(r)
		},
	})
	prog.finish()
	if err := rec.Close(); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(c.out, bench.FileRequests), err)
	}
	meta := bench.Summary{Started: info.Started, Ended: info.Ended, Interrupted: info.Interrupted,
		StopReason: info.StopReason, Planned: info.Planned, Notes: notes, Config: c.describe()}
	sum, err := bench.Report(c.out, meta, names, c.baseline)
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	w := env.Stdout
	if len(sum.Comparisons) > 0 {
		fmt.Fprintln(w, bench.SeedTable(sum.Comparisons))
	}
	fmt.Fprint(w, bench.OverviewTable(sum))
	fmt.Fprintf(w, "\nPercentiles: %s.\nResults: %s (requests.jsonl, summary.json/.csv/.md, charts, report.html)\n", bench.PercentileMethod, c.out)
	if runErr != nil {
		return fmt.Errorf("%w; partial results kept in %s", runErr, c.out)
	}
	if info.StopReason == "interrupted" || info.StopReason == "time-limit" {
		return fmt.Errorf("run %s before finishing; partial results kept in %s", map[string]string{
			"interrupted": "interrupted", "time-limit": "hit --max-time"}[info.StopReason], c.out)
	}
	return nil
}

func (c *benchConfig) describe() map[string]any {
	ts := make([]map[string]string, len(c.targets))
	for i, t := range c.targets {
		ts[i] = map[string]string{"name": t.Name, "api": t.API, "endpoint": t.Endpoint, "model": t.Model, "profile": t.Profile, "region": t.Region}
	}
	return map[string]any{
		"targets": ts, "seed": c.seed, "requests": c.requests, "concurrency": c.concurrency, "rate": c.rate,
		"duration": c.duration.String(), "max_time": c.maxTime.String(), "warmup": c.warmup, "stream": c.stream,
		"temperature": c.temperature, "tasks": c.tasks, "input_tokens": c.input, "output_tokens": c.output,
		"prompts": c.prompts, "baseline": c.baseline, "distinct_prompts": c.distinct,
	}
}

// progress shows a bar on a terminal and one log line per request otherwise.
type progress struct {
	mu      sync.Mutex // guards the fields below
	w       io.Writer
	mode    string // bar | log | off
	total   int
	done    int
	errs    int
	started time.Time
}

func newProgress(env *Env, mode string, total int) *progress {
	if mode == "auto" {
		mode = "log"
		if f, ok := env.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	return &progress{w: env.Stderr, mode: mode, total: total, started: time.Now()}
}

func (p *progress) record(r bench.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !r.Warmup {
		p.done++
		if !r.OK() && r.ErrorType != bench.ErrCanceled {
			p.errs++
		}
	}
	switch p.mode {
	case "bar":
		const width = 30
		filled := 0
		if p.total > 0 {
			filled = min(width, p.done*width/p.total)
		}
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d  errors %d  %s ", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			p.done, p.total, p.errs, time.Since(p.started).Round(time.Second))
	case "log":
		what := "ok"
		if !r.OK() {
			what = "error " + r.ErrorType
		}
		ms := func(v *float64) string {
			if v == nil {
				return "-"
			}
			return strconv.FormatFloat(*v/1000, 'f', 3, 64) + "s"
		}
		otps := "-"
		if r.OTPS != nil {
			otps = strconv.FormatFloat(*r.OTPS, 'f', 1, 64)
		}
		tag := fmt.Sprintf("%d/%d", p.done, p.total)
		if r.Warmup {
			tag = "warm-up"
		}
		fmt.Fprintf(p.w, "bench: %s target=%s task=%s in=%d out=%d ttft=%s e2e=%s otps=%s %s\n", tag, r.Target, r.Task,
			r.InputLength(), r.OutputTokens, ms(r.TTFTMs), ms(r.E2EMs), otps, what)
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == "bar" {
		fmt.Fprintln(p.w)
	}
}

func runBenchCompare(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "bench compare", "bench compare DIR_A DIR_B [--out DIR]")
	out := fs.String("out", "", "also write the combined report (summary, charts, report.html) here")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("bench compare takes two result folders: %w", ErrUsage)
	}
	a, _, err := bench.LoadRun(pos[0])
	if err != nil {
		return err
	}
	b, _, err := bench.LoadRun(pos[1])
	if err != nil {
		return err
	}
	s := bench.CompareRuns(a, b, "A", "B")
	w := env.Stdout
	fmt.Fprintf(w, "A = %s\nB = %s (improvement of B over A)\n\n", pos[0], pos[1])
	if len(s.Comparisons) > 0 {
		fmt.Fprintln(w, bench.SeedTable(s.Comparisons))
	}
	fmt.Fprint(w, bench.OverviewTable(s))
	fmt.Fprintf(w, "\nPercentiles: %s.\n", bench.PercentileMethod)
	if *out != "" {
		all := make([]bench.Record, 0, len(a)+len(b))
		for _, r := range a {
			r.Target = "A:" + r.Target
			all = append(all, r)
		}
		for _, r := range b {
			r.Target = "B:" + r.Target
			all = append(all, r)
		}
		if err := bench.WriteReport(*out, s, all); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		fmt.Fprintf(w, "Report: %s\n", *out)
	}
	return nil
}

// errVerify is returned when a result folder's summary disagrees with its
// per-request file.
var errVerify = errors.New("summary does not match requests.jsonl")

func runBenchVerify(env *Env, args []string) error {
	fs := newFlagSet(env, "bench verify", "bench verify DIR")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("bench verify takes one result folder: %w", ErrUsage)
	}
	bad, err := bench.Verify(pos[0])
	if err != nil {
		return fmt.Errorf("verify %s: %w", pos[0], err)
	}
	for _, b := range bad {
		fmt.Fprintln(env.Stdout, b)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s: %d figures: %w", pos[0], len(bad), errVerify)
	}
	fmt.Fprintf(env.Stdout, "%s: every summary figure recomputed from %s\n", pos[0], bench.FileRequests)
	return nil
}
