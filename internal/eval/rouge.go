package eval

import "strings"

// RougeTokens is Google rouge_score's default tokenizer with use_stemmer=True:
// lowercase, replace every run of characters outside [a-z0-9] by a space,
// split on whitespace, Porter-stem (NLTK) the tokens longer than three
// characters, and keep only the non-empty [a-z0-9]+ tokens. Non-ASCII
// letters therefore vanish.
func RougeTokens(text string, stem bool) []string {
	text = pyLower(text)
	var b strings.Builder
	b.Grow(len(text))
	inRun := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteByte(c)
			inRun = false
			continue
		}
		if !inRun {
			b.WriteByte(' ')
			inRun = true
		}
	}
	fields := strings.Fields(b.String())
	if stem {
		for i, f := range fields {
			if len(f) > 3 {
				fields[i] = Stem(f)
			}
		}
	}
	out := fields[:0]
	for _, f := range fields {
		if f != "" && isAlnumASCII(f) {
			out = append(out, f)
		}
	}
	return out
}

func isAlnumASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// fmeasure is rouge_score.scoring.fmeasure.
func fmeasure(p, r float64) float64 {
	if p+r > 0 {
		return 2 * p * r / (p + r)
	}
	return 0
}

// RougeN is rouge_score's ROUGE-N F-measure over n-gram multisets of the
// tokenized target and prediction.
func RougeN(target, prediction []string, n int) float64 {
	tg, pg := ngrams(target, n), ngrams(prediction, n)
	inter, tc, pc := 0, 0, 0
	for g, c := range tg {
		inter += min(c, pg[g])
		tc += c
	}
	for _, c := range pg {
		pc += c
	}
	p := float64(inter) / float64(max(pc, 1))
	r := float64(inter) / float64(max(tc, 1))
	return fmeasure(p, r)
}

func ngrams(toks []string, n int) map[string]int {
	m := map[string]int{}
	for i := 0; i+n <= len(toks); i++ {
		m[strings.Join(toks[i:i+n], "\x00")]++
	}
	return m
}

// RougeL is rouge_score's ROUGE-L F-measure (longest common subsequence).
func RougeL(target, prediction []string) float64 {
	if len(target) == 0 || len(prediction) == 0 {
		return 0
	}
	prev := make([]int, len(prediction)+1)
	cur := make([]int, len(prediction)+1)
	for i := 1; i <= len(target); i++ {
		for j := 1; j <= len(prediction); j++ {
			if target[i-1] == prediction[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	lcs := prev[len(prediction)]
	p := float64(lcs) / float64(len(prediction))
	r := float64(lcs) / float64(len(target))
	return fmeasure(p, r)
}

// Rouge computes FMEval's "rouge" score: the F-measure of the configured type
// ("rouge1", "rouge2" or "rougeL") between target and model output, as HF
// evaluate's rouge metric returns it for one pair.
func Rouge(target, modelOutput, rougeType string, stem bool) (float64, error) {
	t, p := RougeTokens(target, stem), RougeTokens(modelOutput, stem)
	switch rougeType {
	case "rouge1":
		return RougeN(t, p, 1), nil
	case "rouge2":
		return RougeN(t, p, 2), nil
	case "rougeL":
		return RougeL(t, p), nil
	}
	return 0, &ConfigError{Field: "rouge_type", Msg: "must be rouge1, rouge2 or rougeL, got " + rougeType}
}

// ConfigError reports an invalid evaluation configuration value.
type ConfigError struct {
	Field, Msg string
}

func (e *ConfigError) Error() string { return "eval config: " + e.Field + ": " + e.Msg }
