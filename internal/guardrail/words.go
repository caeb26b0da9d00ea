package guardrail

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

//go:generate go run ./cmd/guardeval -profanity -datasets ../../../shared/datasets

// profanityList is the managed PROFANITY list, derived by
// `go run ./cmd/guardeval -profanity` from the Surge AI profanity lexicon
// (github.com/surge-ai/profanity @ 77dabf36, MIT licence, copyright 2021
// Surge AI): the lower-cased terms and their canonical forms only, without categories or
// severities,
// minus pure numbers and a few ambiguous everyday words.
//
//go:embed profanity.txt
var profanityList string

// token is one word of a text: byte offsets and its case-folded form.
type token struct {
	start, end int
	key        string
}

// isWordByte reports whether c can be part of a word: ASCII letters and
// digits, the characters leetspeak uses inside words, and any non-ASCII byte.
func isWordByte(c byte) bool {
	return isAlnum(c) || c == '\'' || c == '@' || c == '$' || c == '*' || c == '_' || c >= 0x80
}

// tokenize splits s into words. It appends to buf and returns it.
func tokenize(s string, buf []token) []token {
	for i := 0; i < len(s); {
		if !isWordByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		// Quotes and asterisks at the edges are punctuation, not letters.
		a, b := i, j
		for a < b && (s[a] == '\'' || s[a] == '*') {
			a++
		}
		for b > a && (s[b-1] == '\'' || s[b-1] == '*') {
			b--
		}
		if a < b {
			buf = append(buf, token{start: a, end: b, key: fold(s[a:b])})
		}
		i = j
	}
	return buf
}

// fold lower-cases a word, allocating only when it has upper case.
func fold(w string) string {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 0x80 {
			if utf8.ValidString(w) {
				return strings.ToLower(w)
			}
			return w
		}
		if c >= 'A' && c <= 'Z' {
			return asciiLower(w)
		}
	}
	return w
}

// wordEntry is one configured word or phrase.
type wordEntry struct {
	text  string // as configured, returned as the match
	index int    // position in the policy, -1 for managed words
}

// wordSet matches words and phrases of up to three words, case-insensitively
// and on word boundaries. Phrases are keyed by a 64-bit hash of their
// folded words, so matching allocates nothing.
type wordSet struct {
	m      map[uint64]wordEntry
	maxLen int
	// first has bit wordHash(w)&firstMask set for every first word w of an
	// entry: a token whose bit is clear starts no entry, which spares the
	// map lookups for nearly every token of ordinary text.
	first [(firstMask + 1) / 64]uint64
}

const firstMask = 1<<16 - 1

func newWordSet() *wordSet { return &wordSet{m: map[uint64]wordEntry{}} }

// wordHash hashes one folded word (FNV-1a, 64 bit).
func wordHash(w string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(w); i++ {
		h = (h ^ uint64(w[i])) * 1099511628211
	}
	return h
}

// phraseHash extends a phrase hash by one word hash.
func phraseHash(h, w uint64) uint64 {
	h = (h ^ w) * 0x9e3779b97f4a7c15
	return h ^ h>>29
}

func (ws *wordSet) add(text string, index int) {
	toks := tokenize(text, nil)
	if len(toks) == 0 || len(toks) > maxWordTokens {
		return
	}
	var k uint64
	for _, t := range toks {
		k = phraseHash(k, wordHash(t.key))
	}
	if _, dup := ws.m[k]; !dup {
		ws.m[k] = wordEntry{text: text, index: index}
	}
	h := wordHash(toks[0].key) & firstMask
	ws.first[h/64] |= 1 << (h % 64)
	ws.maxLen = max(ws.maxLen, len(toks))
}

// wordHit is one match in a text.
type wordHit struct {
	start, end int
	entry      wordEntry
}

// match returns the hits in toks (tokens of text), longest phrase first at
// each position, without overlaps.
func (ws *wordSet) match(text string, toks []token, hits []wordHit) []wordHit {
	if len(ws.m) == 0 {
		return hits
	}
	var hs [maxWordTokens]uint64
	for i := 0; i < len(toks); i++ {
		h0 := wordHash(toks[i].key)
		if ws.first[(h0&firstMask)/64]&(1<<(h0&firstMask%64)) == 0 {
			continue
		}
		n := min(ws.maxLen, len(toks)-i)
		var k uint64
		for j := 0; j < n; j++ {
			k = phraseHash(k, wordHash(toks[i+j].key))
			hs[j] = k
		}
		for ; n >= 1; n-- {
			if e, ok := ws.m[hs[n-1]]; ok {
				hits = append(hits, wordHit{start: toks[i].start, end: toks[i+n-1].end, entry: e})
				i += n - 1
				break
			}
		}
	}
	return hits
}

var (
	profanityOnce sync.Once
	profanitySet  *wordSet
)

// profanity returns the managed PROFANITY word set, built on first use.
func profanity() *wordSet {
	profanityOnce.Do(func() {
		ws := newWordSet()
		for _, line := range strings.Split(profanityList, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			ws.add(line, -1)
		}
		profanitySet = ws
	})
	return profanitySet
}
