package eval

import (
	"context"
	"math"
	"testing"
)

// TestParseVerdict holds the judge parser to the answers judges give,
// including SmolLM2's (which often restates the rubric or gives no grade).
func TestParseVerdict(t *testing.T) {
	for _, tc := range []struct {
		answer string
		grade  int
		ok     bool
	}{
		{"Score: 4", 4, true},
		{"score:5", 5, true},
		{"**Score:** 3", 3, true},
		{"Score = 2", 2, true},
		{"The answer is right. Score: 5/5", 5, true},
		{"I would give it a score of 4 out of 5.", 4, true},
		{"Final score is 1", 1, true},
		{"Score: 2\nOn reflection, Score: 3", 3, true},            // the last grade counts
		{`Reply with "Score: <1-5>" and nothing else.`, 0, false}, // the rubric echoed
		{"Score: 1-5", 0, false},                                  // the scale, not a grade
		{"Score: 7", 0, false},
		{"Score: 0", 0, false},
		{"Score: 10", 0, false},
		{"Score: 3.5", 0, false},
		{"Score: 8/10", 0, false},
		{"The capital of France is Paris.", 0, false},
		{"4", 0, false},
		{"", 0, false},
	} {
		g, ok := ParseVerdict(tc.answer)
		if g != tc.grade || ok != tc.ok {
			t.Errorf("ParseVerdict(%q) = %d, %v; want %d, %v", tc.answer, g, ok, tc.grade, tc.ok)
		}
	}
}

// fixedRunner answers every prompt with the same text (the judge's answer
// under test; the model calls themselves are exercised by the runner tests).
type fixedRunner struct{ out string }

func (f fixedRunner) Predict(context.Context, string) (Prediction, error) {
	return Prediction{Output: f.out}, nil
}
func (f fixedRunner) Params() map[string]any { return nil }

// TestJudgeScores: a grade maps to (grade−1)/4; an unusable verdict leaves
// the record's judge_score empty with the answer in its error, and the mean
// is over graded records only.
func TestJudgeScores(t *testing.T) {
	ds := &Dataset{Config: DataConfig{Name: "d"}, Records: []Record{
		{ModelInput: "q1", ModelOutput: "a1", TargetOutput: "r1", Has: map[string]bool{"model_input": true, "model_output": true, "target_output": true}},
	}}
	for _, tc := range []struct {
		verdict string
		want    float64 // NaN: no score
	}{
		{"Score: 5", 1}, {"Score: 1", 0}, {"Score: 3", 0.5}, {"I cannot grade this.", math.NaN()},
	} {
		env := &Env{Judges: map[string]ModelRunner{"j": fixedRunner{tc.verdict}}}
		eo, recs, err := Evaluate(context.Background(), Job{Model: "m", Dataset: ds, NumRecords: -1, Env: env,
			Algorithm: AlgorithmConfig{Name: AlgoLLMJudge, Judge: "j"}})
		if err != nil {
			t.Fatal(err)
		}
		s := recs[0].Scores[0]
		if math.IsNaN(tc.want) {
			if s.Value != nil || s.Error == "" || len(eo.DatasetScores) != 0 {
				t.Errorf("verdict %q: score %+v, dataset scores %+v; want an error and no mean", tc.verdict, s, eo.DatasetScores)
			}
			continue
		}
		if s.Value == nil || *s.Value != tc.want || eo.DatasetScores[0].Value != tc.want {
			t.Errorf("verdict %q: score %+v, dataset %+v; want %v", tc.verdict, s, eo.DatasetScores, tc.want)
		}
	}
}

// TestStereotypingFMEvalVectors is FMEval's own prompt-stereotyping test
// case (test_prompt_stereotyping.py): CrowS-Pairs-style records with
// log-probabilities log(0.9)/log(0.5), log(0.2)/log(0.7), log(0.8)/log(0.6),
// log(0.1)/log(0.4) give prompt_stereotyping 0.5 overall and 1, 0, 1, 0 per
// bias type; positive log-probabilities are refused as FMEval refuses them.
func TestStereotypingFMEvalVectors(t *testing.T) {
	lp := func(p float64) *float64 { v := math.Log(p); return &v }
	has := map[string]bool{"sent_more_input": true, "sent_less_input": true, "category": true, "sent_more_log_prob": true, "sent_less_log_prob": true}
	rec := func(cat string, more, less float64) Record {
		return Record{SentMore: "more " + cat, SentLess: "less " + cat, Category: cat, SentMoreLogP: lp(more), SentLessLogP: lp(less), Has: has}
	}
	ds := &Dataset{Config: DataConfig{Name: "crows-pairs"}, Records: []Record{
		rec("gender", 0.9, 0.5), rec("socioeconomic", 0.2, 0.7), rec("nationality", 0.8, 0.6), rec("sexual-orientation", 0.1, 0.4),
	}}
	eo, recs, err := Evaluate(context.Background(), Job{Model: "m", Dataset: ds, NumRecords: -1, Algorithm: AlgorithmConfig{Name: AlgoPromptStereotyping}})
	if err != nil {
		t.Fatal(err)
	}
	if len(eo.DatasetScores) != 1 || eo.DatasetScores[0].Name != ScorePromptStereotyping || eo.DatasetScores[0].Value != 0.5 {
		t.Fatalf("dataset scores = %+v, want prompt_stereotyping 0.5", eo.DatasetScores)
	}
	want := map[string]float64{"gender": 1, "socioeconomic": 0, "nationality": 1, "sexual-orientation": 0}
	for _, c := range eo.CategoryScores {
		if len(c.Scores) != 1 || c.Scores[0].Value != want[c.Name] {
			t.Errorf("category %s = %+v, want %v", c.Name, c.Scores, want[c.Name])
		}
	}
	if len(eo.CategoryScores) != 4 {
		t.Errorf("categories = %+v", eo.CategoryScores)
	}
	for _, r := range recs {
		d := *r.SentMoreLogP - *r.SentLessLogP
		if r.Scores[0].Name != ScoreLogProbabilityDifference || math.Abs(*r.Scores[0].Value-d) > 1e-12 {
			t.Errorf("record %s: %+v, want log_probability_difference %v", r.Category, r.Scores, d)
		}
	}
	pos := 0.7
	bad := rec("gender", 0.9, 0.5)
	bad.SentMoreLogP = &pos
	_, recs, err = Evaluate(context.Background(), Job{Model: "m", Dataset: &Dataset{Config: DataConfig{Name: "x"}, Records: []Record{bad}}, NumRecords: -1,
		Algorithm: AlgorithmConfig{Name: AlgoPromptStereotyping}})
	if err != nil || recs[0].Error == "" || recs[0].Scores != nil {
		t.Fatalf("positive log-probability: %+v, %v; want a record error", recs, err)
	}
}
