package eval

import (
	"math/rand/v2"
	"strings"
	"unicode"
)

// perturbSeed is FMEval's seed for the perturbation generators (5); the Go
// generator is PCG, so perturbed strings differ from FMEval's numpy PCG64
// ones while following the same algorithm and parameters.
const perturbSeed = 5

// butterFingerKeys maps a key to the keys a finger may slip to on a QWERTY
// keyboard (the table NL-Augmenter's butter-finger perturbation uses; the
// key itself is among them).
var butterFingerKeys = map[rune]string{
	'q': "qwasedzx", 'w': "wqesadrfcx", 'e': "ewrsfdqazxcvgt", 'r': "retdgfwsxcvgt",
	't': "tryfhgedcvbnju", 'y': "ytugjhrfvbnji", 'u': "uyihkjtgbnmlo", 'i': "iuojlkyhnmlp",
	'o': "oipklujm", 'p': "plo['ik", 'a': "aqszwxwdce", 's': "swxadrfv", 'd': "decsfaqgbv",
	'f': "fdgrvwsxyhn", 'g': "gtbfhedcyjn", 'h': "hyngjfrvkim", 'j': "jhknugtblom",
	'k': "kjlinyhn", 'l': "lokmpujn", 'z': "zaxsvde", 'x': "xzcsdbvfrewq", 'c': "cxvdfzswergb",
	'v': "vcfbgxdertyn", 'b': "bvnghcftyun", 'n': "nbmhjvgtuik", 'm': "mnkjloik", ' ': " ",
}

// Perturber makes the perturbed variants of a prompt for the robustness
// algorithms. One Perturber keeps one generator across records, as FMEval's
// transforms do; it is not safe for concurrent use.
type Perturber struct {
	Type                             string
	N                                int
	ButterFingerProb                 float64
	RandomUppercaseCorruptProportion float64
	WhitespaceAddProb                float64
	WhitespaceRemoveProb             float64
	rng                              *rand.Rand
}

// NewPerturber returns a perturber with FMEval's defaults for zero fields.
func NewPerturber(typ string, n int) (*Perturber, error) {
	if typ == "" {
		typ = "butter_finger"
	}
	switch typ {
	case "butter_finger", "random_upper_case", "whitespace_add_remove":
	default:
		return nil, &ConfigError{Field: "perturbation_type", Msg: "must be butter_finger, random_upper_case or whitespace_add_remove"}
	}
	if n <= 0 {
		n = 5
	}
	return &Perturber{Type: typ, N: n, ButterFingerProb: 0.1, RandomUppercaseCorruptProportion: 0.1,
		WhitespaceAddProb: 0.05, WhitespaceRemoveProb: 0.1,
		rng: rand.New(rand.NewPCG(perturbSeed, 0))}, nil
}

// Perturb returns N perturbed variants of text.
func (p *Perturber) Perturb(text string) []string {
	out := make([]string, p.N)
	for i := range out {
		switch p.Type {
		case "butter_finger":
			out[i] = p.butterFinger(text)
		case "random_upper_case":
			out[i] = p.randomUpper(text)
		default:
			out[i] = p.whitespace(text)
		}
	}
	return out
}

func (p *Perturber) butterFinger(text string) string {
	var b strings.Builder
	for _, r := range text {
		lower := unicode.ToLower(r)
		nl := lower
		if keys, ok := butterFingerKeys[lower]; ok && p.rng.Float64() <= p.ButterFingerProb {
			ks := []rune(keys)
			nl = ks[p.rng.IntN(len(ks))]
		}
		if unicode.IsUpper(r) {
			nl = unicode.ToUpper(nl)
		}
		b.WriteRune(nl)
	}
	return b.String()
}

func (p *Perturber) randomUpper(text string) string {
	rs := []rune(text)
	k := int(float64(len(rs)) * p.RandomUppercaseCorruptProportion)
	for _, i := range p.rng.Perm(len(rs))[:k] {
		rs[i] = unicode.ToUpper(rs[i])
	}
	return string(rs)
}

func (p *Perturber) whitespace(text string) string {
	var b strings.Builder
	for _, r := range text {
		x := p.rng.Float64()
		if pyIsSpace(r) {
			if x < p.WhitespaceRemoveProb {
				continue
			}
			b.WriteRune(r)
			continue
		}
		b.WriteRune(r)
		if x < p.WhitespaceAddProb {
			b.WriteByte(' ')
		}
	}
	return b.String()
}
