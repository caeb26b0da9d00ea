package eval

import (
	"errors"
	"strings"
	"unicode"
)

// pyIsSpace reports whether r is whitespace for Python's str.isspace, str.split()
// and str.strip(): Unicode White_Space plus the ASCII separators U+001C..U+001F,
// which Python counts and Go's unicode.IsSpace does not.
func pyIsSpace(r rune) bool {
	if r >= 0x1c && r <= 0x1f {
		return true
	}
	return unicode.IsSpace(r)
}

// pyStrip is Python's str.strip() with no argument.
func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }

// pySplit is Python's str.split() with no argument: runs of whitespace
// separate words and there are no empty words.
func pySplit(s string) []string { return strings.FieldsFunc(s, pyIsSpace) }

// pyLower is Python's str.lower(). Go's strings.ToLower agrees with it for
// everything but a handful of special-cased code points (U+0130 becomes two
// runes in Python); those are mapped here the way Python maps them.
func pyLower(s string) string {
	if !strings.ContainsRune(s, 'İ') {
		return strings.ToLower(s)
	}
	return strings.ToLower(strings.ReplaceAll(s, "İ", "i\u0307"))
}

// asciiPunct is Python's string.punctuation.
const asciiPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// NormalizeText is FMEval's normalize_text_quac_protocol: lowercase, drop
// ASCII punctuation, split on the single space character, and drop empty
// words and the articles "a", "an" and "the". Tabs and newlines stay inside
// words and Unicode punctuation is kept, as in FMEval.
func NormalizeText(text string) string {
	text = pyLower(text)
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		if r < 0x80 && strings.ContainsRune(asciiPunct, r) {
			continue
		}
		b.WriteRune(r)
	}
	words := strings.Split(b.String(), " ")
	out := words[:0]
	for _, w := range words {
		if w == "" || w == "a" || w == "an" || w == "the" {
			continue
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// splitTargets splits a target by FMEval's target_output_delimiter. An empty
// delimiter means Python's str.split(None), whitespace splitting.
func splitTargets(target, delimiter string) []string {
	if delimiter == "" {
		return pySplit(target)
	}
	return strings.Split(target, delimiter)
}

// ErrEmptyReference is returned by WER when a reference has no words, as
// jiwer raises ValueError for it.
var ErrEmptyReference = errors.New("one or more references are empty strings")

// werWords is jiwer 3.0.5's wer_default transform: collapse runs of two or
// more whitespace characters into one space, strip, split on the space
// character and drop empty words. A single tab or newline therefore does not
// separate words.
func werWords(s string) []string {
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if pyIsSpace(rs[i]) && i+1 < len(rs) && pyIsSpace(rs[i+1]) {
			j := i
			for j < len(rs) && pyIsSpace(rs[j]) {
				j++
			}
			b.WriteByte(' ')
			i = j
			continue
		}
		b.WriteRune(rs[i])
		i++
	}
	var out []string
	for _, w := range strings.Split(pyStrip(b.String()), " ") {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// wordDistance is the unit-cost Levenshtein distance between two word
// sequences (substitutions + deletions + insertions).
func wordDistance(ref, hyp []string) int {
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			cost := 1
			if ref[i-1] == hyp[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)]
}

// WER is the corpus word error rate HF evaluate's "wer" metric computes over
// jiwer 3.0.5 (concatenate_texts=False): the sum over pairs of the word edit
// distance divided by the sum of the references' word counts.
func WER(references, predictions []string) (float64, error) {
	if len(references) != len(predictions) {
		return 0, errors.New("wer: references and predictions differ in length")
	}
	var incorrect, total int
	for i := range references {
		r, p := werWords(references[i]), werWords(predictions[i])
		if len(r) == 0 {
			return 0, ErrEmptyReference
		}
		incorrect += wordDistance(r, p)
		total += len(r)
	}
	if total == 0 {
		return 0, ErrEmptyReference
	}
	return float64(incorrect) / float64(total), nil
}
