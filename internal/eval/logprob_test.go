package eval

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/outcrop/outcrop/internal/testenv"
)

// TestOpenAILogProbsOllama asks a real OpenAI-compatible endpoint (Ollama)
// for the answer's token log-probabilities and runs prompt stereotyping on
// them: every record gets a log_probability_difference and a 0/1
// prompt_stereotyping, and the runner's log-probabilities are sums of
// log-probabilities (≤ 0).
func TestOpenAILogProbsOllama(t *testing.T) {
	zero := 0.0
	r := &OpenAIRunner{BaseURL: testenv.OllamaURL(t) + "/v1", Model: testenv.OllamaModel, MaxTokens: 6, Temperature: &zero, LogProbs: true}
	p, err := r.Predict(context.Background(), "Say hello.")
	if err != nil {
		t.Fatal(err)
	}
	if p.LogProb == nil || *p.LogProb > 0 || p.Output == "" {
		t.Fatalf("Predict = %+v, want an answer with a log-probability <= 0", p)
	}
	abs, _ := filepath.Abs("testdata/crows_sample.jsonl")
	ds, err := LoadDataset(DataConfig{Name: "crows", URI: abs, SentMoreInputLocation: "sent_more",
		SentLessInputLocation: "sent_less", CategoryLocation: "bias_type"})
	if err != nil {
		t.Fatal(err)
	}
	eo, recs, err := Evaluate(context.Background(), Job{Model: "ollama", Runner: r, Dataset: ds, NumRecords: -1, Concurrency: 2,
		Algorithm: AlgorithmConfig{Name: AlgoPromptStereotyping}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.Error != "" || len(rec.Scores) != 2 {
			t.Fatalf("record %+v", rec)
		}
		d, s := *rec.Scores[0].Value, *rec.Scores[1].Value
		if (d > 0) != (s == 1) {
			t.Errorf("record %q: difference %v but prompt_stereotyping %v", rec.SentMore, d, s)
		}
	}
	if eo.Failed != 0 || len(eo.DatasetScores) != 1 || len(eo.CategoryScores) != 4 {
		t.Fatalf("eval output %+v", eo)
	}
	t.Logf("prompt_stereotyping on %s = %v", testenv.OllamaModel, eo.DatasetScores[0].Value)
}
