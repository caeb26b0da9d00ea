package guardrail

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
)

// TopicThreshold is the cosine similarity at which a text window matches a
// denied topic. It was chosen on the dev split of the topic task in
// cmd/guardeval (MMLU subjects as topics) and frozen before the test split
// was scored; see docs/GUARDRAILS.md.
const TopicThreshold = 0.15

// TopicMatcher decides whether text falls under a denied topic. The built-in
// one is lexical (LexicalTopics); a judge model can implement it too.
type TopicMatcher interface {
	// MatchTopics returns, for each topic, its similarity score in [0,1].
	MatchTopics(ctx context.Context, text string) ([]float64, error)
}

// LexicalTopics matches text against topics by cosine similarity of
// stemmed word and bigram sets, between each window of the text (a sentence
// or a few short ones) and each of a topic's prototypes (name plus
// definition, and every example).
type LexicalTopics struct {
	protos [][]bagOfWords // per topic
}

type bagOfWords []uint32 // sorted, distinct feature hashes

// NewLexicalTopics prepares the prototypes of topics.
func NewLexicalTopics(topics []Topic) *LexicalTopics {
	lt := &LexicalTopics{protos: make([][]bagOfWords, len(topics))}
	for i, t := range topics {
		ps := []bagOfWords{bag(t.Name + ". " + t.Definition)}
		for _, e := range t.Examples {
			ps = append(ps, bag(e))
		}
		lt.protos[i] = ps
	}
	return lt
}

// MatchTopics implements TopicMatcher.
func (lt *LexicalTopics) MatchTopics(_ context.Context, text string) ([]float64, error) {
	out := make([]float64, len(lt.protos))
	for _, w := range topicWindows(text) {
		b := bag(w)
		if len(b) == 0 {
			continue
		}
		for i, ps := range lt.protos {
			for _, p := range ps {
				out[i] = math.Max(out[i], cosine(b, p))
			}
		}
	}
	return out, nil
}

// topicWindows splits text into sentences and merges short neighbours so
// each window has some 200–400 bytes.
func topicWindows(text string) []string {
	var out []string
	start := 0
	cut := func(end int) {
		if s := strings.TrimSpace(text[start:end]); s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if (c == '.' || c == '?' || c == '!' || c == '\n') && i-start >= 200 {
			cut(i + 1)
		} else if i-start >= 400 && c == ' ' {
			cut(i + 1)
		}
	}
	cut(len(text))
	return out
}

// cosine is the cosine similarity of two feature sets, or 0 when they
// share fewer than two words (one shared word is usually a coincidence).
func cosine(a, b bagOfWords) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	n, words := 0, 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			n++
			if a[i]&bigramBit == 0 {
				words++
			}
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	if words < 2 {
		return 0
	}
	return float64(n) / math.Sqrt(float64(len(a))*float64(len(b)))
}

// bigramBit marks bigram features in a bag; unigrams have it clear.
const bigramBit = 1 << 31

var tokenPool = sync.Pool{New: func() any { b := make([]token, 0, 256); return &b }}

// bag returns the stemmed content words and bigrams of s.
func bag(s string) bagOfWords {
	var prev uint32
	have := false
	tp := tokenPool.Get().(*[]token)
	toks := tokenize(s, (*tp)[:0])
	defer func() { *tp = toks[:0]; tokenPool.Put(tp) }()
	b := make(bagOfWords, 0, 2*len(toks))
	for _, t := range toks {
		w := t.key
		if stopWords[w] || len(w) < 2 {
			have = false
			continue
		}
		h := mix(fnv(stem(w)), 0x1b873593) &^ bigramBit
		b = append(b, h)
		if have {
			b = append(b, mix(prev*31+h, 0xcc9e2d51)|bigramBit)
		}
		prev, have = h, true
	}
	slices.Sort(b)
	out := b[:0]
	for i, x := range b {
		if i == 0 || x != b[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func fnv(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

// stem strips common English suffixes.
func stem(w string) string {
	for _, suf := range []string{"ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "ly", "s"} {
		if len(w) > len(suf)+3 && strings.HasSuffix(w, suf) {
			return w[:len(w)-len(suf)]
		}
	}
	return w
}

var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then else of to in on at by for with about against between into
through during before after above below from up down out off over under again further once here there when where why how
all any both each few more most other some such no nor not only own same so than too very can will just don should now
i me my myself we our ours you your yours he him his she her it its they them their what which who whom this that these
those am is are was were be been being have has had having do does did doing would could ought i'm you're it's let's
please tell give get make know want need like also may might must shall use using used one two three
following statement statements true false best correct describes describe example most likely would what
question answer option options which whom following many much well way ways often called known`) {
		m[w] = true
	}
	return m
}()
