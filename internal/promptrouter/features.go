package promptrouter

import (
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// hashBits is the size of the hashed n-gram space: 2^hashBits buckets.
const hashBits = 16

// numDense is the number of dense (structural) features.
const numDense = 10

// feature is one non-zero input of the linear model: a hashed n-gram
// bucket (index < 1<<hashBits) or a dense feature (index ≥ 1<<hashBits).
type feature struct {
	i int
	v float32
}

// features turns a prompt into the model's sparse input. Words are
// lower-cased runs of letters and digits; each unigram and bigram is hashed
// into a bucket with weight 1/sqrt(#n-grams), so long prompts do not
// dominate. Dense features describe the prompt's shape: length, digits,
// arithmetic, lines, options, questions. They are standardized by the
// model's stored means and deviations.
func features(text string, dst []feature) []feature {
	dst = dst[:0]
	words := tokenize(text)
	n := 2*len(words) - 1
	if n < 1 {
		n = 1
	}
	w := float32(1 / math.Sqrt(float64(n)))
	for i, word := range words {
		dst = append(dst, feature{bucket("u", word, ""), w})
		if i > 0 {
			dst = append(dst, feature{bucket("b", words[i-1], word), w})
		}
	}
	d := dense(text, len(words))
	for j, v := range d {
		dst = append(dst, feature{1<<hashBits + j, float32(v)})
	}
	return dst
}

// tokenize splits text into lower-cased runs of letters and digits.
func tokenize(text string) []string {
	var words []string
	start := -1
	for i, r := range text {
		ok := unicode.IsLetter(r) || unicode.IsDigit(r)
		if ok && start < 0 {
			start = i
		}
		if !ok && start >= 0 {
			words = append(words, strings.ToLower(text[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		words = append(words, strings.ToLower(text[start:]))
	}
	return words
}

func bucket(kind, a, b string) int {
	h := fnv.New32a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(a))
	h.Write([]byte{0})
	h.Write([]byte(b))
	return int(h.Sum32() & (1<<hashBits - 1))
}

// dense returns the raw structural features of text.
func dense(text string, words int) [numDense]float64 {
	var digits, ops, lines, qmarks, dollars, upper, letters int
	for _, r := range text {
		switch {
		case unicode.IsDigit(r):
			digits++
		case strings.ContainsRune("+-*/=^<>%", r):
			ops++
		case r == '\n':
			lines++
		case r == '?':
			qmarks++
		case r == '$':
			dollars++
		}
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	chars := len(text)
	options := 0
	for _, o := range []string{"\nA.", "\nB.", "\nC.", "\nD."} {
		if strings.Contains(text, o) {
			options++
		}
	}
	frac := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	return [numDense]float64{
		math.Log1p(float64(chars)),
		math.Log1p(float64(words)),
		frac(digits, chars),
		math.Log1p(float64(ops)),
		math.Log1p(float64(lines)),
		float64(qmarks),
		float64(dollars),
		frac(upper, letters),
		float64(options),
		frac(chars, words+1),
	}
}
