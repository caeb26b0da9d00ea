package eval

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Punkt is NLTK's Punkt sentence tokenizer (PunktSentenceTokenizer with
// realigned boundaries, as sent_tokenize and word_tokenize use it) with a
// trained model's parameters: abbreviation types, collocations, frequent
// sentence starters and orthographic contexts. NLTK's English model is read
// from the punkt_tab layout (abbrev_types.txt, collocations.tab,
// sent_starters.txt, ortho_context.tab) that `make punkt` installs. A nil
// *Punkt splits with SplitSentences' rules instead.
type Punkt struct {
	abbrev       map[string]bool
	collocations map[[2]string]bool
	starters     map[string]bool
	ortho        map[string]int
}

// Orthographic context flags (NLTK's _ORTHO_*).
const (
	orthoBegUC = 1 << 1
	orthoMidUC = 1 << 2
	orthoUnkUC = 1 << 3
	orthoBegLC = 1 << 4
	orthoMidLC = 1 << 5
	orthoUnkLC = 1 << 6
	orthoUC    = orthoBegUC | orthoMidUC | orthoUnkUC
	orthoLC    = orthoBegLC | orthoMidLC | orthoUnkLC
)

// LoadPunkt reads a punkt_tab model directory (e.g.
// ~/.cache/outcrop/punkt/english).
func LoadPunkt(dir string) (*Punkt, error) {
	p := &Punkt{abbrev: map[string]bool{}, collocations: map[[2]string]bool{}, starters: map[string]bool{}, ortho: map[string]int{}}
	read := func(name string, fn func(fields []string) error) error {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("punkt: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimRight(sc.Text(), "\r")
			if line == "" {
				continue
			}
			if err := fn(strings.Split(line, "\t")); err != nil {
				return fmt.Errorf("punkt: %s line %d: %w", name, n, err)
			}
		}
		return sc.Err()
	}
	if err := read("abbrev_types.txt", func(f []string) error { p.abbrev[f[0]] = true; return nil }); err != nil {
		return nil, err
	}
	if err := read("sent_starters.txt", func(f []string) error { p.starters[f[0]] = true; return nil }); err != nil {
		return nil, err
	}
	if err := read("collocations.tab", func(f []string) error {
		if len(f) != 2 {
			return fmt.Errorf("want 2 fields, got %d", len(f))
		}
		p.collocations[[2]string{f[0], f[1]}] = true
		return nil
	}); err != nil {
		return nil, err
	}
	if err := read("ortho_context.tab", func(f []string) error {
		if len(f) != 2 {
			return fmt.Errorf("want 2 fields, got %d", len(f))
		}
		v, err := strconv.Atoi(f[1])
		if err != nil {
			return err
		}
		p.ortho[f[0]] = v
		return nil
	}); err != nil {
		return nil, err
	}
	if len(p.ortho) == 0 {
		return nil, fmt.Errorf("punkt: %s has no orthographic contexts", dir)
	}
	return p, nil
}

// Sentences splits text as NLTK's sent_tokenize does with p's model.
func (p *Punkt) Sentences(text string) []string {
	if p == nil {
		return SplitSentences(text)
	}
	var out []string
	for _, s := range p.spans(text) {
		out = append(out, text[s[0]:s[1]])
	}
	return out
}

// WordTokenize is NLTK's word_tokenize with p's sentence splitting.
func (p *Punkt) WordTokenize(text string) []string {
	var out []string
	for _, s := range p.Sentences(text) {
		out = append(out, TreebankTokenize(s)...)
	}
	return out
}

// endMatch is one match of NLTK's period-context pattern: a sentence-end
// character at pos, followed by non-word punctuation (nextTok < 0) or by
// whitespace and a token [nextTok, afterEnd).
type endMatch struct {
	pos, nextTok, afterEnd int
}

func isNonWordChar(r rune) bool { return strings.ContainsRune(`)";}]*:@'({[!?`, r) }

// periodContexts finds NLTK's period_context_re matches:
// [.?!](?=(NonWord|\s+\S+)).
func periodContexts(text string) []endMatch {
	var out []endMatch
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '.' && c != '?' && c != '!' {
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i+1:])
		if n > 0 && isNonWordChar(r) {
			out = append(out, endMatch{pos: i, nextTok: -1, afterEnd: i + 1 + n})
			continue
		}
		j := i + 1
		for j < len(text) {
			r, n := utf8.DecodeRuneInString(text[j:])
			if !pyIsSpace(r) {
				break
			}
			j += n
		}
		if j == i+1 || j == len(text) {
			continue
		}
		k := j
		for k < len(text) {
			r, n := utf8.DecodeRuneInString(text[k:])
			if pyIsSpace(r) {
				break
			}
			k += n
		}
		out = append(out, endMatch{pos: i, nextTok: j, afterEnd: k})
	}
	return out
}

// lastWhitespace is NLTK's _get_last_whitespace_index: the index of the
// last string.whitespace character, 0 when there is none (or it is first).
func lastWhitespace(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if strings.IndexByte(" \t\n\r\x0b\x0c", s[i]) >= 0 {
			return i
		}
	}
	return 0
}

// spans is span_tokenize(text, realign_boundaries=True).
func (p *Punkt) spans(text string) [][2]int {
	// _match_potential_end_contexts and _slices_from_text.
	var slices [][2]int
	lastBreak := 0
	consider := func(m endMatch, wordStart, wordEnd int) {
		context := text[wordStart:wordEnd] + text[m.pos:m.afterEnd]
		if !p.containsSentbreak(context) {
			return
		}
		slices = append(slices, [2]int{lastBreak, m.pos + 1})
		if m.nextTok >= 0 {
			lastBreak = m.nextTok
		} else {
			lastBreak = m.pos + 1
		}
	}
	prevStart, prevStop := 0, 0
	var prev *endMatch
	ms := periodContexts(text)
	for i := range ms {
		m := &ms[i]
		before := text[prevStop:m.pos]
		idx := lastWhitespace(before)
		if idx != 0 {
			idx += prevStop + 1
		} else {
			idx = prevStart
		}
		if prev != nil && prevStop <= idx {
			consider(*prev, prevStart, prevStop)
		}
		prev = m
		prevStart, prevStop = idx, m.pos
	}
	if prev != nil {
		consider(*prev, prevStart, prevStop)
	}
	slices = append(slices, [2]int{lastBreak, len(strings.TrimRightFunc(text, pyIsSpace))})

	// _realign_boundaries.
	var out [][2]int
	realign := 0
	for i, s1 := range slices {
		s1[0] += realign
		if i == len(slices)-1 {
			if s1[0] < s1[1] {
				out = append(out, s1)
			}
			continue
		}
		s2 := slices[i+1]
		if s2[0] < s2[1] {
			if n, end := boundaryRealignment(text[s2[0]:s2[1]]); n > 0 {
				out = append(out, [2]int{s1[0], s2[0] + n})
				realign = end
				continue
			}
		}
		realign = 0
		if s1[0] < s1[1] {
			out = append(out, s1)
		}
	}
	return out
}

// boundaryRealignment matches NLTK's re_boundary_realignment,
// ["')\]}]+?(?:\s+|(?=--)|$) (MULTILINE), at the start of s: it returns the
// length of the match without trailing whitespace and the match's end, or 0
// when it does not match.
func boundaryRealignment(s string) (n, end int) {
	i := 0
	for i < len(s) && strings.IndexByte(`"')]}`, s[i]) >= 0 {
		i++
		// The lazy quantifier stops at the first closing character after
		// which one of the alternatives matches, tried in order.
		if r, _ := utf8.DecodeRuneInString(s[i:]); i < len(s) && pyIsSpace(r) {
			j := i
			for j < len(s) {
				r, w := utf8.DecodeRuneInString(s[j:])
				if !pyIsSpace(r) {
					break
				}
				j += w
			}
			return i, j
		}
		if strings.HasPrefix(s[i:], "--") || i == len(s) {
			return i, i
		}
	}
	return 0, 0
}

// punktToken is NLTK's PunktToken with the annotations Punkt uses.
type punktToken struct {
	tok, typ                string
	periodFinal             bool
	sentbreak, abbr, ellips bool
}

func newPunktToken(tok string) *punktToken {
	t := &punktToken{tok: tok, typ: punktType(tok), periodFinal: strings.HasSuffix(tok, ".")}
	return t
}

// punktType is _get_type: the lower-cased token, numbers as ##number##.
func punktType(tok string) string {
	low := pyLower(tok)
	if isPunktNumber(low) {
		return "##number##"
	}
	return low
}

// isPunktNumber matches ^-?[\.,]?\d[\d,\.-]*\.?$.
func isPunktNumber(s string) bool {
	i := 0
	if strings.HasPrefix(s, "-") {
		i++
	}
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		i++
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if n == 0 || !unicode.IsDigit(r) {
		return false
	}
	i += n
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !(unicode.IsDigit(r) || r == ',' || r == '.' || r == '-') {
			break
		}
		i += n
	}
	// [\d,.-]* is greedy but may give back a final '.' for \.?; either way
	// the whole string must be consumed.
	return i == len(s)
}

func (t *punktToken) typeNoPeriod() string {
	if len(t.typ) > 1 && strings.HasSuffix(t.typ, ".") {
		return t.typ[:len(t.typ)-1]
	}
	return t.typ
}

func (t *punktToken) typeNoSentperiod() string {
	if t.sentbreak {
		return t.typeNoPeriod()
	}
	return t.typ
}

func (t *punktToken) firstUpper() bool {
	r, _ := utf8.DecodeRuneInString(t.tok)
	return unicode.IsUpper(r)
}

func (t *punktToken) firstLower() bool {
	r, _ := utf8.DecodeRuneInString(t.tok)
	return unicode.IsLower(r)
}

// isEllipsis matches \.\.+$.
func (t *punktToken) isEllipsis() bool {
	return len(t.tok) >= 2 && strings.Trim(t.tok, ".") == ""
}

// isInitial matches [^\W\d]\.$: one letter (or '_') and a period.
func (t *punktToken) isInitial() bool {
	r, n := utf8.DecodeRuneInString(t.tok)
	return n > 0 && t.tok[n:] == "." && (unicode.IsLetter(r) || r == '_')
}

// containsSentbreak is text_contains_sentbreak: a token annotated as a
// sentence break that is followed by another token.
func (p *Punkt) containsSentbreak(text string) bool {
	toks := p.annotate(punktWords(text))
	for i, t := range toks {
		if t.sentbreak && i < len(toks)-1 {
			return true
		}
	}
	return false
}

// punktWords is _tokenize_words: the word tokenizer line by line.
func punktWords(text string) []*punktToken {
	var out []*punktToken
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimFunc(line, pyIsSpace) == "" {
			continue
		}
		for _, w := range punktWordTokens(line) {
			out = append(out, newPunktToken(w))
		}
	}
	return out
}

// multiCharAt matches NLTK's _re_multi_char_punct, (?:\-{2,}|\.{2,}|(?:\.\s){2,}\.),
// at s[i:] and returns its length (0: no match).
func multiCharAt(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	run := func(c byte) int {
		j := i
		for j < len(s) && s[j] == c {
			j++
		}
		return j - i
	}
	if n := run('-'); n >= 2 {
		return n
	}
	if n := run('.'); n >= 2 {
		return n
	}
	// (?:\.\s){2,}\.
	j, pairs := i, 0
	for j < len(s) && s[j] == '.' {
		r, w := utf8.DecodeRuneInString(s[j+1:])
		if w == 0 || !pyIsSpace(r) {
			break
		}
		pairs++
		j += 1 + w
	}
	for pairs >= 2 {
		if j < len(s) && s[j] == '.' {
			return j + 1 - i
		}
		// Back off one pair: the last "\.\s" gives its '.' to the end.
		pairs--
		j = i
		for k := 0; k < pairs; k++ {
			_, w := utf8.DecodeRuneInString(s[j+1:])
			j += 1 + w
		}
	}
	return 0
}

// wordEndAt is the lookahead that ends a word in NLTK's word tokenizer:
// \s | $ | NonWord | MultiChar | ,(?=$|\s|NonWord|MultiChar).
func wordEndAt(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if pyIsSpace(r) || isNonWordChar(r) || multiCharAt(s, i) > 0 {
		return true
	}
	if r == ',' {
		j := i + n
		if j >= len(s) {
			return true
		}
		r2, _ := utf8.DecodeRuneInString(s[j:])
		return pyIsSpace(r2) || isNonWordChar(r2) || multiCharAt(s, j) > 0
	}
	return false
}

// punktWordTokens is PunktLanguageVars.word_tokenize (re.findall of
// _word_tokenize_fmt) on one line.
func punktWordTokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if m := multiCharAt(s, i); m > 0 {
			out = append(out, s[i:i+m])
			i += m
			continue
		}
		if pyIsSpace(r) {
			i += n
			continue
		}
		if !strings.ContainsRune("(\"`{[:;&#*@)}]-,", r) {
			j := i + n
			for !wordEndAt(s, j) {
				r2, w := utf8.DecodeRuneInString(s[j:])
				if pyIsSpace(r2) {
					break
				}
				j += w
			}
			out = append(out, s[i:j])
			i = j
			continue
		}
		out = append(out, s[i:i+n])
		i += n
	}
	return out
}

// annotate runs Punkt's first and second passes over toks.
func (p *Punkt) annotate(toks []*punktToken) []*punktToken {
	for _, t := range toks {
		switch {
		case t.tok == "." || t.tok == "?" || t.tok == "!":
			t.sentbreak = true
		case t.isEllipsis():
			t.ellips = true
		case t.periodFinal && !strings.HasSuffix(t.tok, ".."):
			base := pyLower(t.tok[:len(t.tok)-1])
			parts := strings.Split(base, "-")
			if p.abbrev[base] || p.abbrev[parts[len(parts)-1]] {
				t.abbr = true
			} else {
				t.sentbreak = true
			}
		}
	}
	for i := 0; i+1 < len(toks); i++ {
		p.secondPass(toks[i], toks[i+1])
	}
	return toks
}

// secondPass is _second_pass_annotation.
func (p *Punkt) secondPass(t1, t2 *punktToken) {
	if !t1.periodFinal {
		return
	}
	typ := t1.typeNoPeriod()
	next := t2.typeNoSentperiod()
	initial := t1.isInitial()
	if p.collocations[[2]string{typ, next}] {
		t1.sentbreak, t1.abbr = false, true
		return
	}
	if (t1.abbr || t1.ellips) && !initial {
		starter := p.orthoHeuristic(t2)
		if starter == 1 {
			t1.sentbreak = true
			return
		}
		if t2.firstUpper() && p.starters[next] {
			t1.sentbreak = true
			return
		}
	}
	if initial || typ == "##number##" {
		starter := p.orthoHeuristic(t2)
		if starter == 0 {
			t1.sentbreak, t1.abbr = false, true
			return
		}
		if starter == -1 && initial && t2.firstUpper() && p.ortho[next]&orthoLC == 0 {
			t1.sentbreak, t1.abbr = false, true
		}
	}
}

// orthoHeuristic is _ortho_heuristic: 1 (a sentence starter), 0 (not one)
// or -1 (unknown).
func (p *Punkt) orthoHeuristic(t *punktToken) int {
	if len(t.tok) > 0 && strings.Contains(";:,.!?", t.tok) {
		return 0
	}
	oc := p.ortho[t.typeNoSentperiod()]
	if t.firstUpper() && oc&orthoLC != 0 && oc&orthoMidUC == 0 {
		return 1
	}
	if t.firstLower() && (oc&orthoUC != 0 || oc&orthoBegLC == 0) {
		return 0
	}
	return -1
}
