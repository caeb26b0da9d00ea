package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/testenv"
)

// oracleVocab mixes ordinary words, inflections that exercise the Porter
// steps and WordNet's morphology, synonyms, contractions, numbers and
// punctuation.
const oracleVocab = `the a an cat cats sat sitting sits mat mats dog dogs ran running runs quickly quick
happy happily happiness generous generously fairly hopeful hopefulness relational conditional
rational sensibility agreed agreement controlling controlled rolling ponies ties skies dying lying
news innings proceed exceeded succeeded summarization organization national nationally
hopping hoped hoping tanned filing filed sized oats trouble troubles private oaten orrery
generalization electrical electricity triplicate formative formalize goodness revival allowance
inference airliner gyroscopic adjustable defensible irritant replacement adjustment dependent
adoption homologous communism activate angularity effective bowdlerize probate rate cease
controll roll big large huge small little tiny car automobile auto house home buy purchase
bought children child geese goose mice men women went gone better best worse worst
Berlin art metropolis heritage exhibitions hub immigration law legislation leaders criticized
business attacks tough US U.S. Kwan olympic hopes limbo injury withdrew skating championships
can't won't didn't it's I'm they're we've you'll cannot gonna wanna gimme 'tis
3.88 1990 42 1,000 $ % & @ # ; : , ( ) [ ] { } " ' -- ... ? ! * « » “ ” café naïve résumé`

func oracleCorpus(n int) (pairs [][2]string, words []string) {
	vocab := strings.Fields(oracleVocab)
	r := rand.New(rand.NewPCG(15, 2026))
	sentence := func() string {
		k := 1 + r.IntN(14)
		ws := make([]string, k)
		for i := range ws {
			ws[i] = vocab[r.IntN(len(vocab))]
		}
		s := strings.Join(ws, " ")
		switch r.IntN(4) {
		case 0:
			s += "."
		case 1:
			s += " ."
		case 2:
			rs := []rune(s)
			s = strings.ToUpper(string(rs[:1])) + string(rs[1:])
		}
		return s
	}
	for i := 0; i < n; i++ {
		a := sentence()
		b := sentence()
		if r.IntN(3) == 0 { // overlapping pairs score above zero
			b = a[:len(a)/2] + " " + b
		}
		pairs = append(pairs, [2]string{a, b})
	}
	return pairs, vocab
}

// TestOracle cross-checks the ports against NLTK and rouge_score themselves
// (test/interop/python/requirements.txt) on a generated set: stems equal,
// ROUGE and METEOR within 1e-9. Sentences are single, so NLTK's Punkt model
// (not shipped by any registry) plays no part.
func TestOracle(t *testing.T) {
	py := testenv.Python(t)
	wnDir := testenv.WordNet(t)
	wn := testWordNet(t)
	pairs, words := oracleCorpus(600)
	req, _ := json.Marshal(map[string]any{"wordnet": wnDir, "pairs": pairs, "words": words})
	cmd := exec.Command(py, "testdata/oracle.py")
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v\n%s", err, stderr.String())
	}
	var res struct {
		Stems []string `json:"stems"`
		Pairs []struct {
			Rouge1, Rouge2, RougeL, Meteor float64
			TargetTokens                   []string `json:"target_tokens"`
		} `json:"pairs"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	for i, w := range words {
		if got := Stem(pyLower(w)); got != res.Stems[i] {
			t.Errorf("Stem(%q) = %q; NLTK %q", w, got, res.Stems[i])
		}
	}
	bad := 0
	for i, p := range pairs {
		o := res.Pairs[i]
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"rouge1", must(Rouge(p[0], p[1], "rouge1", true)), o.Rouge1},
			{"rouge2", must(Rouge(p[0], p[1], "rouge2", true)), o.Rouge2},
			{"rougeL", must(Rouge(p[0], p[1], "rougeL", true)), o.RougeL},
			{"meteor", Meteor(TreebankTokenize(p[0]), TreebankTokenize(p[1]), wn), o.Meteor},
		} {
			if math.Abs(c.got-c.want) > 1e-9 {
				bad++
				t.Errorf("%s(%q, %q) = %.17g; oracle %.17g", c.name, p[0], p[1], c.got, c.want)
			}
		}
		if got := TreebankTokenize(p[0]); strings.Join(got, "\x00") != strings.Join(o.TargetTokens, "\x00") {
			t.Errorf("tokens(%q) = %q; NLTK %q", p[0], got, o.TargetTokens)
		}
		if bad > 20 {
			t.Fatal("too many mismatches")
		}
	}
}

func must(v float64, err error) float64 {
	if err != nil {
		panic(err)
	}
	return v
}
