package eval

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// WordNet is the part of a WordNet 3.0 database (the dict directory of
// Princeton's distribution, as Debian's wordnet-base installs it) that
// METEOR's synonym stage needs: for each lemma and part of speech its synset
// offsets, the lemma names of each synset, and the morphological exception
// lists. It is read once and immutable afterwards.
type WordNet struct {
	// index maps lemma → part of speech → synset offsets (index.* files).
	index map[string]map[byte][]int64
	// lemmas maps part of speech and offset → the synset's lemma names, with
	// their case and without adjective markers like "(a)".
	lemmas map[byte]map[int64][]string
	// exc maps part of speech → inflected form → base forms (*.exc files).
	exc map[byte]map[string][]string
	// synCache memoises Synonyms (word → set, read-only once stored), up
	// to synCacheMax words; synCount counts them.
	synCache sync.Map
	synCount atomic.Int64
}

const synCacheMax = 200_000

var wnFiles = []struct {
	pos  byte
	name string
}{{'n', "noun"}, {'v', "verb"}, {'a', "adj"}, {'r', "adv"}}

// LoadWordNet reads a WordNet 3.0 dict directory (index.noun, data.noun, …,
// noun.exc, …).
func LoadWordNet(dir string) (*WordNet, error) {
	wn := &WordNet{
		index:  map[string]map[byte][]int64{},
		lemmas: map[byte]map[int64][]string{},
		exc:    map[byte]map[string][]string{},
	}
	for _, f := range wnFiles {
		if err := wn.readIndex(filepath.Join(dir, "index."+f.name), f.pos); err != nil {
			return nil, err
		}
		if err := wn.readData(filepath.Join(dir, "data."+f.name), f.pos); err != nil {
			return nil, err
		}
		if err := wn.readExc(filepath.Join(dir, f.name+".exc"), f.pos); err != nil {
			return nil, err
		}
	}
	return wn, nil
}

func eachLine(path string, fn func(line string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("wordnet: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "  ") || line == "" { // licence header
			continue
		}
		if err := fn(line); err != nil {
			return fmt.Errorf("wordnet: %s: %w", filepath.Base(path), err)
		}
	}
	return sc.Err()
}

// readIndex parses "lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt
// tagsense_cnt synset_offset...".
func (wn *WordNet) readIndex(path string, pos byte) error {
	return eachLine(path, func(line string) error {
		f := strings.Fields(line)
		if len(f) < 4 {
			return fmt.Errorf("short index line %q", line)
		}
		nSyn, err1 := strconv.Atoi(f[2])
		nPtr, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || len(f) < 4+nPtr+2+nSyn {
			return fmt.Errorf("bad index line %q", line)
		}
		offs := make([]int64, 0, nSyn)
		for _, s := range f[4+nPtr+2 : 4+nPtr+2+nSyn] {
			o, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("bad offset in %q", line)
			}
			offs = append(offs, o)
		}
		m := wn.index[f[0]]
		if m == nil {
			m = map[byte][]int64{}
			wn.index[f[0]] = m
		}
		m[pos] = offs
		return nil
	})
}

// readData parses "offset lex_filenum ss_type w_cnt(hex) word lex_id ...".
func (wn *WordNet) readData(path string, pos byte) error {
	m := map[int64][]string{}
	wn.lemmas[pos] = m
	return eachLine(path, func(line string) error {
		f := strings.Fields(line)
		if len(f) < 4 {
			return fmt.Errorf("short data line")
		}
		off, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return fmt.Errorf("bad offset %q", f[0])
		}
		n, err := strconv.ParseInt(f[3], 16, 32)
		if err != nil || len(f) < 4+2*int(n) {
			return fmt.Errorf("bad word count at %d", off)
		}
		names := make([]string, n)
		for i := range names {
			w := f[4+2*i]
			if j := strings.IndexByte(w, '('); j > 0 && strings.HasSuffix(w, ")") {
				w = w[:j] // adjective syntactic marker, e.g. "galore(ip)"
			}
			names[i] = w
		}
		m[off] = names
		return nil
	})
}

func (wn *WordNet) readExc(path string, pos byte) error {
	m := map[string][]string{}
	wn.exc[pos] = m
	return eachLine(path, func(line string) error {
		f := strings.Fields(line)
		if len(f) >= 1 {
			m[f[0]] = f[1:]
		}
		return nil
	})
}

var morphSubst = map[byte][][2]string{
	'n': {{"s", ""}, {"ses", "s"}, {"ves", "f"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}},
	'v': {{"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}},
	'a': {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}},
	'r': nil,
}

// morphy is NLTK's WordNetCorpusReader._morphy with check_exceptions=True:
// the base forms of form for one part of speech that are in the index.
func (wn *WordNet) morphy(form string, pos byte) []string {
	filter := func(forms []string) []string {
		var out []string
		seen := map[string]bool{}
		for _, f := range forms {
			if _, ok := wn.index[f][pos]; ok && !seen[f] {
				out = append(out, f)
				seen[f] = true
			}
		}
		return out
	}
	apply := func(forms []string) []string {
		var out []string
		for _, f := range forms {
			for _, s := range morphSubst[pos] {
				if strings.HasSuffix(f, s[0]) {
					out = append(out, f[:len(f)-len(s[0])]+s[1])
				}
			}
		}
		return out
	}
	if ex, ok := wn.exc[pos][form]; ok {
		return filter(append([]string{form}, ex...))
	}
	forms := apply([]string{form})
	if r := filter(append([]string{form}, forms...)); len(r) > 0 {
		return r
	}
	for len(forms) > 0 {
		forms = apply(forms)
		if r := filter(forms); len(r) > 0 {
			return r
		}
	}
	return nil
}

// Synonyms returns the lemma names without "_" of every synset of word (all
// parts of speech, after morphy), plus word itself: the set NLTK's METEOR
// matches a reference word against.
func (wn *WordNet) Synonyms(word string) map[string]struct{} {
	if wn == nil {
		return map[string]struct{}{word: {}}
	}
	if v, ok := wn.synCache.Load(word); ok {
		return v.(map[string]struct{})
	}
	set := wn.synonyms(word)
	if wn.synCount.Load() < synCacheMax {
		if _, loaded := wn.synCache.LoadOrStore(word, set); !loaded {
			wn.synCount.Add(1)
		}
	}
	return set
}

func (wn *WordNet) synonyms(word string) map[string]struct{} {
	set := map[string]struct{}{word: {}}
	lemma := pyLower(word)
	for _, f := range wnFiles {
		for _, base := range wn.morphy(lemma, f.pos) {
			for _, off := range wn.index[base][f.pos] {
				for _, name := range wn.lemmas[f.pos][off] {
					if !strings.Contains(name, "_") {
						set[name] = struct{}{}
					}
				}
			}
		}
	}
	return set
}
