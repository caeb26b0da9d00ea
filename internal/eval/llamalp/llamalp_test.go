package llamalp

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/eval"
	"github.com/outcrop/outcrop/internal/testenv"
)

// TestLogProb scores texts with SmolLM2: every log-probability is finite and
// negative, a sentence is more likely than the same words shuffled (for
// each of the pairs below; a scorer that ignored the order or the tokens
// would fail), and the chain rule holds: the log-probability of a text is
// that of its prefix plus the continuation's, as long as the tokens split
// there.
func TestLogProb(t *testing.T) {
	s, err := Open(testenv.GGUF(t), 256)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range [][2]string{
		{"The cat sat on the mat.", "mat the on sat cat The."},
		{"I would like a cup of coffee, please.", "please cup a of like would coffee, I."},
		{"Paris is the capital of France.", "France capital the of is Paris."},
		{"She opened the door and walked in.", "in walked door and opened the She."},
	} {
		good, n, err := s.LogProb(p[0])
		if err != nil {
			t.Fatal(err)
		}
		bad, _, err := s.LogProb(p[1])
		if err != nil {
			t.Fatal(err)
		}
		if !(good < 0) || math.IsInf(good, 0) || n < 5 {
			t.Fatalf("LogProb(%q) = %v over %d tokens", p[0], good, n)
		}
		if good <= bad {
			t.Errorf("LogProb(%q) = %.3f <= shuffled %.3f", p[0], good, bad)
		}
	}
	// Repeatable: the KV cache is cleared between texts.
	a, _, _ := s.LogProb("The cat sat on the mat.")
	b, _, _ := s.LogProb("The cat sat on the mat.")
	if math.Abs(a-b) > 1e-4 {
		t.Errorf("LogProb is not repeatable: %v then %v", a, b)
	}
	if _, _, err := s.LogProb(strings.Repeat("word ", 400)); err != ErrTooLong {
		t.Errorf("a 400-token text: error %v, want ErrTooLong", err)
	}
}

// TestStereotypingInProcess runs FMEval's prompt stereotyping on SmolLM2
// in process: every record of a CrowS-Pairs-style sample gets a
// log_probability_difference from the model and a 0/1 prompt_stereotyping
// consistent with it.
func TestStereotypingInProcess(t *testing.T) {
	s, err := Open(testenv.GGUF(t), 256)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	abs, _ := filepath.Abs("../testdata/crows_sample.jsonl")
	ds, err := eval.LoadDataset(eval.DataConfig{Name: "crows", URI: abs, SentMoreInputLocation: "sent_more",
		SentLessInputLocation: "sent_less", CategoryLocation: "bias_type"})
	if err != nil {
		t.Fatal(err)
	}
	eo, recs, err := eval.Evaluate(context.Background(), eval.Job{Model: "smollm2", Runner: &Runner{Scorer: s}, Dataset: ds,
		NumRecords: -1, Concurrency: 2, Algorithm: eval.AlgorithmConfig{Name: eval.AlgoPromptStereotyping}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Error != "" || len(r.Scores) != 2 {
			t.Fatalf("record %+v", r)
		}
		more, _, _ := s.LogProb(r.SentMore)
		less, _, _ := s.LogProb(r.SentLess)
		if d := *r.Scores[0].Value; math.Abs(d-(more-less)) > 1e-3 || (d > 0) != (*r.Scores[1].Value == 1) {
			t.Errorf("record %q: scores %v, %v; want difference %v", r.SentMore, d, *r.Scores[1].Value, more-less)
		}
	}
	if eo.Failed != 0 || len(eo.DatasetScores) != 1 {
		t.Fatalf("eval output %+v", eo)
	}
	t.Logf("prompt_stereotyping of SmolLM2-135M on the sample: %v", eo.DatasetScores[0].Value)
}

// TestRunGGUFModel runs `outcrop eval`'s path for a gguf model: eval.Run
// builds it through RunOptions.NewRunner and evaluates prompt stereotyping;
// a gguf model given another algorithm is refused before anything runs.
func TestRunGGUFModel(t *testing.T) {
	gguf := testenv.GGUF(t)
	abs, _ := filepath.Abs("../testdata/crows_sample.jsonl")
	cfg := &eval.Config{
		OutputDir: t.TempDir(),
		Models:    []eval.ModelConfig{{Name: "smollm2", Type: "gguf", Path: gguf}},
		Datasets: []eval.DatasetSpec{{DataConfig: eval.DataConfig{Name: "crows", URI: abs, SentMoreInputLocation: "sent_more",
			SentLessInputLocation: "sent_less", CategoryLocation: "bias_type"}}},
		Evaluations: []eval.EvaluationSpec{{Algorithm: eval.AlgorithmConfig{Name: eval.AlgoPromptStereotyping}, Dataset: "crows"}},
	}
	var opened []*Scorer
	defer func() {
		for _, s := range opened {
			s.Close()
		}
	}()
	opts := eval.RunOptions{NewRunner: func(_ context.Context, m eval.ModelConfig) (eval.ModelRunner, error) {
		s, err := Open(m.Path, 0)
		if err != nil {
			return nil, err
		}
		opened = append(opened, s)
		return &Runner{Scorer: s}, nil
	}}
	rep, err := eval.Run(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results["smollm2"][0]
	if r.Output.Failed != 0 || len(r.Output.DatasetScores) != 1 || r.Output.DatasetScores[0].Name != eval.ScorePromptStereotyping {
		t.Fatalf("eval output %+v", r.Output)
	}
	cfg.Evaluations[0].Algorithm.Name = eval.AlgoFactualKnowledge
	if _, err := eval.Run(context.Background(), cfg, opts); err == nil || !strings.Contains(err.Error(), "only scores log-probabilities") {
		t.Fatalf("factual_knowledge on a gguf model: %v", err)
	}
}
