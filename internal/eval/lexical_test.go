package eval

import (
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/testenv"
)

var (
	wnOnce sync.Once
	wnData *WordNet
	wnErr  error
)

func testWordNet(t testing.TB) *WordNet {
	t.Helper()
	dir := testenv.WordNet(t)
	wnOnce.Do(func() { wnData, wnErr = LoadWordNet(dir) })
	if wnErr != nil {
		t.Fatal(wnErr)
	}
	return wnData
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

// The vectors of evals.md §1.5 (FMEval's own unit-test expectations,
// reproduced with NLTK and WordNet 3.0).
var fmevalVectors = []struct {
	target, model                      string
	rouge1, rouge2, rougeL, meteor, f1 float64
}{
	{"I like cake.", "I like cake.", 1, 1, 1, 0.9921875, 1},
	{"Berlin: an art metropolis.", "Berlin: Art, Heritage, Exhibitions Hub.", 0.4444444444444445, 0, 0.4444444444444445, 0.5009920634920636, 0.5},
	{"injury leaves kwan 's olympic hopes in limbo", "Michelle Kwan withdrew from the US figure skating championships because of an injury.", 0.1904761904761905, 0, 0.09523809523809525, 0.11627906976744187, 0.21052631578947367},
	{"The cat sat on the mat.", "The cat is sitting on the mat.", 0.7692307692307692, 0.5454545454545454, 0.7692307692307692, 0.8294209702660407, 0.6666666666666666},
	{"us business attacks tough immigration law", "US business leaders criticized the immigration legislation.", 0.4615384615384615, 0.1818181818181818, 0.4615384615384615, 0.41218637992831536, 0.5},
	{"It is once again autumn", "It is autumn", 0.7499999999999999, 0.3333333333333333, 0.7499999999999999, 0.5324074074074074, 0.7499999999999999},
}

func TestFMEvalVectorsLexical(t *testing.T) {
	for _, v := range fmevalVectors {
		for _, c := range []struct {
			typ  string
			want float64
		}{{"rouge1", v.rouge1}, {"rouge2", v.rouge2}, {"rougeL", v.rougeL}} {
			got, err := Rouge(v.target, v.model, c.typ, true)
			if err != nil || !near(got, c.want) {
				t.Errorf("%s(%q, %q) = %v, %v; want %v", c.typ, v.target, v.model, got, err, c.want)
			}
		}
		if got := QAAccuracyScores(v.model, v.target, "<OR>").F1; !near(got, v.f1) {
			t.Errorf("f1(%q, %q) = %v; want %v", v.target, v.model, got, v.f1)
		}
	}
}

func TestFMEvalVectorsMeteor(t *testing.T) {
	wn := testWordNet(t)
	for _, v := range fmevalVectors {
		if got := MeteorText(v.target, v.model, wn, nil); !near(got, v.meteor) {
			t.Errorf("meteor(%q, %q) = %.17g; want %.17g", v.target, v.model, got, v.meteor)
		}
	}
}

func TestPorterNLTK(t *testing.T) {
	const pairs = `running=run generously=gener generous=gener fairly=fairli happy=happi skies=sky dying=die news=news
summarization=summar agreed=agre relational=relat conditional=condit sensibility=sensibl hopefulness=hope
ponies=poni ties=tie sized=size hopping=hop tanned=tan filing=file happily=happili rational=ration
metropolis=metropoli heritage=heritag olympic=olymp leaves=leav once=onc because=becaus criticized=critic`
	for _, p := range strings.Fields(pairs) {
		w, want, _ := strings.Cut(p, "=")
		if got := Stem(w); got != want {
			t.Errorf("Stem(%q) = %q; want %q", w, got, want)
		}
	}
}

func TestRougeTokens(t *testing.T) {
	got := strings.Join(RougeTokens("Berlin: Art, Heritage, Exhibitions Hub.", true), " ")
	if got != "berlin art heritag exhibit hub" {
		t.Errorf("tokens = %q", got)
	}
	if got := strings.Join(RougeTokens("Berlin: an art metropolis.", true), " "); got != "berlin an art metropoli" {
		t.Errorf("tokens = %q", got)
	}
}

func TestTreebank(t *testing.T) {
	got := strings.Join(TreebankTokenize(`He didn't say "no" (really).`), " ")
	if got != "He did n't say `` no '' ( really ) ." {
		t.Errorf("tokens = %q", got)
	}
	got = strings.Join(WordTokenize("Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\nThanks."), " ")
	if got != "Good muffins cost $ 3.88 in New York . Please buy me two of them . Thanks ." {
		t.Errorf("word_tokenize = %q", got)
	}
}

func TestQAAccuracyVectors(t *testing.T) {
	s := QAAccuracyScores("Yes. That is true.", "yes", "<OR>")
	if !near(s.F1, 0.4) || !near(s.Precision, 0.25) || s.Recall != 1 || s.ExactMatch != 0 || s.QuasiExactMatch != 0 {
		t.Errorf("yes: %+v", s)
	}
	s = QAAccuracyScores("tarantino!", "Quentin Tarantino", "<OR>")
	if !near(s.F1, 2.0/3) || s.Precision != 1 || s.Recall != 0.5 {
		t.Errorf("tarantino: %+v", s)
	}
	s = QAAccuracyScores("Paris", "London<OR>paris", "<OR>")
	if s.QuasiExactMatch != 1 || s.ExactMatch != 0 || s.F1 != 1 {
		t.Errorf("or targets: %+v", s)
	}
}

func TestFactualKnowledge(t *testing.T) {
	for _, c := range []struct {
		out, target, op string
		exact, quasi    float64
	}{
		{"It is in the start of London", "art", "OR", 1, 1},
		{"The capital is PARIS.", "paris<OR>lyon", "OR", 1, 1},
		{"The capital is Paris.", "paris<AND>lyon", "AND", 0, 0},
		{"Paris and Lyon", "paris<AND>lyon", "AND", 1, 1},
		{"U.S.A is big", "the usa", "OR", 0, 1},
	} {
		d := "<OR>"
		if c.op == "AND" {
			d = "<AND>"
		}
		e, q := FactualKnowledgeScores(c.out, c.target, d, c.op)
		if e != c.exact || q != c.quasi {
			t.Errorf("%q/%q: got %v %v want %v %v", c.out, c.target, e, q, c.exact, c.quasi)
		}
	}
}

func TestWER(t *testing.T) {
	got, err := WER([]string{"it is pouring down today"}, []string{"it is very rainy today"})
	if err != nil || !near(got, 0.4) {
		t.Errorf("wer = %v, %v", got, err)
	}
	got, err = WER([]string{"it is pouring down today", "the cat sat"}, []string{"it is very rainy today", "the cat sat on the mat"})
	if err != nil || !near(got, 0.625) {
		t.Errorf("corpus wer = %v, %v", got, err)
	}
	if _, err := WER([]string{"  "}, []string{"x"}); err == nil {
		t.Error("empty reference accepted")
	}
}

func TestClassification(t *testing.T) {
	if got := ConvertToLabel("The answer is 2.", []string{"1", "2"}); got != "unknown" {
		t.Errorf("label = %q", got)
	}
	if got := ConvertToLabel("I think 1 is right", []string{"0", "1"}); got != "1" {
		t.Errorf("label = %q", got)
	}
	m := Classify([]string{"1", "1", "1", "0"}, []string{"1", "unknown", "1", "1"})
	if !near(m.Accuracy, 0.5) || !near(m.BalancedAccuracy, (0.0+2.0/3)/2) || m.Precision != m.Accuracy {
		t.Errorf("metrics = %+v", m)
	}
}
