package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/outcrop/outcrop/internal/mlflow"
)

// Config is an evaluation run as `outcrop eval CONFIG` reads it (YAML or
// JSON): models × evaluations (an algorithm on a dataset), outputs under
// OutputDir, and optionally an MLflow experiment.
type Config struct {
	// OutputDir holds predictions.jsonl (for resuming), per-record outputs,
	// eval outputs, summary.md, charts and results.json. Default "eval-out".
	OutputDir string        `json:"output_dir" yaml:"output_dir"`
	Models    []ModelConfig `json:"models" yaml:"models"`
	Datasets  []DatasetSpec `json:"datasets" yaml:"datasets"`
	// Evaluations pair an algorithm with a dataset by name.
	Evaluations []EvaluationSpec `json:"evaluations" yaml:"evaluations"`
	// Concurrency is the number of records in flight per evaluation (default 4).
	Concurrency int `json:"concurrency" yaml:"concurrency"`
	// Retries is the number of tries per model call (default 3).
	Retries int `json:"retries" yaml:"retries"`
	// Seed seeds dataset sampling (default 1234, FMEval's value).
	Seed *uint64 `json:"seed" yaml:"seed"`
	// WordNet is the WordNet 3.0 dict directory (default
	// $OUTCROP_WORDNET, then ~/.cache/outcrop/wordnet/dict).
	WordNet string `json:"wordnet" yaml:"wordnet"`
	// Punkt is NLTK's English Punkt model directory (punkt_tab layout,
	// `make punkt`); default $OUTCROP_PUNKT, then
	// ~/.cache/outcrop/punkt/english. Without it, METEOR splits sentences
	// with rules (exact for single sentences only).
	Punkt     string        `json:"punkt" yaml:"punkt"`
	Toxicity  *ScorerConfig `json:"toxicity" yaml:"toxicity"`
	BERTScore *ScorerConfig `json:"bertscore" yaml:"bertscore"`
	MLflow    *MLflowConfig `json:"mlflow" yaml:"mlflow"`
}

// ModelConfig is one model runner.
type ModelConfig struct {
	// Name identifies the model in outputs, MLflow runs and charts.
	Name string `json:"name" yaml:"name"`
	// Type is "outcrop" (a model Outcrop serves, through its whole pipeline
	// via the Bedrock Converse API), "bedrock" (any Bedrock runtime endpoint),
	// "openai" (any OpenAI-compatible endpoint) or "gguf" (a GGUF file
	// scored in process by llama.cpp: prompt log-probabilities for
	// prompt_stereotyping only; the outcrop CLI provides it).
	Type string `json:"type" yaml:"type"`
	// Path is the model file of a gguf model.
	Path    string `json:"path" yaml:"path"`
	ModelID string `json:"model_id" yaml:"model_id"`
	// Endpoint is the base URL (bedrock: the runtime endpoint; openai: …/v1;
	// outcrop: the server, or empty when the CLI serves it in process).
	Endpoint string `json:"endpoint" yaml:"endpoint"`
	Region   string `json:"region" yaml:"region"`
	// APIKeyEnv names the environment variable holding an OpenAI API key.
	APIKeyEnv string `json:"api_key_env" yaml:"api_key_env"`
	// ContentTemplate, Output and LogProbability make a bedrock model use
	// InvokeModel the way FMEval's BedrockModelRunner does. For an openai
	// model, log_probability: output asks for the answer's token
	// log-probabilities (summed).
	ContentTemplate string   `json:"content_template" yaml:"content_template"`
	Output          string   `json:"output" yaml:"output"`
	LogProbability  string   `json:"log_probability" yaml:"log_probability"`
	MaxTokens       int      `json:"max_tokens" yaml:"max_tokens"`
	Temperature     *float64 `json:"temperature" yaml:"temperature"`
	// JudgeOnly makes the model a grader for llm_judge only: it is not
	// evaluated itself.
	JudgeOnly bool `json:"judge_only" yaml:"judge_only"`
}

// DatasetSpec is a DataConfig plus the prompt template used with it.
type DatasetSpec struct {
	DataConfig `yaml:",inline"`
	// PromptTemplate uses $model_input (default "$model_input").
	PromptTemplate string `json:"prompt_template" yaml:"prompt_template"`
}

// EvaluationSpec is an algorithm on a dataset.
type EvaluationSpec struct {
	Algorithm AlgorithmConfig `json:"algorithm" yaml:"algorithm"`
	Dataset   string          `json:"dataset" yaml:"dataset"`
	// NumRecords samples the dataset (default: FMEval's, 100 or 300; -1: all).
	NumRecords int `json:"num_records" yaml:"num_records"`
}

// ScorerConfig selects a model-based scorer: "outcrop-guardrail" (toxicity
// only, built in) or "http" with a URL (see HTTPScorer).
type ScorerConfig struct {
	Type string `json:"type" yaml:"type"`
	URL  string `json:"url" yaml:"url"`
}

// MLflowConfig names the experiment to log into.
type MLflowConfig struct {
	TrackingURI string `json:"tracking_uri" yaml:"tracking_uri"`
	Experiment  string `json:"experiment" yaml:"experiment"`
	// Layout is "simple" (one run per model) or "nested" (a child run per
	// evaluation under the model's run).
	Layout string `json:"layout" yaml:"layout"`
}

// Validate checks the whole configuration before anything runs.
func (c *Config) Validate() error {
	if len(c.Models) == 0 {
		return &ConfigError{Field: "models", Msg: "at least one model is required"}
	}
	if len(c.Evaluations) == 0 {
		return &ConfigError{Field: "evaluations", Msg: "at least one evaluation is required"}
	}
	evaluated := 0
	for _, m := range c.Models {
		evaluated += b2i(!m.JudgeOnly)
	}
	if evaluated == 0 {
		return &ConfigError{Field: "models.judge_only", Msg: "at least one model must be evaluated (not judge_only)"}
	}
	names := map[string]bool{}
	for _, m := range c.Models {
		if m.Name == "" || names[m.Name] {
			return &ConfigError{Field: "models.name", Msg: fmt.Sprintf("names must be unique and non-empty (%q)", m.Name)}
		}
		if strings.ContainsAny(m.Name, `/\`) || m.Name == "." || m.Name == ".." {
			return &ConfigError{Field: "models.name", Msg: fmt.Sprintf("%q cannot name a directory", m.Name)}
		}
		names[m.Name] = true
		switch m.Type {
		case "outcrop", "bedrock", "openai":
		case "gguf":
			if m.Path == "" {
				return &ConfigError{Field: "models.path", Msg: "model " + m.Name + ": a gguf model needs the path of its file"}
			}
			for _, e := range c.Evaluations {
				if e.Algorithm.Name != AlgoPromptStereotyping {
					return &ConfigError{Field: "models.type", Msg: fmt.Sprintf("model %s: a gguf model only scores log-probabilities (prompt_stereotyping), not %s", m.Name, e.Algorithm.Name)}
				}
			}
			continue
		default:
			return &ConfigError{Field: "models.type", Msg: fmt.Sprintf("model %s: type must be outcrop, bedrock, openai or gguf, got %q", m.Name, m.Type)}
		}
		if m.ModelID == "" {
			return &ConfigError{Field: "models.model_id", Msg: "model " + m.Name + ": required"}
		}
		if m.Type == "openai" && m.LogProbability != "" && m.LogProbability != "output" {
			return &ConfigError{Field: "models.log_probability", Msg: "model " + m.Name + ": an openai model takes log_probability: output (the answer's token log-probabilities)"}
		}
		if m.Type != "outcrop" && m.Endpoint == "" {
			return &ConfigError{Field: "models.endpoint", Msg: "model " + m.Name + ": required"}
		}
	}
	dsNames := map[string]bool{}
	for _, d := range c.Datasets {
		if d.Name == "" || dsNames[d.Name] {
			return &ConfigError{Field: "datasets.dataset_name", Msg: fmt.Sprintf("names must be unique and non-empty (%q)", d.Name)}
		}
		dsNames[d.Name] = true
		if _, err := ComposePrompt(d.PromptTemplate, "x"); err != nil {
			return &ConfigError{Field: "datasets.prompt_template", Msg: err.Error()}
		}
	}
	for _, e := range c.Evaluations {
		if err := e.Algorithm.Validate(); err != nil {
			return err
		}
		if !dsNames[e.Dataset] {
			return &ConfigError{Field: "evaluations.dataset", Msg: fmt.Sprintf("no dataset named %q", e.Dataset)}
		}
		if e.Algorithm.Name == AlgoLLMJudge && !names[e.Algorithm.Judge] {
			return &ConfigError{Field: "evaluations.algorithm.judge", Msg: fmt.Sprintf("no model named %q", e.Algorithm.Judge)}
		}
		if strings.Contains(e.Algorithm.Name, "toxicity") && c.Toxicity == nil {
			return &ConfigError{Field: "toxicity", Msg: e.Algorithm.Name + " needs a toxicity scorer (type outcrop-guardrail or http)"}
		}
	}
	for _, s := range []*ScorerConfig{c.Toxicity, c.BERTScore} {
		if s == nil {
			continue
		}
		switch {
		case s.Type == "http" && s.URL != "":
		case s.Type == "outcrop-guardrail" && s == c.Toxicity:
		default:
			return &ConfigError{Field: "scorer", Msg: fmt.Sprintf("unsupported scorer %+v (toxicity: outcrop-guardrail or http+url; bertscore: http+url)", *s)}
		}
	}
	if m := c.MLflow; m != nil {
		if m.TrackingURI == "" || m.Experiment == "" {
			return &ConfigError{Field: "mlflow", Msg: "tracking_uri and experiment are required"}
		}
		if m.Layout != "" && m.Layout != "simple" && m.Layout != "nested" {
			return &ConfigError{Field: "mlflow.layout", Msg: "must be simple or nested"}
		}
	}
	return nil
}

// RunOptions are what the caller provides beyond the file.
type RunOptions struct {
	// OutcropURL is the base URL of the Outcrop server that "outcrop"
	// models without an endpoint use (the CLI's in-process server).
	OutcropURL string
	Getenv     func(string) string
	Logger     *slog.Logger
	// Progress receives one line per progress step (nil: none).
	Progress io.Writer
	// Runners overrides the runner built for a model name (tests).
	Runners map[string]ModelRunner
	// NewRunner builds the runners of types this package does not (gguf,
	// which needs llama.cpp: internal/eval/llamalp).
	NewRunner func(ctx context.Context, m ModelConfig) (ModelRunner, error)
}

// Report is what Run produced.
type Report struct {
	OutputDir string
	Models    []string
	Results   map[string][]Result
	Charts    map[string][]byte
	// MLflowRuns are the logged runs per model; MLflowError is why logging
	// failed (the results stay in OutputDir; see Relog).
	MLflowRuns  map[string]*ModelRun
	MLflowError error
}

// Run evaluates every model on every evaluation, writes the outputs and
// logs them to MLflow. A failure to reach MLflow does not lose anything: it
// is returned in Report.MLflowError and Relog logs the saved results later.
func Run(ctx context.Context, cfg *Config, o RunOptions) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger.With("component", "eval")
	out := cfg.OutputDir
	if out == "" {
		out = "eval-out"
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	env, err := cfg.env(o.Getenv)
	if err != nil {
		return nil, err
	}
	datasets := map[string]*Dataset{}
	specs := map[string]DatasetSpec{}
	for _, d := range cfg.Datasets {
		specs[d.Name] = d
	}
	for _, e := range cfg.Evaluations {
		if datasets[e.Dataset] != nil {
			continue
		}
		ds, err := LoadDataset(specs[e.Dataset].DataConfig)
		if err != nil {
			return nil, err
		}
		datasets[e.Dataset] = ds
	}
	runners := map[string]ModelRunner{}
	params := map[string]map[string]any{}
	for _, m := range cfg.Models {
		r := o.Runners[m.Name]
		if r == nil {
			r, err = cfg.buildRunner(ctx, m, o)
			if err != nil {
				return nil, err
			}
		}
		params[m.Name] = r.Params()
		runners[m.Name] = &Retrying{ModelRunner: r, Attempts: cfg.Retries}
	}
	env.Judges = runners
	preds, err := OpenPredictions(filepath.Join(out, "predictions.jsonl"))
	if err != nil {
		return nil, err
	}
	defer preds.Close()
	seed := uint64(1234)
	if cfg.Seed != nil {
		seed = *cfg.Seed
	}
	rep := &Report{OutputDir: out, Results: map[string][]Result{}}
	for _, m := range cfg.Models {
		if m.JudgeOnly {
			continue
		}
		rep.Models = append(rep.Models, m.Name)
		for _, e := range cfg.Evaluations {
			ds := datasets[e.Dataset]
			label := fmt.Sprintf("%s %s/%s", m.Name, e.Algorithm.Name, e.Dataset)
			j := Job{Model: m.Name, Runner: runners[m.Name], Dataset: ds, Algorithm: e.Algorithm,
				PromptTemplate: specs[e.Dataset].PromptTemplate, NumRecords: e.NumRecords, Seed: seed,
				Concurrency: max(cfg.Concurrency, 4*b2i(cfg.Concurrency == 0)), Predictions: preds, Env: env,
				Progress: progressPrinter(o.Progress, label)}
			t0 := time.Now()
			eo, recs, err := Evaluate(ctx, j)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", label, err)
			}
			log.Info("evaluated", "model", m.Name, "algorithm", e.Algorithm.Name, "dataset", e.Dataset,
				"records", eo.Records, "failed", eo.Failed, "elapsed", time.Since(t0).Round(time.Millisecond))
			dir := filepath.Join(out, m.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			path := filepath.Join(dir, e.Algorithm.Name+"_"+sanitizeFile(ds.Config.Name)+".jsonl")
			if err := writeFile(path, func(w io.Writer) error { return WriteRecords(w, recs) }); err != nil {
				return nil, err
			}
			eo.OutputPath = path
			rep.Results[m.Name] = append(rep.Results[m.Name], Result{Output: eo, Records: recs, Dataset: ds})
		}
	}
	if rep.Charts, err = CompareCharts(rep.Models, rep.Results); err != nil {
		return nil, err
	}
	for name, b := range rep.Charts {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return nil, err
		}
	}
	if err := writeFile(filepath.Join(out, "summary.md"), func(w io.Writer) error { return WriteSummary(w, rep) }); err != nil {
		return nil, err
	}
	saved := savedResults{Models: rep.Models, Params: params, Results: map[string][]savedResult{}}
	for m, rs := range rep.Results {
		for _, r := range rs {
			saved.Results[m] = append(saved.Results[m], savedResult{Output: r.Output, Records: r.Records, Dataset: r.Dataset.Config, Digest: r.Dataset.Digest, Fields: r.Dataset.Fields, NumRecords: len(r.Dataset.Records)})
		}
	}
	if err := writeFile(filepath.Join(out, "results.json"), func(w io.Writer) error { return json.NewEncoder(w).Encode(saved) }); err != nil {
		return nil, err
	}
	if cfg.MLflow != nil {
		rep.MLflowRuns, rep.MLflowError = logAll(ctx, cfg.MLflow, o, rep, params)
	}
	return rep, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func progressPrinter(w io.Writer, label string) func(done, total int) {
	if w == nil {
		return nil
	}
	var mu sync.Mutex // guards last
	last := time.Time{}
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if done < total && time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		const width = 30
		n := width * done / max(total, 1)
		fmt.Fprintf(w, "%s [%s%s] %d/%d\n", label, strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
	}
}

func sanitizeFile(s string) string { return strings.Map(safeRune, s) }

func safeRune(r rune) rune {
	if r == '/' || r == '\\' || r == ' ' || r == 0 {
		return '_'
	}
	return r
}

func writeFile(path string, fn func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (c *Config) env(getenv func(string) string) (*Env, error) {
	env := &Env{}
	dir := c.WordNet
	if dir == "" {
		dir = getenv("OUTCROP_WORDNET")
	}
	if dir == "" {
		if h, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(h, ".cache", "outcrop", "wordnet", "dict")
		}
	}
	needWN := false
	for _, e := range c.Evaluations {
		needWN = needWN || strings.HasPrefix(e.Algorithm.Name, AlgoSummarizationAccuracy)
	}
	if needWN {
		wn, err := LoadWordNet(dir)
		if err != nil {
			return nil, fmt.Errorf("METEOR needs WordNet 3.0 (run `make wordnet` or set wordnet:): %w", err)
		}
		env.WordNet = wn
		pk, err := loadPunkt(c.Punkt, getenv)
		if err != nil {
			return nil, err
		}
		env.Punkt = pk
	}
	if t := c.Toxicity; t != nil {
		if t.Type == "outcrop-guardrail" {
			g, err := NewGuardrailToxicity()
			if err != nil {
				return nil, err
			}
			env.Toxicity = g
		} else {
			env.Toxicity = &HTTPScorer{URL: t.URL}
		}
	}
	if b := c.BERTScore; b != nil {
		env.BERTScore = &HTTPScorer{URL: b.URL}
	}
	return env, nil
}

// loadPunkt loads the Punkt model from dir, $OUTCROP_PUNKT or the default
// cache; a missing default is no error (rules are used), a missing
// configured one is.
func loadPunkt(dir string, getenv func(string) string) (*Punkt, error) {
	if dir == "" {
		dir = getenv("OUTCROP_PUNKT")
	}
	if dir != "" {
		pk, err := LoadPunkt(dir)
		if err != nil {
			return nil, fmt.Errorf("METEOR's sentence splitting (run `make punkt` or fix punkt:): %w", err)
		}
		return pk, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return nil, nil
	}
	pk, err := LoadPunkt(filepath.Join(h, ".cache", "outcrop", "punkt", "english"))
	if err != nil {
		return nil, nil
	}
	return pk, nil
}

func (c *Config) buildRunner(ctx context.Context, m ModelConfig, o RunOptions) (ModelRunner, error) {
	switch m.Type {
	case "gguf":
		if o.NewRunner == nil {
			return nil, &ConfigError{Field: "models.type", Msg: "model " + m.Name + ": gguf models are scored by the outcrop CLI"}
		}
		return o.NewRunner(ctx, m)
	case "openai":
		r := &OpenAIRunner{BaseURL: m.Endpoint, Model: m.ModelID, MaxTokens: m.MaxTokens, Temperature: m.Temperature,
			LogProbs: m.LogProbability == "output"}
		if m.APIKeyEnv != "" {
			r.APIKey = o.Getenv(m.APIKeyEnv)
		}
		return r, nil
	}
	endpoint := m.Endpoint
	if m.Type == "outcrop" && endpoint == "" {
		if o.OutcropURL == "" {
			return nil, &ConfigError{Field: "models.endpoint", Msg: "model " + m.Name + ": no endpoint and no Outcrop served in process"}
		}
		endpoint = o.OutcropURL
	}
	client, err := NewBedrockClient(ctx, endpoint, m.Region, o.Getenv)
	if err != nil {
		return nil, err
	}
	r := &BedrockRunner{Client: client, ModelID: m.ModelID, ContentTemplate: m.ContentTemplate,
		Output: m.Output, LogProbability: m.LogProbability, MaxTokens: int32(m.MaxTokens)}
	if m.Temperature != nil {
		t := float32(*m.Temperature)
		r.Temperature = &t
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// NewBedrockClient returns a Bedrock runtime client for endpoint. It uses
// the usual AWS credential chain, or placeholder static credentials when
// the chain has none (an Outcrop without authentication accepts any).
func NewBedrockClient(ctx context.Context, endpoint, region string, getenv func(string) string) (*bedrockruntime.Client, error) {
	if region == "" {
		region = "us-east-1"
	}
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	if getenv("AWS_ACCESS_KEY_ID") == "" && getenv("AWS_PROFILE") == "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("outcrop-eval", "outcrop-eval", "")))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return bedrockruntime.NewFromConfig(ac, func(o *bedrockruntime.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// WriteSummary writes a Markdown model × metric table per evaluation.
func WriteSummary(w io.Writer, rep *Report) error {
	fmt.Fprintf(w, "# Evaluation summary\n\n")
	type key struct{ eval, dataset string }
	var keys []key
	seen := map[key]bool{}
	scores := map[key]map[string]map[string]float64{}
	names := map[key][]string{}
	for _, m := range rep.Models {
		for _, r := range rep.Results[m] {
			k := key{r.Output.EvalName, r.Output.DatasetName}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
				scores[k] = map[string]map[string]float64{}
			}
			scores[k][m] = map[string]float64{}
			for _, s := range r.Output.DatasetScores {
				if _, ok := scores[k][m][s.Name]; !ok && !contains(names[k], s.Name) {
					names[k] = append(names[k], s.Name)
				}
				scores[k][m][s.Name] = s.Value
			}
		}
	}
	for _, k := range keys {
		fmt.Fprintf(w, "## %s on %s\n\n| model | %s |\n|---|%s\n", k.eval, k.dataset,
			strings.Join(names[k], " | "), strings.Repeat("---|", len(names[k])))
		for _, m := range rep.Models {
			row := make([]string, len(names[k]))
			for i, n := range names[k] {
				if v, ok := scores[k][m][n]; ok && !math.IsNaN(v) {
					row[i] = fmt.Sprintf("%.4f", v)
				} else {
					row[i] = "–"
				}
			}
			fmt.Fprintf(w, "| %s | %s |\n", m, strings.Join(row, " | "))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// savedResults is results.json: everything Relog needs.
type savedResults struct {
	Models  []string                  `json:"models"`
	Params  map[string]map[string]any `json:"params"`
	Results map[string][]savedResult  `json:"results"`
}

type savedResult struct {
	Output     *EvalOutput    `json:"eval_output"`
	Records    []RecordOutput `json:"-"`
	Dataset    DataConfig     `json:"dataset"`
	Digest     string         `json:"digest"`
	Fields     []string       `json:"fields"`
	NumRecords int            `json:"num_records"`
}

func logAll(ctx context.Context, mc *MLflowConfig, o RunOptions, rep *Report, params map[string]map[string]any) (map[string]*ModelRun, error) {
	client, err := mlflow.New(mc.TrackingURI, mlflow.Options{
		Token: o.Getenv("MLFLOW_TRACKING_TOKEN"), Username: o.Getenv("MLFLOW_TRACKING_USERNAME"),
		Password: o.Getenv("MLFLOW_TRACKING_PASSWORD"), Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	t := &Tracker{Client: client, Experiment: mc.Experiment, Layout: mc.Layout}
	runs := map[string]*ModelRun{}
	var errs []error
	for _, m := range rep.Models {
		mr, err := t.LogModel(ctx, m, params[m], rep.Results[m], rep.Charts)
		if err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w", m, err))
			continue
		}
		runs[m] = mr
	}
	return runs, errors.Join(errs...)
}

// Relog logs the results saved in a finished run's output directory to
// MLflow, without invoking any model: the way to recover when the tracking
// server was unreachable during the run.
func Relog(ctx context.Context, dir string, mc *MLflowConfig, o RunOptions) (map[string]*ModelRun, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if mc == nil || mc.TrackingURI == "" || mc.Experiment == "" {
		return nil, &ConfigError{Field: "mlflow", Msg: "tracking_uri and experiment are required"}
	}
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		return nil, fmt.Errorf("relog: %w (is %s the output_dir of a finished run?)", err, dir)
	}
	var saved savedResults
	if err := json.Unmarshal(data, &saved); err != nil {
		return nil, fmt.Errorf("relog: %s/results.json: %w", dir, err)
	}
	rep := &Report{OutputDir: dir, Models: saved.Models, Results: map[string][]Result{}, Charts: map[string][]byte{}}
	for m, rs := range saved.Results {
		for _, r := range rs {
			recs, err := readRecords(r.Output.OutputPath)
			if err != nil {
				return nil, err
			}
			ds := &Dataset{Config: r.Dataset, Digest: r.Digest, Fields: r.Fields, Records: make([]Record, r.NumRecords)}
			rep.Results[m] = append(rep.Results[m], Result{Output: r.Output, Records: recs, Dataset: ds})
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "radar_") {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				rep.Charts[e.Name()] = b
			}
		}
	}
	return logAll(ctx, mc, o, rep, saved.Params)
}

// readRecords reads a per-record JSONL file back.
func readRecords(path string) ([]RecordOutput, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []RecordOutput
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var m struct {
			Record
			Error  string  `json:"error"`
			Scores []Score `json:"scores"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var raw map[string]json.RawMessage
		json.Unmarshal([]byte(line), &raw)
		m.Record.Has = map[string]bool{}
		for k := range raw {
			m.Record.Has[k] = true
		}
		out = append(out, RecordOutput{Record: m.Record, Scores: m.Scores, Error: m.Error})
	}
	return out, nil
}
