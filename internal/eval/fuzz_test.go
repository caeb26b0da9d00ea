package eval

import (
	"math"
	"os"
	"path/filepath"
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

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"$model_input", "Q: ${model_input}?", "$$5 $model_input", "$", "${", "${1x}", "$other", `{"inputs": $prompt}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		ids, idErr := Template(tmpl).Identifiers()
		_, err := Template(tmpl).Substitute(map[string]string{"model_input": "X", "prompt": `"P"`})
		if (idErr == nil) != (err == nil) && idErr != nil {
			t.Fatalf("%q: Identifiers %v but Substitute %v", tmpl, idErr, err)
		}
		for _, id := range ids {
			if err == nil && id != "model_input" && id != "prompt" {
				t.Fatalf("%q: $%s substituted without a value", tmpl, id)
			}
		}
	})
}

func FuzzDataset(f *testing.F) {
	f.Add("{\"q\": \"a\", \"t\": 1.5, \"c\": [1, \"x\", null, true]}\n{\"q\": {\"n\": 1e-7}, \"t\": \"b\", \"c\": 2}\n", "q", "t")
	f.Add("{\"Review Text\": \"ok\", \"Recommended IND\": 1}\n\n", `"Review Text"`, `"Recommended IND"`)
	f.Add("[1,2]\n{\n", "[0]", "x")
	f.Fuzz(func(t *testing.T, body, in, target string) {
		p := filepath.Join(t.TempDir(), "d.jsonl")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := LoadDataset(DataConfig{Name: "f", URI: p, ModelInputLocation: in, TargetOutputLocation: target})
		if err == nil && len(ds.Records) == 0 {
			t.Fatal("no error and no records")
		}
	})
}

// FuzzPunkt: Punkt's sentences are ordered, non-overlapping pieces of the
// text, and it never panics.
func FuzzPunkt(f *testing.F) {
	pk := &Punkt{abbrev: map[string]bool{"mr": true, "u.s": true}, collocations: map[[2]string]bool{{"##number##", "st"}: true},
		starters: map[string]bool{"but": true}, ortho: map[string]int{"he": orthoBegUC | orthoMidLC}}
	for _, s := range []string{"Mr. Smith left. He came back...", "\"Stop.\" (Then.) -- ok?! . . . x", "a.b.c. 3.5. J. Bach\n\nNew.", "'])}\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		pos := 0
		for _, s := range pk.spans(text) {
			if s[0] < pos || s[1] < s[0] || s[1] > len(text) {
				t.Fatalf("spans(%q): %v after %d", text, s, pos)
			}
			pos = s[1]
		}
		pk.WordTokenize(text)
	})
}
