package vector

import (
	"math"
	"strings"
	"unicode"
)

// BM25 parameters (the usual defaults).
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// terms splits text into lower-cased runs of letters and digits.
func terms(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// bm25 is an inverted index over the records of one collection, by slot.
type bm25 struct {
	postings map[string]map[int]int // term -> slot -> term frequency
	length   map[int]int            // slot -> number of terms
	total    int                    // sum of lengths
}

func newBM25() *bm25 {
	return &bm25{postings: map[string]map[int]int{}, length: map[int]int{}}
}

func (b *bm25) add(slot int, text string) {
	ts := terms(text)
	b.length[slot] = len(ts)
	b.total += len(ts)
	for _, t := range ts {
		p := b.postings[t]
		if p == nil {
			p = map[int]int{}
			b.postings[t] = p
		}
		p[slot]++
	}
}

func (b *bm25) remove(slot int, text string) {
	for _, t := range terms(text) {
		if p := b.postings[t]; p != nil {
			delete(p, slot)
			if len(p) == 0 {
				delete(b.postings, t)
			}
		}
	}
	b.total -= b.length[slot]
	delete(b.length, slot)
}

// scores returns the BM25 score of every slot that has a query term.
func (b *bm25) scores(query string) map[int]float64 {
	n := len(b.length)
	out := map[int]float64{}
	if n == 0 {
		return out
	}
	avg := float64(b.total) / float64(n)
	if avg == 0 {
		avg = 1
	}
	seen := map[string]bool{}
	for _, t := range terms(query) {
		if seen[t] {
			continue
		}
		seen[t] = true
		p := b.postings[t]
		if len(p) == 0 {
			continue
		}
		idf := math.Log(1 + (float64(n)-float64(len(p))+0.5)/(float64(len(p))+0.5))
		for slot, tf := range p {
			f := float64(tf)
			out[slot] += idf * f * (bm25K1 + 1) / (f + bm25K1*(1-bm25B+bm25B*float64(b.length[slot])/avg))
		}
	}
	return out
}
