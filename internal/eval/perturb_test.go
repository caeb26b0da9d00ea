package eval

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestPerturbations(t *testing.T) {
	const text = "The quick brown fox jumps over the lazy dog near the river bank today"
	for _, typ := range []string{"butter_finger", "random_upper_case", "whitespace_add_remove"} {
		a, _ := NewPerturber(typ, 5)
		b, _ := NewPerturber(typ, 5)
		pa, pb := a.Perturb(text), b.Perturb(text)
		changed := 0
		for i := range pa {
			if pa[i] != pb[i] {
				t.Fatalf("%s is not deterministic: %q vs %q", typ, pa[i], pb[i])
			}
			if pa[i] != text {
				changed++
			}
			if typ == "random_upper_case" {
				up := 0
				for j, r := range []rune(pa[i]) {
					if r != rune(text[j]) {
						if unicode.ToUpper(rune(text[j])) != r {
							t.Fatalf("random_upper_case changed %q to %q", text[j], r)
						}
						up++
					}
				}
				if limit := len(text) / 10; up > limit {
					t.Fatalf("random_upper_case uppercased %d positions of %d", up, len(text))
				}
			}
			if typ == "whitespace_add_remove" && strings.ReplaceAll(pa[i], " ", "") != strings.ReplaceAll(text, " ", "") {
				t.Fatalf("whitespace_add_remove changed non-space characters: %q", pa[i])
			}
			if typ == "butter_finger" && len([]rune(pa[i])) != len([]rune(text)) {
				t.Fatalf("butter_finger changed the length: %q", pa[i])
			}
		}
		if changed == 0 {
			t.Errorf("%s changed none of 5 variants", typ)
		}
	}
	if _, err := NewPerturber("synonyms", 5); err == nil {
		t.Error("unknown perturbation accepted")
	}
}

// TestRobustnessWithModel runs general_semantic_robustness and
// qa_accuracy_semantic_robustness on a real model (Ollama): scores are in
// range and the delta scores are present.
func TestRobustnessWithModel(t *testing.T) {
	out := t.TempDir()
	cfg := testConfig(t, out)
	cfg.Evaluations = []EvaluationSpec{
		{Algorithm: AlgorithmConfig{Name: AlgoGeneralSemanticRobustness, NumPerturbations: 2}, Dataset: "facts", NumRecords: 1},
		{Algorithm: AlgorithmConfig{Name: AlgoQAAccuracySR, NumPerturbations: 2}, Dataset: "facts", NumRecords: 1},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := datasetScores(rep)
	for _, k := range []string{"general_semantic_robustness.word_error_rate", "qa_accuracy_semantic_robustness.f1_score", "qa_accuracy_semantic_robustness.delta_f1_score"} {
		v, ok := got["ollama-smollm2/"+k]
		if !ok || v < 0 || v > 5 {
			t.Errorf("%s = %v (present %v); all: %v", k, v, ok, got)
		}
	}
}
