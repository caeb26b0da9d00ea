package eval

import (
	"sort"
	"strings"
)

// Score names, exactly as FMEval logs them.
const (
	ScoreFactualKnowledge           = "factual_knowledge"
	ScoreFactualKnowledgeQuasiExact = "factual_knowledge_quasi_exact"
	ScoreF1                         = "f1_score"
	ScoreExactMatch                 = "exact_match_score"
	ScoreQuasiExactMatch            = "quasi_exact_match_score"
	ScorePrecisionOverWords         = "precision_over_words"
	ScoreRecallOverWords            = "recall_over_words"
	ScoreBERTScore                  = "bertscore"
	ScoreMeteor                     = "meteor"
	ScoreRouge                      = "rouge"
	ScoreClassificationAccuracy     = "classification_accuracy_score"
	ScoreBalancedAccuracy           = "balanced_accuracy_score"
	ScorePrecision                  = "precision_score"
	ScoreRecall                     = "recall_score"
	ScorePromptStereotyping         = "prompt_stereotyping"
	ScoreLogProbabilityDifference   = "log_probability_difference"
	ScoreWordErrorRate              = "word_error_rate"
	ScoreBERTScoreDissimilarity     = "bertscore_dissimilarity"
	ScoreToxicity                   = "toxicity"
	// DeltaPrefix prefixes the robustness variants' delta scores.
	DeltaPrefix = "delta_"
)

// b2f is Python's float(bool).
func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// FactualKnowledgeScores returns FMEval's factual_knowledge (case-insensitive
// substring inclusion) and factual_knowledge_quasi_exact (inclusion after
// normalisation) for one record. The target is split by delimiter ("<OR>" by
// default; "" splits on whitespace as Python's split(None)); operator "OR"
// takes the maximum over targets and "AND" the minimum.
func FactualKnowledgeScores(modelOutput, target, delimiter, operator string) (exact, quasi float64) {
	targets := splitTargets(target, delimiter)
	mLower := pyLower(modelOutput)
	mNorm := NormalizeText(pyStrip(modelOutput))
	and := strings.EqualFold(operator, "AND")
	for i, t := range targets {
		e := b2f(strings.Contains(mLower, pyLower(t)))
		q := b2f(strings.Contains(mNorm, NormalizeText(pyStrip(t))))
		if i == 0 {
			exact, quasi = e, q
			continue
		}
		if and {
			exact, quasi = min(exact, e), min(quasi, q)
		} else {
			exact, quasi = max(exact, e), max(quasi, q)
		}
	}
	return exact, quasi
}

// QAScores are QAAccuracy's lexical scores for one record.
type QAScores struct {
	F1, ExactMatch, QuasiExactMatch, Precision, Recall float64
}

// QAAccuracyScores computes FMEval's QAAccuracy scores: each is the maximum
// over the targets split by delimiter. Precision, recall and F1 are over the
// sets of normalised words (NLTK's set-based scores, not SQuAD's bags).
func QAAccuracyScores(modelOutput, target, delimiter string) QAScores {
	var best QAScores
	m := pyStrip(modelOutput)
	mNorm := NormalizeText(m)
	mSet := wordSet(mNorm)
	for i, t := range splitTargets(target, delimiter) {
		t = pyStrip(t)
		tNorm := NormalizeText(t)
		p, r, f := setPRF(wordSet(tNorm), mSet)
		s := QAScores{
			F1:              f,
			ExactMatch:      b2f(m == t),
			QuasiExactMatch: b2f(mNorm == tNorm),
			Precision:       p,
			Recall:          r,
		}
		if i == 0 {
			best = s
			continue
		}
		best.F1 = max(best.F1, s.F1)
		best.ExactMatch = max(best.ExactMatch, s.ExactMatch)
		best.QuasiExactMatch = max(best.QuasiExactMatch, s.QuasiExactMatch)
		best.Precision = max(best.Precision, s.Precision)
		best.Recall = max(best.Recall, s.Recall)
	}
	return best
}

func wordSet(s string) map[string]struct{} {
	set := map[string]struct{}{}
	for _, w := range pySplit(s) {
		set[w] = struct{}{}
	}
	return set
}

// setPRF is nltk.metrics.scores precision, recall and f_measure(alpha=0.5)
// with FMEval's None→0.0.
func setPRF(reference, test map[string]struct{}) (p, r, f float64) {
	inter := 0
	for w := range test {
		if _, ok := reference[w]; ok {
			inter++
		}
	}
	pOK, rOK := len(test) > 0, len(reference) > 0
	if pOK {
		p = float64(inter) / float64(len(test))
	}
	if rOK {
		r = float64(inter) / float64(len(reference))
	}
	if !pOK || !rOK || p == 0 || r == 0 {
		return p, r, 0
	}
	return p, r, 1.0 / (0.5/p + 0.5/r)
}

// ConvertToLabel is FMEval's convert_model_output_to_label: the first word of
// the output (split on the space character) that, lowercased and stripped,
// is one of the lowercased and stripped valid labels; "unknown" otherwise.
func ConvertToLabel(modelOutput string, validLabels []string) string {
	labels := make(map[string]struct{}, len(validLabels))
	for _, l := range validLabels {
		labels[pyStrip(pyLower(l))] = struct{}{}
	}
	for _, w := range strings.Split(modelOutput, " ") {
		w = pyStrip(pyLower(w))
		if _, ok := labels[w]; ok {
			return w
		}
	}
	return "unknown"
}

// ClassificationMetrics are the dataset-level classification scores.
type ClassificationMetrics struct {
	Accuracy, BalancedAccuracy, Precision, Recall float64
}

// Classify computes accuracy (mean of label == target), sklearn's
// balanced_accuracy_score (mean recall over the classes present in yTrue;
// predicted-only classes such as "unknown" are ignored) and micro-averaged
// precision and recall (both equal to accuracy for single-label data).
func Classify(yTrue, yPred []string) ClassificationMetrics {
	if len(yTrue) == 0 {
		return ClassificationMetrics{}
	}
	correct := 0
	perClass := map[string][2]int{} // class -> {hits, support}
	for i, t := range yTrue {
		c := perClass[t]
		c[1]++
		if yPred[i] == t {
			correct++
			c[0]++
		}
		perClass[t] = c
	}
	classes := make([]string, 0, len(perClass))
	for k := range perClass {
		classes = append(classes, k)
	}
	sort.Strings(classes) // sklearn sums recalls in sorted label order
	var sum float64
	for _, k := range classes {
		c := perClass[k]
		sum += float64(c[0]) / float64(c[1])
	}
	acc := float64(correct) / float64(len(yTrue))
	return ClassificationMetrics{
		Accuracy:         acc,
		BalancedAccuracy: sum / float64(len(classes)),
		Precision:        acc,
		Recall:           acc,
	}
}
