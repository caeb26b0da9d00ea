package eval

import (
	"math"
	"testing"
)

func FuzzLexical(f *testing.F) {
	for _, v := range fmevalVectors {
		f.Add(v.target, v.model)
	}
	f.Add(`He didn't say "no" (really).`, "cannot gonna 'tis wanna go, U.S. Mr. Smith... 3.88!")
	f.Add("", "\x00\xff\u0130")
	f.Fuzz(func(t *testing.T, a, b string) {
		_ = Stem(a)
		_ = WordTokenize(a)
		for _, typ := range []string{"rouge1", "rouge2", "rougeL"} {
			r, err := Rouge(a, b, typ, true)
			if err != nil || r < 0 || r > 1 || math.IsNaN(r) {
				t.Fatalf("%s = %v, %v", typ, r, err)
			}
		}
		if m := Meteor(WordTokenize(a), WordTokenize(b), nil); m < 0 || m > 1 || math.IsNaN(m) {
			t.Fatalf("meteor = %v", m)
		}
		q := QAAccuracyScores(b, a, "<OR>")
		if q.F1 < 0 || q.F1 > 1 {
			t.Fatalf("f1 = %v", q.F1)
		}
		_, _ = FactualKnowledgeScores(b, a, "<OR>", "OR")
		_, _ = WER([]string{a}, []string{b})
	})
}
