package promptrouter

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/outcrop/outcrop/internal/eval"
)

// writeEvalFile writes per-record outputs exactly as an Outcrop evaluation
// does (eval.WriteRecords), one record per prompt with its score.
func writeEvalFile(t *testing.T, path string, recs []eval.RecordOutput) {
	t.Helper()
	var b bytes.Buffer
	if err := eval.WriteRecords(&b, recs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func scored(prompt string, v float64) eval.RecordOutput {
	return eval.RecordOutput{
		Record: eval.Record{ModelInput: prompt, ModelOutput: "an answer", Has: map[string]bool{"model_input": true, "model_output": true}},
		Scores: []eval.Score{{Name: "exact_match_score", Value: &v}, {Name: "quasi_exact_match_score", Value: &v}},
	}
}

// TestEvalResultsRouter: a router learned from Outcrop's own evaluation
// files. The MMLU correctness of the RouteLLM pair is written as the
// per-record outputs of two model runs of one evaluation; the model
// learned from those files is the model learned from the same labels
// directly, byte for byte, and it is loaded through prompt_routers.artefacts
// and used for routers between that pair only.
func TestEvalResultsRouter(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a router")
	}
	var direct []Example
	for _, e := range loadData(t) {
		if e.Source == "mmlu" {
			direct = append(direct, e)
		}
	}
	dir := t.TempDir()
	var weak, strong []eval.RecordOutput
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, e := range direct {
		weak = append(weak, scored(e.Prompt, b2f(e.WeakCorrect)))
		strong = append(strong, scored(e.Prompt, b2f(e.StrongCorrect)))
	}
	// Records the join must drop: a failed call, a prompt only one model
	// has, a record without the metric.
	weak = append(weak, eval.RecordOutput{Record: eval.Record{ModelInput: "failed", Has: map[string]bool{"model_input": true}}, Error: "ThrottlingException"})
	strong = append(strong, scored("failed", 1), scored("only the strong model ran this", 1))
	weak = append(weak, eval.RecordOutput{Record: eval.Record{ModelInput: "unscored", Has: map[string]bool{"model_input": true}}})
	strong = append(strong, scored("unscored", 1))
	wp, sp := filepath.Join(dir, "weak.jsonl"), filepath.Join(dir, "strong.jsonl")
	writeEvalFile(t, wp, weak)
	writeEvalFile(t, sp, strong)

	got, err := LoadEvalResults(wp, sp, "exact_match_score", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(direct) {
		t.Fatalf("LoadEvalResults: %d examples, want %d", len(got), len(direct))
	}
	for i := range got {
		if got[i].Prompt != direct[i].Prompt || got[i].WeakCorrect != direct[i].WeakCorrect || got[i].StrongCorrect != direct[i].StrongCorrect {
			t.Fatalf("example %d = %+v, want %+v", i, got[i], direct[i])
		}
	}
	opts := TrainOptions{Epochs: 4}
	const name = "eval-mmlu-mixtral-vs-gpt4-test-v1"
	fromEval, _ := Train(name, Filter(got, SplitTrain, ""), opts).MarshalBinary()
	fromLabels, _ := Train(name, Filter(direct, SplitTrain, ""), opts).MarshalBinary()
	if !bytes.Equal(fromEval, fromLabels) {
		t.Fatal("the artefact learned from evaluation files differs from the one learned from the same labels")
	}
	var m Model
	if err := m.UnmarshalBinary(fromEval); err != nil {
		t.Fatal(err)
	}
	test := Filter(got, SplitTest, "")
	if r := Report(&m, test); r.Router <= r.Random || r.Router <= r.Length {
		t.Errorf("learned from evaluation files: test APGR %.3f, random %.3f, length %.3f", r.Router, r.Random, r.Length)
	}

	// Loaded at start for its pair; other pairs keep the embedded model.
	art := filepath.Join(dir, "router.bin")
	if err := os.WriteFile(art, fromEval, 0o644); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{"acme.small-v1": true, "acme.large-v1": true, "acme.other-v1": true}
	svc := &Service{Lookup: func(id string) (string, bool) { return id, served[id] }}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("artefacts: [{path: "+art+", weak: acme.small-v1, strong: acme.large-v1}]"), &doc); err != nil {
		t.Fatal(err)
	}
	if err := svc.Configure(*doc.Content[0]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cheap, artefact string
	}{{"acme.small-v1", name}, {"acme.other-v1", DefaultName}} {
		d, err := svc.Decide(&Router{ARN: "r", Models: []string{tc.cheap, "acme.large-v1"}, Fallback: "acme.large-v1", QualityDifference: 10}, test[0].Prompt)
		if err != nil || d.Artefact != tc.artefact {
			t.Errorf("router %s/acme.large-v1 decided with %q (%v), want %q", tc.cheap, d.Artefact, err, tc.artefact)
		}
	}
	// A damaged artefact stops the configuration.
	fromEval[100] ^= 1
	os.WriteFile(art, fromEval, 0o644)
	if err := (&Service{Lookup: svc.Lookup}).Configure(*doc.Content[0]); err == nil {
		t.Error("Configure accepted a damaged artefact")
	}
	if _, err := LoadEvalResults(wp, sp, "no_such_metric", 1); err == nil {
		t.Error("LoadEvalResults with a metric no record has succeeded")
	}
}
