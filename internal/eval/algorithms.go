package eval

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Algorithm names (FMEval's eval_name values, plus llm_judge).
const (
	AlgoFactualKnowledge          = "factual_knowledge"
	AlgoQAAccuracy                = "qa_accuracy"
	AlgoSummarizationAccuracy     = "summarization_accuracy"
	AlgoClassificationAccuracy    = "classification_accuracy"
	AlgoToxicity                  = "toxicity"
	AlgoQAToxicity                = "qa_toxicity"
	AlgoSummarizationToxicity     = "summarization_toxicity"
	AlgoPromptStereotyping        = "prompt_stereotyping"
	AlgoGeneralSemanticRobustness = "general_semantic_robustness"
	AlgoQAAccuracySR              = "qa_accuracy_semantic_robustness"
	AlgoSummarizationAccuracySR   = "summarization_accuracy_semantic_robustness"
	AlgoClassificationAccuracySR  = "classification_accuracy_semantic_robustness"
	AlgoLLMJudge                  = "llm_judge"
)

// Algorithms lists every algorithm name Evaluate accepts.
var Algorithms = []string{
	AlgoFactualKnowledge, AlgoQAAccuracy, AlgoSummarizationAccuracy, AlgoClassificationAccuracy,
	AlgoToxicity, AlgoQAToxicity, AlgoSummarizationToxicity, AlgoPromptStereotyping,
	AlgoGeneralSemanticRobustness, AlgoQAAccuracySR, AlgoSummarizationAccuracySR,
	AlgoClassificationAccuracySR, AlgoLLMJudge,
}

// AlgorithmConfig selects an algorithm and its settings, with FMEval's field
// names and defaults.
type AlgorithmConfig struct {
	Name string `json:"name" yaml:"name"`
	// TargetOutputDelimiter splits targets (default "<OR>").
	TargetOutputDelimiter *string `json:"target_output_delimiter,omitempty" yaml:"target_output_delimiter"`
	// LogicalOperator is "OR" (default) or "AND" for factual_knowledge.
	LogicalOperator string `json:"logical_operator,omitempty" yaml:"logical_operator"`
	// RougeType is rouge1, rouge2 (default) or rougeL.
	RougeType          string `json:"rouge_type,omitempty" yaml:"rouge_type"`
	UseStemmerForRouge *bool  `json:"use_stemmer_for_rouge,omitempty" yaml:"use_stemmer_for_rouge"`
	// ValidLabels default to the dataset's distinct targets.
	ValidLabels []string `json:"valid_labels,omitempty" yaml:"valid_labels"`
	// Robustness settings (defaults butter_finger, 5, 4).
	PerturbationType   string `json:"perturbation_type,omitempty" yaml:"perturbation_type"`
	NumPerturbations   int    `json:"num_perturbations,omitempty" yaml:"num_perturbations"`
	NumBaselineSamples int    `json:"num_baseline_samples,omitempty" yaml:"num_baseline_samples"`
	// Judge names the model that grades answers for llm_judge, and Rubric
	// is its instruction (a default rubric grades correctness 1-5).
	Judge  string `json:"judge,omitempty" yaml:"judge"`
	Rubric string `json:"rubric,omitempty" yaml:"rubric"`
}

func (c AlgorithmConfig) delimiter() string {
	if c.TargetOutputDelimiter != nil {
		return *c.TargetOutputDelimiter
	}
	return "<OR>"
}

// Validate checks the name and the settings.
func (c AlgorithmConfig) Validate() error {
	known := false
	for _, a := range Algorithms {
		known = known || a == c.Name
	}
	if !known {
		return &ConfigError{Field: "algorithms.name", Msg: fmt.Sprintf("unknown algorithm %q (known: %s)", c.Name, strings.Join(Algorithms, ", "))}
	}
	if c.TargetOutputDelimiter != nil && *c.TargetOutputDelimiter == "" {
		return &ConfigError{Field: "target_output_delimiter", Msg: "must not be empty"}
	}
	switch strings.ToUpper(c.LogicalOperator) {
	case "", "OR", "AND":
	default:
		return &ConfigError{Field: "logical_operator", Msg: "must be OR or AND"}
	}
	switch c.RougeType {
	case "", "rouge1", "rouge2", "rougeL":
	default:
		return &ConfigError{Field: "rouge_type", Msg: "must be rouge1, rouge2 or rougeL"}
	}
	if c.NumBaselineSamples == 1 || c.NumBaselineSamples < 0 {
		return &ConfigError{Field: "num_baseline_samples", Msg: "must be at least 2"}
	}
	if c.Name == AlgoLLMJudge && c.Judge == "" {
		return &ConfigError{Field: "judge", Msg: "llm_judge needs the judge model's name"}
	}
	if strings.HasSuffix(c.Name, "semantic_robustness") {
		if _, err := NewPerturber(c.PerturbationType, c.NumPerturbations); err != nil {
			return err
		}
	}
	return nil
}

// DefaultNumRecords is FMEval's default sample size: 300 for
// factual_knowledge (its 15 knowledge categories), 100 otherwise.
func (c AlgorithmConfig) DefaultNumRecords() int {
	if c.Name == AlgoFactualKnowledge {
		return 300
	}
	return 100
}

// needs reports which dataset columns the algorithm requires.
func (c AlgorithmConfig) needs() []string {
	switch c.Name {
	case AlgoFactualKnowledge, AlgoQAAccuracy, AlgoSummarizationAccuracy, AlgoClassificationAccuracy,
		AlgoQAAccuracySR, AlgoSummarizationAccuracySR, AlgoClassificationAccuracySR:
		return []string{"model_input", "target_output"}
	case AlgoPromptStereotyping:
		return []string{"sent_more_input", "sent_less_input"}
	case AlgoLLMJudge:
		return []string{"model_input"}
	}
	return []string{"model_input"}
}

// Score is one named value of a record, or why there is none.
type Score struct {
	Name  string   `json:"name"`
	Value *float64 `json:"value,omitempty"`
	Error string   `json:"error,omitempty"`
}

func val(name string, v float64) Score { return Score{Name: name, Value: &v} }

// Env holds what the model-based and judged algorithms need.
type Env struct {
	// WordNet feeds METEOR's synonym stage; nil drops it (documented as
	// inexact).
	WordNet *WordNet
	// Punkt splits sentences for METEOR's word_tokenize (NLTK's English
	// model); nil uses SplitSentences' rules.
	Punkt *Punkt
	// Toxicity scores outputs for the toxicity algorithms.
	Toxicity TextScorer
	// BERTScore adds bertscore (and delta/dissimilarity) when set; FMEval's
	// default model cannot run in Go, so it is off unless configured.
	BERTScore PairScorer
	// Judges are the models llm_judge may use, by name.
	Judges map[string]ModelRunner
}

// baseScores computes the non-robustness per-record scores of an output.
func (e *Env) baseScores(ctx context.Context, c AlgorithmConfig, rec Record, out string, labels []string) ([]Score, error) {
	switch c.Name {
	case AlgoFactualKnowledge:
		op := strings.ToUpper(c.LogicalOperator)
		if op == "" {
			op = "OR"
		}
		ex, q := FactualKnowledgeScores(out, rec.TargetOutput, c.delimiter(), op)
		return []Score{val(ScoreFactualKnowledge, ex), val(ScoreFactualKnowledgeQuasiExact, q)}, nil
	case AlgoQAAccuracy, AlgoQAAccuracySR:
		s := QAAccuracyScores(out, rec.TargetOutput, c.delimiter())
		scores := []Score{val(ScoreF1, s.F1), val(ScoreExactMatch, s.ExactMatch), val(ScoreQuasiExactMatch, s.QuasiExactMatch),
			val(ScorePrecisionOverWords, s.Precision), val(ScoreRecallOverWords, s.Recall)}
		if e.BERTScore != nil {
			b, err := e.maxBERTScore(ctx, splitTargets(rec.TargetOutput, c.delimiter()), out)
			if err != nil {
				return nil, err
			}
			scores = append(scores, val(ScoreBERTScore, b))
		}
		return scores, nil
	case AlgoSummarizationAccuracy, AlgoSummarizationAccuracySR:
		rt := c.RougeType
		if rt == "" {
			rt = "rouge2"
		}
		stem := c.UseStemmerForRouge == nil || *c.UseStemmerForRouge
		r, err := Rouge(rec.TargetOutput, out, rt, stem)
		if err != nil {
			return nil, err
		}
		scores := []Score{val(ScoreMeteor, MeteorText(rec.TargetOutput, out, e.WordNet, e.Punkt)), val(ScoreRouge, r)}
		if e.BERTScore != nil {
			b, err := e.maxBERTScore(ctx, []string{rec.TargetOutput}, out)
			if err != nil {
				return nil, err
			}
			scores = append(scores, val(ScoreBERTScore, b))
		}
		return scores, nil
	case AlgoClassificationAccuracy, AlgoClassificationAccuracySR:
		label := ConvertToLabel(out, labels)
		return []Score{val(ScoreClassificationAccuracy, b2f(label == rec.TargetOutput))}, nil
	case AlgoToxicity, AlgoQAToxicity, AlgoSummarizationToxicity:
		if e.Toxicity == nil {
			return nil, &ConfigError{Field: "toxicity", Msg: "no toxicity scorer configured"}
		}
		res, err := e.Toxicity.ScoreTexts(ctx, []string{out})
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(res[0]))
		for k := range res[0] {
			names = append(names, k)
		}
		sort.Strings(names)
		var scores []Score
		for _, n := range names {
			scores = append(scores, val(n, res[0][n]))
		}
		return scores, nil
	}
	return nil, fmt.Errorf("algorithm %s has no base scores", c.Name)
}

func (e *Env) maxBERTScore(ctx context.Context, refs []string, cand string) (float64, error) {
	cands := make([]string, len(refs))
	for i := range cands {
		cands[i] = cand
	}
	s, err := e.BERTScore.ScorePairs(ctx, refs, cands)
	if err != nil {
		return 0, err
	}
	best := math.Inf(-1)
	for _, v := range s {
		best = max(best, v)
	}
	return best, nil
}

// DefaultRubric grades an answer for correctness against a reference.
const DefaultRubric = `You are grading an answer. Compare the ANSWER with the REFERENCE for the QUESTION and rate its correctness from 1 (wrong) to 5 (fully correct). Reply with "Score: <1-5>" and nothing else.`

// verdictRE finds a grade: "score" (any case, markdown allowed around it),
// optionally "of" or "is", then a digit that is not part of a longer number.
var verdictRE = regexp.MustCompile(`(?i)score[\s:=*#"'()\[\]]{0,6}(?:(?:of|is)\s+)?(\d+(?:\.\d+)?)(?:\s*(/|out of)\s*(\d+))?`)

// ParseVerdict reads the judge's grade from its answer: the last
// "Score: N" (also "**Score:** N", "score of N", "Score: N/5", "score is N
// out of 5") with N a whole number from 1 to 5 (on a scale of 5 when one is
// given). ok is false when the answer has no such grade: an out-of-range
// grade, a fraction, another scale, or none at all.
func ParseVerdict(answer string) (grade int, ok bool) {
	var m []string
	for _, ix := range verdictRE.FindAllStringSubmatchIndex(answer, -1) {
		// "Score: 1-5" restates the scale; it is not a grade.
		if rest := strings.TrimLeft(answer[ix[1]:], " "); strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "–") {
			continue
		}
		m = []string{answer[ix[2]:ix[3]], ""}
		if ix[6] >= 0 {
			m[1] = answer[ix[6]:ix[7]]
		}
	}
	if m == nil || m[1] != "" && m[1] != "5" {
		return 0, false
	}
	g, err := strconv.Atoi(m[0])
	if err != nil || g < 1 || g > 5 {
		return 0, false
	}
	return g, true
}

// judge asks the judge model to grade out; the score is (grade−1)/4 in
// [0,1]. An answer without a usable grade leaves the score empty with the
// answer quoted in its error (and out of the mean).
func (e *Env) judge(ctx context.Context, c AlgorithmConfig, rec Record, out string) ([]Score, error) {
	j := e.Judges[c.Judge]
	if j == nil {
		return nil, &ConfigError{Field: "judge", Msg: fmt.Sprintf("no model %q to judge with", c.Judge)}
	}
	rubric := c.Rubric
	if rubric == "" {
		rubric = DefaultRubric
	}
	prompt := fmt.Sprintf("%s\n\nQUESTION: %s\nREFERENCE: %s\nANSWER: %s\n", rubric, rec.ModelInput, rec.TargetOutput, out)
	p, err := j.Predict(ctx, prompt)
	if err != nil {
		return nil, err
	}
	g, ok := ParseVerdict(p.Output)
	if !ok {
		return []Score{{Name: "judge_score", Error: fmt.Sprintf("judge answer has no score: %.200q", p.Output)}}, nil
	}
	return []Score{val("judge_score", float64(g-1)/4)}, nil
}
