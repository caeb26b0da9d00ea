package eval

import (
	"math"
	"sort"
)

// Meteor is NLTK's single_meteor_score(reference, hypothesis) with its
// defaults (str.lower preprocessing, Porter stemmer, WordNet, alpha=0.9,
// beta=3, gamma=0.5) over already tokenized words. wn may be nil, which drops
// the synonym stage (and can lower the score; FMEval always has WordNet).
func Meteor(reference, hypothesis []string, wn *WordNet) float64 {
	hyp := enumLower(hypothesis)
	ref := enumLower(reference)
	matches := alignWords(hyp, ref, wn)
	m := float64(len(matches))
	if len(hypothesis) == 0 || len(reference) == 0 || len(matches) == 0 {
		return 0
	}
	const alpha, beta, gamma = 0.9, 3.0, 0.5
	precision := m / float64(len(hypothesis))
	recall := m / float64(len(reference))
	fmean := (precision * recall) / (alpha*precision + (1-alpha)*recall)
	chunks := float64(countChunks(matches))
	penalty := gamma * math.Pow(chunks/m, beta)
	return (1 - penalty) * fmean
}

// MeteorText is FMEval's METEOR: word_tokenize both texts (sentences split
// by pk, NLTK's Punkt model; nil: SplitSentences' rules), then Meteor.
func MeteorText(target, modelOutput string, wn *WordNet, pk *Punkt) float64 {
	return Meteor(pk.WordTokenize(target), pk.WordTokenize(modelOutput), wn)
}

type enumWord struct {
	idx int
	w   string
}

func enumLower(ws []string) []enumWord {
	out := make([]enumWord, len(ws))
	for i, w := range ws {
		out[i] = enumWord{i, pyLower(w)}
	}
	return out
}

// alignWords is NLTK's _enum_align_words: exact matches, then Porter-stem
// matches, then WordNet synonym matches, each stage scanning the hypothesis
// from its end and taking the highest remaining reference position. As in
// NLTK, the synonym stage sees the stemmed words left over by the stem stage.
func alignWords(hyp, ref []enumWord, wn *WordNet) [][2]int {
	exact, hyp, ref := matchEnums(hyp, ref)
	for i := range hyp {
		hyp[i].w = Stem(hyp[i].w)
	}
	for i := range ref {
		ref[i].w = Stem(ref[i].w)
	}
	stem, hyp, ref := matchEnums(hyp, ref)
	syn := matchSynonyms(hyp, ref, wn)
	all := append(append(exact, stem...), syn...)
	sort.SliceStable(all, func(a, b int) bool { return all[a][0] < all[b][0] })
	return all
}

func matchEnums(hyp, ref []enumWord) ([][2]int, []enumWord, []enumWord) {
	pos := map[string][]int{}
	for j, r := range ref {
		pos[r.w] = append(pos[r.w], j)
	}
	var out [][2]int
	hypUsed := make([]bool, len(hyp))
	refUsed := make([]bool, len(ref))
	for i := len(hyp) - 1; i >= 0; i-- {
		p := pos[hyp[i].w]
		if len(p) == 0 {
			continue
		}
		j := p[len(p)-1]
		pos[hyp[i].w] = p[:len(p)-1]
		hypUsed[i], refUsed[j] = true, true
		out = append(out, [2]int{hyp[i].idx, ref[j].idx})
	}
	return out, keep(hyp, hypUsed), keep(ref, refUsed)
}

func keep(ws []enumWord, used []bool) []enumWord {
	out := make([]enumWord, 0, len(ws))
	for i, w := range ws {
		if !used[i] {
			out = append(out, w)
		}
	}
	return out
}

func matchSynonyms(hyp, ref []enumWord, wn *WordNet) [][2]int {
	var out [][2]int
	refUsed := make([]bool, len(ref))
	for i := len(hyp) - 1; i >= 0; i-- {
		syns := wn.Synonyms(hyp[i].w)
		for j := len(ref) - 1; j >= 0; j-- {
			if refUsed[j] {
				continue
			}
			if _, ok := syns[ref[j].w]; ok {
				refUsed[j] = true
				out = append(out, [2]int{hyp[i].idx, ref[j].idx})
				break
			}
		}
	}
	return out
}

// countChunks is NLTK's _count_chunks over matches sorted by hypothesis index.
func countChunks(matches [][2]int) int {
	chunks := 1
	for i := 0; i < len(matches)-1; i++ {
		if !(matches[i+1][0] == matches[i][0]+1 && matches[i+1][1] == matches[i][1]+1) {
			chunks++
		}
	}
	return chunks
}
