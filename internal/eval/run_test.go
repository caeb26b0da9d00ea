package eval

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/mlflow"
	"github.com/outcrop/outcrop/internal/testenv"
)

// counting wraps a real runner, counts its calls and can cancel the run
// after a number of them (a killed evaluation).
type counting struct {
	ModelRunner
	n        atomic.Int64
	cancelAt int64
	cancel   context.CancelFunc
}

func (c *counting) Predict(ctx context.Context, p string) (Prediction, error) {
	n := c.n.Add(1)
	if c.cancelAt > 0 && n > c.cancelAt {
		c.cancel()
		return Prediction{}, ctx.Err()
	}
	return c.ModelRunner.Predict(ctx, p)
}

func testConfig(t *testing.T, out string) *Config {
	t.Helper()
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	zero := 0.0
	return &Config{
		OutputDir: out,
		Models: []ModelConfig{{Name: "ollama-smollm2", Type: "openai", ModelID: testenv.OllamaModel,
			Endpoint: testenv.OllamaURL(t) + "/v1", MaxTokens: 24, Temperature: &zero}},
		Datasets: []DatasetSpec{
			{DataConfig: DataConfig{Name: "facts", URI: abs("testdata/facts.jsonl"), ModelInputLocation: "question",
				TargetOutputLocation: "answers", CategoryLocation: "knowledge_category"}},
			{DataConfig: DataConfig{Name: "summaries", URI: abs("testdata/summaries.jsonl"), ModelInputLocation: "document",
				TargetOutputLocation: "summary"}, PromptTemplate: "Summarize the following text in one sentence: $model_input"},
			{DataConfig: DataConfig{Name: "prompts", URI: abs("testdata/prompts.jsonl"), ModelInputLocation: "prompt"}},
		},
		Evaluations: []EvaluationSpec{
			{Algorithm: AlgorithmConfig{Name: AlgoSummarizationAccuracy}, Dataset: "summaries"},
			{Algorithm: AlgorithmConfig{Name: AlgoFactualKnowledge}, Dataset: "facts"},
			{Algorithm: AlgorithmConfig{Name: AlgoToxicity}, Dataset: "prompts"},
		},
		Concurrency: 3,
		WordNet:     testenv.WordNet(t),
		Toxicity:    &ScorerConfig{Type: "outcrop-guardrail"},
	}
}

func datasetScores(rep *Report) map[string]float64 {
	m := map[string]float64{}
	for model, rs := range rep.Results {
		for _, r := range rs {
			for _, s := range r.Output.DatasetScores {
				m[model+"/"+r.Output.EvalName+"."+s.Name] = s.Value
			}
		}
	}
	return m
}

// TestResumeAfterKill kills an evaluation of a real model (Ollama) part way,
// resumes it, and checks that finished records were not invoked again and
// that the scores are those of a run with every answer already stored.
func TestResumeAfterKill(t *testing.T) {
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.Evaluations = []EvaluationSpec{{Algorithm: AlgorithmConfig{Name: AlgoFactualKnowledge}, Dataset: "facts", NumRecords: 4},
		{Algorithm: AlgorithmConfig{Name: AlgoSummarizationAccuracy}, Dataset: "summaries", NumRecords: 2},
		{Algorithm: AlgorithmConfig{Name: AlgoToxicity}, Dataset: "prompts", NumRecords: 2}}
	cfg.Concurrency = 2
	runner, err := cfg.buildRunner(context.Background(), cfg.Models[0], RunOptions{Getenv: os.Getenv})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	kctx, kill := context.WithCancel(ctx)
	c1 := &counting{ModelRunner: runner, cancelAt: 3, cancel: kill}
	_, err = Run(kctx, cfg, RunOptions{Runners: map[string]ModelRunner{"ollama-smollm2": c1}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: err = %v, want context.Canceled", err)
	}
	p, err := OpenPredictions(filepath.Join(out, "predictions.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	stored := p.Len()
	p.Close()
	if stored == 0 || stored > 3 {
		t.Fatalf("%d predictions stored by the killed run; want 1-3", stored)
	}

	c2 := &counting{ModelRunner: runner}
	rep, err := Run(ctx, cfg, RunOptions{Runners: map[string]ModelRunner{"ollama-smollm2": c2}})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(len(rep.Results["ollama-smollm2"][0].Records) + len(rep.Results["ollama-smollm2"][1].Records) + len(rep.Results["ollama-smollm2"][2].Records))
	if got := c2.n.Load(); got != total-int64(stored) {
		t.Fatalf("resumed run invoked the model %d times; want %d (%d records, %d already answered)", got, total-int64(stored), total, stored)
	}
	c3 := &counting{ModelRunner: runner}
	rep3, err := Run(ctx, cfg, RunOptions{Runners: map[string]ModelRunner{"ollama-smollm2": c3}})
	if err != nil {
		t.Fatal(err)
	}
	if c3.n.Load() != 0 {
		t.Fatalf("a finished run invoked the model %d times again", c3.n.Load())
	}
	a, b := datasetScores(rep), datasetScores(rep3)
	if len(a) < 5 {
		t.Fatalf("scores: %v", a)
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: resumed %v, replayed %v", k, v, b[k])
		}
	}
	for _, f := range []string{"summary.md", "radar_higher_is_better.png", "radar_higher_is_better.svg", "results.json",
		"ollama-smollm2/factual_knowledge_facts.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// Per-record lines: FMEval's columns, scores last.
	line, _ := os.ReadFile(filepath.Join(out, "ollama-smollm2/factual_knowledge_facts.jsonl"))
	first := strings.SplitN(string(line), "\n", 2)[0]
	if !strings.HasPrefix(first, `{"model_input":`) || !strings.Contains(first, `"category":"`) || !strings.Contains(first, `"scores":[{"name":"factual_knowledge","value":`) {
		t.Errorf("record line: %s", first)
	}
}

// TestUnreachableMLflowKeepsResults runs against a closed port: the
// evaluation finishes, the results stay on disk, the error says so, and
// Relog later logs them to a real server without invoking the model.
func TestUnreachableMLflowKeepsResults(t *testing.T) {
	mlflowURL := testenv.MLflowURL(t)
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.Evaluations = []EvaluationSpec{{Algorithm: AlgorithmConfig{Name: AlgoFactualKnowledge}, Dataset: "facts", NumRecords: 2}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	cfg.MLflow = &MLflowConfig{TrackingURI: dead, Experiment: "outcrop-test-unreachable"}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.MLflowError == nil || !strings.Contains(rep.MLflowError.Error(), "connection refused") {
		t.Fatalf("MLflowError = %v", rep.MLflowError)
	}
	if len(rep.Results["ollama-smollm2"]) != 1 || rep.Results["ollama-smollm2"][0].Output.Records != 2 {
		t.Fatalf("results lost: %+v", rep.Results)
	}
	exp := "outcrop-test-relog-" + time.Now().Format("150405.000000")
	runs, err := Relog(ctx, out, &MLflowConfig{TrackingURI: mlflowURL, Experiment: exp, Layout: "nested"}, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := mlflow.New(mlflowURL, mlflow.Options{})
	mr := runs["ollama-smollm2"]
	if mr == nil || len(mr.ChildRunIDs) != 1 {
		t.Fatalf("relogged runs: %+v", runs)
	}
	run, err := c.GetRun(ctx, mr.ChildRunIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := rep.Results["ollama-smollm2"][0].Output.DatasetScores[0].Value
	found := false
	for _, m := range run.Data.Metrics {
		if m.Key == "factual_knowledge.factual_knowledge" {
			found = m.Value == want
		}
	}
	if !found {
		t.Fatalf("relogged metrics %+v lack factual_knowledge.factual_knowledge=%v", run.Data.Metrics, want)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	_, err := LoadDataset(DataConfig{Name: "bad", URI: write("bad.jsonl", "{\"q\": \"a\"}\n{\"q\": \"b\"\n"), ModelInputLocation: "q"})
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Fatalf("malformed line: %v", err)
	}
	_, err = LoadDataset(DataConfig{Name: "missing", URI: write("m.jsonl", "{\"q\": \"a\", \"t\": \"x\"}\n{\"q\": \"b\"}\n"), ModelInputLocation: "q", TargetOutputLocation: "t"})
	if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(err.Error(), "target_output_location") {
		t.Fatalf("missing field: %v", err)
	}
	_, err = LoadDataset(DataConfig{Name: "badpath", URI: write("p.jsonl", "{}\n"), ModelInputLocation: "a[?"})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("bad JMESPath: %v", err)
	}
	cfg := &Config{Models: []ModelConfig{{Name: "m", Type: "openai", ModelID: "x", Endpoint: "http://127.0.0.1:1/v1"}},
		Datasets:    []DatasetSpec{{DataConfig: DataConfig{Name: "d", URI: "x"}}},
		Evaluations: []EvaluationSpec{{Algorithm: AlgorithmConfig{Name: "bleu"}, Dataset: "d"}}}
	if err := cfg.Validate(); !errors.As(err, &ce) || !strings.Contains(err.Error(), `unknown algorithm "bleu"`) {
		t.Fatalf("unknown algorithm: %v", err)
	}
	if _, err := ComposePrompt("Answer: $question", "x"); err == nil {
		t.Fatal("template with an unknown placeholder accepted")
	}
	if _, err := ComposePrompt("costs $5: $model_input", "x"); err == nil {
		t.Fatal("bare $ accepted")
	}
	if got, _ := ComposePrompt("$$ ${model_input}!", "x"); got != "$ x!" {
		t.Fatalf("template = %q", got)
	}
}

// TestBedrockContentTemplate checks FMEval's composition: $prompt is
// substituted as a JSON string.
func TestBedrockContentTemplate(t *testing.T) {
	r := &BedrockRunner{ModelID: "m", ContentTemplate: `{"inputs": $prompt, "parameters": {"maxNewTokens": 64, "temperature": 0}}`, Output: "[0].generated_text"}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := r.compose("say \"hi\"\n")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil || v["inputs"] != "say \"hi\"\n" {
		t.Fatalf("composed %s: %v", b, err)
	}
	p := r.Params()
	if p["max_tokens"] != float64(64) || p["temperature"] != float64(0) || p["endpoint_type"] != "Bedrock" {
		t.Fatalf("params %v", p)
	}
	for _, bad := range []*BedrockRunner{
		{ModelID: "m", ContentTemplate: `{"inputs": "$prompt"`, Output: "x"},
		{ModelID: "m", ContentTemplate: `{"inputs": $prompt, "x": $other}`, Output: "x"},
		{ModelID: "m", ContentTemplate: `{"inputs": $prompt}`},
	} {
		if bad.Validate() == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
