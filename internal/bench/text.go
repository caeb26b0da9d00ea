package bench

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// Word lists for the synthetic documents. The text only has to look like
// prose to a tokenizer and to the model; it is generated, not sampled from a
// corpus, so that a seed alone reproduces every prompt.
var (
	adjectives = strings.Fields(`quiet ancient bright narrow distant golden heavy patient curious
		restless silver hidden broken gentle frozen crowded empty careful sudden wooden
		northern humble proud weary clever silent honest rapid steady faint`)
	nouns = strings.Fields(`river merchant lantern harbour engineer village archive storm
		garden teacher bridge market traveller library machine orchard captain letter
		tower valley farmer signal mountain painter station council workshop ferry`)
	verbs = strings.Fields(`carried watched repaired followed opened described measured
		crossed remembered counted built guarded visited recorded replaced studied
		painted delivered questioned collected`)
	places = strings.Fields(`square coast border forest quarry mill canal plateau island
		harbour crossroads terrace cellar meadow ridge`)
	connectives = []string{"Later", "Meanwhile", "Before dawn", "By evening", "That winter",
		"Every morning", "After the rain", "In the spring", "At noon", "Without warning"}
)

func pick(r *rand.Rand, list []string) string { return list[r.IntN(len(list))] }

// sentence writes one generated sentence.
func sentence(r *rand.Rand, b *strings.Builder) {
	if r.IntN(3) == 0 {
		b.WriteString(pick(r, connectives))
		b.WriteString(", the ")
	} else {
		b.WriteString("The ")
	}
	b.WriteString(pick(r, adjectives))
	b.WriteByte(' ')
	b.WriteString(pick(r, nouns))
	b.WriteByte(' ')
	b.WriteString(pick(r, verbs))
	b.WriteString(" the ")
	b.WriteString(pick(r, adjectives))
	b.WriteByte(' ')
	b.WriteString(pick(r, nouns))
	b.WriteString(" near the ")
	b.WriteString(pick(r, places))
	if r.IntN(4) == 0 {
		b.WriteString(" for ")
		b.WriteString(strconv.Itoa(2 + r.IntN(40)))
		b.WriteString(" days")
	}
	b.WriteString(". ")
}

// prose returns n generated sentences in paragraphs of about six.
func prose(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 && i%6 == 0 {
			b.WriteString("\n\n")
		}
		sentence(r, &b)
	}
	return strings.TrimSpace(b.String())
}

// sequence returns n terms of an arithmetic sequence starting at start.
func sequence(start, step, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(start + i*step))
	}
	return b.String()
}

// wordsOf returns n more words of prose, to size a prompt finer than whole
// sentences allow.
func wordsOf(r *rand.Rand, n int) string { return fillWords(r, n, false) }

// fillWords returns n words (numbers when numeric), each preceded by a space.
func fillWords(r *rand.Rand, n int, numeric bool) string {
	var b strings.Builder
	for i := range n {
		if numeric {
			b.WriteString(", ")
			b.WriteString(strconv.Itoa(1000 + r.IntN(9000)))
			continue
		}
		b.WriteByte(' ')
		lists := [][]string{adjectives, nouns, verbs, places}
		b.WriteString(pick(r, lists[i%len(lists)]))
	}
	return b.String()
}
