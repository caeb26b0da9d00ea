package cache

import (
	"strings"
	"unicode"
)

// Consistent is the semantic cache's built-in verification step
// (cache.semantic.verify: lexical): a cheap check, run after the embeddings
// matched a question to a cached one, that the two agree on what sentence
// embeddings blur. Both texts are normalized (Normalize). They must name
// the same numbers — digits, number words and ordinals ("four days" is not
// "one day", "neet 2017 in 4 months" is not "neet 2017") — and be both
// negated or both not ("why should I not vote for X" is not "why should I
// vote for X"). docs/CACHING.md has what it costs in recall and gains in
// precision on held-out QQP.
func Consistent(query, cached string) bool {
	qn, qneg := lexicalFacts(query)
	cn, cneg := lexicalFacts(cached)
	return qneg == cneg && sameSet(qn, cn)
}

// numberWords maps number words and ordinals to the form digits take.
// "one", "second", "once" and "single" are left out: as often as not they
// are a pronoun, a unit or an adverb ("how can one…", "a second opinion").
var numberWords = map[string]string{
	"zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
	"eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
	"fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
	"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
	"hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
	"first": "1st", "third": "3rd", "fourth": "4th", "fifth": "5th", "sixth": "6th",
	"seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th",
	"twice": "2x", "thrice": "3x",
}

// negators are words that negate a question; contractions arrive split by
// Normalize ("don't" is "don t"), so "t" after one of contracted is one too.
// "not" in "or not" and "why not" asks both ways and negates nothing.
var (
	negators = map[string]bool{"not": true, "no": true, "never": true, "cannot": true, "nor": true, "without": true,
		"dont": true, "doesnt": true, "didnt": true, "isnt": true, "arent": true, "wasnt": true, "werent": true,
		"wont": true, "wouldnt": true, "shouldnt": true, "couldnt": true, "cant": true, "havent": true}
	contracted = map[string]bool{"don": true, "doesn": true, "didn": true, "isn": true, "aren": true, "wasn": true,
		"weren": true, "won": true, "wouldn": true, "shouldn": true, "couldn": true, "can": true, "haven": true,
		"hasn": true, "hadn": true, "mustn": true, "ain": true}
)

// lexicalFacts returns the numbers of a normalized text and whether it is
// negated.
func lexicalFacts(s string) (nums map[string]bool, negated bool) {
	nums = map[string]bool{}
	ws := strings.Fields(s)
	for i, w := range ws {
		switch {
		case strings.IndexFunc(w, unicode.IsDigit) >= 0:
			nums[strings.TrimLeft(w, "0")+strings.Repeat("0", b2i(strings.Trim(w, "0") == ""))] = true
		case numberWords[w] != "":
			nums[numberWords[w]] = true
		case w == "not" && i > 0 && (ws[i-1] == "or" || ws[i-1] == "why"):
		case negators[w], w == "t" && i > 0 && contracted[ws[i-1]]:
			negated = !negated
		}
	}
	return nums, negated
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
