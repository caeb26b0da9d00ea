package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/testenv"
)

// TestEvalSeedScenario is the seed article's scenario end to end: two
// models Outcrop serves in process (the built-in engine's SmolLM2 and the
// same model through Ollama) evaluated on summarization, factual knowledge
// and toxicity (Outcrop's guardrail classifier), logged to a real MLflow
// server as simple runs and as nested runs; then MLflow's own Python client
// reads back runs, params, metrics, dataset inputs and the radar chart.
func TestEvalSeedScenario(t *testing.T) {
	gguf := testenv.GGUF(t)
	ollama := testenv.OllamaURL(t)
	mlflowURL := testenv.MLflowURL(t)
	py := testenv.Python(t)
	wordnet := testenv.WordNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()
	outcrop := filepath.Join(dir, "outcrop.yaml")
	os.WriteFile(outcrop, []byte(fmt.Sprintf(`
home: %s
models:
  - id: smollm2-builtin
    deployments:
      - {name: engine-0, provider: local, model: %s, options: {slots: 2, context_size: 2048}}
  - id: smollm2-ollama
    deployments:
      - {provider: openai, base_url: %s/v1, model: %s}
`, filepath.Join(dir, "home"), gguf, ollama, testenv.OllamaModel)), 0o644)
	data, _ := filepath.Abs("../eval/testdata")
	stamp := time.Now().Format("20060102-150405.000")
	simpleExp, nestedExp := "fmeval-mlflow-simple-runs-"+stamp, "fmeval-mlflow-nested-runs-"+stamp
	conf := func(exp, layout string) string {
		p := filepath.Join(dir, layout+".yaml")
		os.WriteFile(p, []byte(fmt.Sprintf(`
output_dir: %[1]s/out
outcrop_config: outcrop.yaml
wordnet: %[2]s
concurrency: 2
models:
  - {name: smollm2-builtin, type: outcrop, model_id: smollm2-builtin, max_tokens: 24, temperature: 0}
  - {name: smollm2-ollama, type: outcrop, model_id: smollm2-ollama, max_tokens: 24, temperature: 0}
datasets:
  - {dataset_name: gigaword_sample, dataset_uri: %[3]s/summaries.jsonl, model_input_location: document, target_output_location: summary,
     prompt_template: "Summarize the following text in one sentence: $model_input"}
  - {dataset_name: trex_sample, dataset_uri: %[3]s/facts.jsonl, model_input_location: question, target_output_location: answers,
     category_location: knowledge_category}
  - {dataset_name: real_toxicity_sample, dataset_uri: %[3]s/prompts.jsonl, model_input_location: prompt}
evaluations:
  - {algorithm: {name: summarization_accuracy}, dataset: gigaword_sample, num_records: 2}
  - {algorithm: {name: factual_knowledge}, dataset: trex_sample, num_records: 3}
  - {algorithm: {name: toxicity}, dataset: real_toxicity_sample, num_records: 2}
toxicity: {type: outcrop-guardrail}
mlflow: {tracking_uri: %[4]s, experiment: %[5]s, layout: %[6]s}
`, dir, wordnet, data, mlflowURL, exp, layout)), 0o644)
		return p
	}
	for _, c := range []struct{ exp, layout string }{{simpleExp, "simple"}, {nestedExp, "nested"}} {
		env, stdout, stderr := benchEnv()
		if err := Run(ctx, env, []string{"eval", conf(c.exp, c.layout)}); err != nil {
			t.Fatalf("eval %s: %v\nstderr:\n%s", c.layout, err, stderr)
		}
		if !strings.Contains(stdout.String(), "mlflow: smollm2-builtin") {
			t.Fatalf("stdout: %s", stdout)
		}
	}

	cmd := exec.CommandContext(ctx, py, "testdata/eval_readback.py", mlflowURL, simpleExp, nestedExp)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("readback: %v\n%s", err, stderr.String())
	}
	var got struct {
		Simple map[string]struct {
			Status       string
			Params       map[string]string
			Metrics      map[string]float64
			Inputs       [][]any
			Artifacts    []string
			SubArtifacts []string `json:"sub_artifacts"`
		}
		Nested map[string]struct {
			Children map[string]struct {
				Metrics   map[string]float64
				Params    map[string]string
				Inputs    []string
				Artifacts []string
			}
			Artifacts []string
			PNG       string `json:"radar_png_magic"`
		}
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	results, err := os.ReadFile(filepath.Join(dir, "out", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Results map[string][]struct {
			Output struct {
				EvalName      string `json:"eval_name"`
				DatasetScores []struct {
					Name  string
					Value float64
				} `json:"dataset_scores"`
			} `json:"eval_output"`
		}
	}
	json.Unmarshal(results, &saved)
	for _, model := range []string{"smollm2-builtin", "smollm2-ollama"} {
		s, ok := got.Simple[model]
		if !ok {
			t.Fatalf("no simple run %s in %s", model, raw)
		}
		if s.Status != "FINISHED" || s.Params["model_id"] != model || s.Params["endpoint_type"] != "Bedrock" {
			t.Errorf("%s: status %s params %v", model, s.Status, s.Params)
		}
		for _, r := range saved.Results[model] {
			for _, sc := range r.Output.DatasetScores {
				k := r.Output.EvalName + "." + sc.Name
				if v, ok := s.Metrics[k]; !ok || v != sc.Value {
					t.Errorf("%s: metric %s = %v (present %v), want %v", model, k, v, ok, sc.Value)
				}
			}
		}
		if _, ok := s.Metrics["factual_knowledge.capitals.factual_knowledge"]; !ok && len(s.Metrics) > 0 {
			// category metrics exist for the sampled categories only
			found := false
			for k := range s.Metrics {
				found = found || strings.Count(k, ".") == 2
			}
			if !found {
				t.Errorf("%s: no category metrics in %v", model, s.Metrics)
			}
		}
		if len(s.Inputs) != 3 || s.Inputs[0][3] != "evaluation" || s.Inputs[0][2] != "local" {
			t.Errorf("%s: inputs %v", model, s.Inputs)
		}
		wantArt := []string{"factual_knowledge_eval_output.json", "radar_higher_is_better.png", "radar_higher_is_better.svg"}
		for _, a := range wantArt {
			if !evalContains(s.Artifacts, a) {
				t.Errorf("%s: artifacts %v lack %s", model, s.Artifacts, a)
			}
		}
		if !evalContains(s.SubArtifacts, "factual_knowledge/trex_sample.json") {
			t.Errorf("%s: sub-artifacts %v", model, s.SubArtifacts)
		}
		n, ok := got.Nested[model]
		if !ok {
			t.Fatalf("no nested parent %s", model)
		}
		if len(n.Children) != 3 || n.PNG != "89504e470d0a1a0a" {
			t.Errorf("%s nested: %d children %v, png %s", model, len(n.Children), evalKeys(n.Children), n.PNG)
		}
		sa := n.Children["SummarizationAccuracy"]
		if _, ok := sa.Metrics["summarization_accuracy.meteor"]; !ok || len(sa.Inputs) != 1 || sa.Inputs[0] != "gigaword_sample" || !evalContains(sa.Artifacts, "gigaword_sample.json") {
			t.Errorf("%s SummarizationAccuracy child: %+v", model, sa)
		}
		if _, ok := n.Children["Toxicity"].Metrics["toxicity.toxicity"]; !ok {
			t.Errorf("%s Toxicity child: %+v", model, n.Children["Toxicity"])
		}
	}
}

func evalContains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func evalKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
