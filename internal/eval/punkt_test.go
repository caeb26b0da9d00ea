package eval

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/testenv"
)

// punktVocab is words and pieces around which Punkt's decisions turn:
// known abbreviations, initials, numbers, ellipses, quotes and brackets
// after a period, frequent sentence starters, lower- and upper-case
// continuations, and words whose orthographic context the model knows.
const punktVocab = `Mr. Mrs. Dr. Prof. St. Jr. Inc. Ltd. Co. Corp. U.S. U.K. e.g. i.e. etc. vs. Jan. Feb. Sept. Oct.
Gen. Sen. Rep. Lt. Col. Capt. No. Fig. Mt. Ft. a.m. p.m. Ph.D. J. K. A. B. Smith Bach New York Paris
the a an cat sat on mat dog ran home he she it they we but however although because and or then
Yesterday Today But However The A He She It They We In On At After Before When While If
said told asked went came saw 1990. 3.88 42. 1,000. 12th 2nd No.1 ... .. ? ! ?! . , ; : " ' ( ) [ ] --
"Hello." 'Yes.' (see above.) [sic.] end. Stop. Go. Yes. no. ok. okay. St. Louis Washington D.C.
according among both meanwhile nevertheless since thus also it's don't I'm café naïve`

func punktCorpus(n int) []string {
	vocab := strings.Fields(punktVocab)
	r := rand.New(rand.NewPCG(7, 2026))
	var out []string
	for range n {
		var b strings.Builder
		for s := 1 + r.IntN(4); s > 0; s-- {
			for w := 1 + r.IntN(9); w > 0; w-- {
				b.WriteString(vocab[r.IntN(len(vocab))])
				switch r.IntN(12) {
				case 0:
					b.WriteString("\n")
				case 1:
					b.WriteString("  ")
				default:
					b.WriteString(" ")
				}
			}
			b.WriteString([]string{". ", "? ", "! ", ".\n", "... ", "\" ", ".) ", ". "}[r.IntN(8)])
		}
		out = append(out, b.String())
	}
	return out
}

// TestPunktOracle runs NLTK 3.10.4's sent_tokenize and word_tokenize with
// NLTK's trained English Punkt model (make punkt) on generated
// multi-sentence texts and requires the same sentences and tokens.
func TestPunktOracle(t *testing.T) {
	py := testenv.Python(t)
	dir := testenv.Punkt(t)
	pk, err := LoadPunkt(filepath.Join(dir, "english"))
	if err != nil {
		t.Fatal(err)
	}
	texts := append(punktCorpus(800),
		"Good muffins cost $3.88\nin New York.  Please buy me\ntwo of them.\nThanks.",
		"Mr. Smith went to Washington. He arrived at 3 p.m. and left.",
		"J. S. Bach was born in 1685. He wrote music.",
		`"Stop." He said. (It was late.) Then -- nothing.`,
		"Wait... What? No!! Really?! OK.",
		"The U.S. Army is large. The U.K. is not.",
	)
	req, _ := json.Marshal(map[string]any{"punkt": dir, "texts": texts})
	cmd := exec.Command(py, "testdata/punkt_oracle.py")
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v\n%s", err, stderr.String())
	}
	var res []struct {
		Sentences []string `json:"sentences"`
		Tokens    []string `json:"tokens"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	bad, multi := 0, 0
	for i, text := range texts {
		got := pk.Sentences(text)
		if len(res[i].Sentences) > 1 {
			multi++
		}
		if strings.Join(got, "\x00") != strings.Join(res[i].Sentences, "\x00") {
			bad++
			t.Errorf("Sentences(%q) =\n%q; NLTK\n%q", text, got, res[i].Sentences)
		} else if toks := pk.WordTokenize(text); strings.Join(toks, "\x00") != strings.Join(res[i].Tokens, "\x00") {
			bad++
			t.Errorf("WordTokenize(%q) =\n%q; NLTK\n%q", text, toks, res[i].Tokens)
		}
		if bad > 10 {
			t.Fatal("too many mismatches")
		}
	}
	if multi < len(texts)/2 {
		t.Fatalf("only %d of %d texts have several sentences: the set does not exercise Punkt", multi, len(texts))
	}
	t.Logf("%d texts (%d with several sentences) equal to NLTK's", len(texts), multi)
}
