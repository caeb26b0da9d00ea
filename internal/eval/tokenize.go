package eval

import (
	"regexp"
	"strings"
	"unicode"
)

// pyWord reports whether r matches Python's \w in a str pattern: letters,
// numeric characters and the underscore.
func pyWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

// subst is one regex substitution of the Treebank pipeline; Go's regexp
// expands $1 where Python writes \1.
type subst struct {
	re  *regexp.Regexp
	rep string
	// any lists characters of which the pattern needs at least one; when
	// the text has none the substitution is skipped ("" = always run).
	any string
}

var (
	startingQuotes = []subst{
		{regexp.MustCompile("([«“‘„]|[`]+)"), " $1 ", "«“‘„`"},
		{regexp.MustCompile(`^"`), "``", `"`},
		{regexp.MustCompile("(``)"), " $1 ", "`"},
		{regexp.MustCompile(`([ (\[{<])("|'{2})`), "$1 `` ", `"'`},
	}
	// punctuation is NLTKWordTokenizer.PUNCTUATION; the ([:,])$ rule is
	// handled in code because Python's $ also matches before a final newline.
	punctFinal1 = subst{regexp.MustCompile(`(?s)([^.])(\.)([\])}>"'»”’ ]*)` + pySpaceClass + `*$`), "$1 $2 $3 ", "."}
	punctColon  = subst{regexp.MustCompile(`([:,])([^\p{Nd}])`), " $1 $2", ":,"}
	punctRest1  = []subst{
		{regexp.MustCompile(`\.{2,}`), " $0 ", "."},
		{regexp.MustCompile(`[;@#$%&]`), " $0 ", ";@#$%&"},
		{regexp.MustCompile("[\u2012-\u2015]"), " $0 ", "\u2012\u2013\u2014\u2015"},
	}
	punctFinal2 = subst{regexp.MustCompile(`(?s)([^.])(\.)([\])}>"']*)` + pySpaceClass + `*$`), "$1 $2$3 ", "."}
	punctRest2  = []subst{
		{regexp.MustCompile(`[?!]`), " $0 ", "?!"},
		{regexp.MustCompile(`([^'])' `), "$1 ' ", "'"},
		{regexp.MustCompile(`[*]`), " $0 ", "*"},
		{regexp.MustCompile(`[\][(){}<>]`), " $0 ", "[](){}<>"},
		{regexp.MustCompile(`--`), " -- ", "-"},
	}
	endingQuotes1 = []subst{
		{regexp.MustCompile(`([»”’])`), " $1 ", "»”’"},
		{regexp.MustCompile(`''`), " '' ", "'"},
		{regexp.MustCompile(`"`), " '' ", `"`},
		{regexp.MustCompile(pySpaceClass + `+`), " ", ""},
	}
	endingQuotes2 = []subst{
		{regexp.MustCompile(`([^' ])('[sS]|'[mM]|'[dD]|') `), "$1 $2 ", "'"},
		{regexp.MustCompile(`([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) `), "$1 $2 ", "'"},
	}
	// contractions are MacIntyre's CONTRACTIONS2 and CONTRACTIONS3; the word
	// boundaries (\b, Unicode in Python) and wanna's (?=\s) are checked in code.
	contractions = []struct {
		re                   *regexp.Regexp
		leadBound, tailBound bool
		tailSpace            bool
		probe                string // lowercase text the pattern needs
	}{
		{regexp.MustCompile(`(?i)(can)(not)`), true, true, false, "cannot"},
		{regexp.MustCompile(`(?i)(d)('ye)`), true, true, false, "d'ye"},
		{regexp.MustCompile(`(?i)(gim)(me)`), true, true, false, "gimme"},
		{regexp.MustCompile(`(?i)(gon)(na)`), true, true, false, "gonna"},
		{regexp.MustCompile(`(?i)(got)(ta)`), true, true, false, "gotta"},
		{regexp.MustCompile(`(?i)(lem)(me)`), true, true, false, "lemme"},
		{regexp.MustCompile(`(?i)(more)('n)`), true, true, false, "more'n"},
		{regexp.MustCompile(`(?i)(wan)(na)`), true, false, true, "wanna"},
		{regexp.MustCompile(`(?i) ('t)(is)`), false, true, false, " 'tis"},
		{regexp.MustCompile(`(?i) ('t)(was)`), false, true, false, " 'twas"},
	}
)

// pySpaceClass is Python's \s for str patterns as an RE2 class.
const pySpaceClass = `[\t\n\v\f\r \x1c-\x1f\x85\p{Z}]`

func (s subst) apply(text string) string {
	if s.any != "" && !strings.ContainsAny(text, s.any) {
		return text
	}
	return s.re.ReplaceAllString(text, s.rep)
}

// TreebankTokenize is NLTK's NLTKWordTokenizer.tokenize (the improved
// Treebank tokenizer word_tokenize uses on each sentence).
func TreebankTokenize(text string) []string {
	for _, s := range startingQuotes {
		text = s.apply(text)
	}
	text = splitOpeningApostrophes(text)
	text = punctFinal1.apply(text)
	text = punctColon.apply(text)
	text = colonAtEnd(text)
	for _, s := range punctRest1 {
		text = s.apply(text)
	}
	text = punctFinal2.apply(text)
	for _, s := range punctRest2 {
		text = s.apply(text)
	}
	text = " " + text + " "
	for _, s := range endingQuotes1 {
		text = s.apply(text)
	}
	for _, s := range endingQuotes2 {
		text = s.apply(text)
	}
	lower := strings.ToLower(text)
	for _, c := range contractions {
		if !strings.Contains(lower, c.probe) {
			continue
		}
		text = replaceBounded(text, c.re, c.leadBound, c.tailBound, c.tailSpace)
	}
	return pySplit(text)
}

// splitOpeningApostrophes is the rule (?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w) → "' ".
func splitOpeningApostrophes(text string) string {
	if !strings.Contains(text, "'") {
		return text
	}
	rs := []rune(text)
	var b strings.Builder
	for i, r := range rs {
		b.WriteRune(r)
		if r != '\'' || (i > 0 && pyWord(rs[i-1])) || i+1 >= len(rs) || !pyWord(rs[i+1]) {
			continue
		}
		clitic := false
		for _, c := range []string{"re", "ve", "ll", "m", "t", "s", "d", "n"} {
			n := len(c)
			if i+1+n <= len(rs) && strings.EqualFold(string(rs[i+1:i+1+n]), c) &&
				(i+1+n == len(rs) || !pyWord(rs[i+1+n])) {
				clitic = true
				break
			}
		}
		if !clitic {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// colonAtEnd is ([:,])$ → " \1 ", where $ matches at the end or before a
// final newline.
func colonAtEnd(text string) string {
	body, nl := text, ""
	if strings.HasSuffix(body, "\n") {
		body, nl = body[:len(body)-1], "\n"
	}
	if strings.HasSuffix(body, ":") || strings.HasSuffix(body, ",") {
		return body[:len(body)-1] + " " + body[len(body)-1:] + " " + nl
	}
	return text
}

func runeBefore(s string, i int) (rune, bool) {
	if i <= 0 {
		return 0, false
	}
	r := []rune(s[:i])
	return r[len(r)-1], true
}

func runeAt(s string, i int) (rune, bool) {
	if i >= len(s) {
		return 0, false
	}
	for _, r := range s[i:] {
		return r, true
	}
	return 0, false
}

// replaceBounded replaces each match of re (two groups) by " \1 \2 " when
// the Unicode word boundaries (or the following whitespace) hold.
func replaceBounded(text string, re *regexp.Regexp, lead, tail, tailSpace bool) string {
	idx := re.FindAllStringSubmatchIndex(text, -1)
	if idx == nil {
		return text
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		if lead {
			if r, ok := runeBefore(text, m[0]); ok && pyWord(r) {
				continue
			}
		}
		if tail {
			if r, ok := runeAt(text, m[1]); ok && pyWord(r) {
				continue
			}
		}
		if tailSpace {
			if r, ok := runeAt(text, m[1]); !ok || !pyIsSpace(r) {
				continue
			}
		}
		b.WriteString(text[last:m[0]])
		b.WriteString(" " + text[m[2]:m[3]] + " " + text[m[4]:m[5]] + " ")
		last = m[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

// WordTokenize is NLTK's word_tokenize with SplitSentences' rules in place
// of the trained Punkt model: sentences first, then TreebankTokenize on
// each. The tokens equal NLTK's for single sentences and for ordinary
// multi-sentence text, and may differ around abbreviations the rules do not
// know; (*Punkt).WordTokenize with NLTK's model (`make punkt`) is exact.
func WordTokenize(text string) []string {
	var out []string
	for _, s := range SplitSentences(text) {
		out = append(out, TreebankTokenize(s)...)
	}
	return out
}

// punktNonWord are the characters Punkt's word tokenizer treats as
// non-word punctuation after a sentence end.
const punktNonWord = ")\";}]*:@'({[!?"

var punktAbbrevs = map[string]bool{}

func init() {
	for _, a := range strings.Fields(`mr mrs ms dr prof st jr sr inc ltd co corp u.s u.k u.n e.g i.e
		etc vs jan feb mar apr jun jul aug sep sept oct nov dec gen gov sen rep lt col capt
		sgt no fig mt ft a.m p.m dept est approx ave blvd rev messrs mme mlle ph.d`) {
		punktAbbrevs[a] = true
	}
}

// SplitSentences splits text into sentences the way Punkt does without
// learned collocations or orthographic statistics: a chunk ending in "?" or
// "!" ends a sentence; a chunk ending in "." does unless it is an ellipsis, a
// known abbreviation, or an initial or number followed by a word that does
// not look like a sentence start. Closing quotes and brackets after the end
// stay with the sentence.
func SplitSentences(text string) []string {
	type chunk struct{ start, end int }
	var chunks []chunk
	inChunk := false
	for i, r := range text {
		sp := pyIsSpace(r)
		if !sp && !inChunk {
			chunks = append(chunks, chunk{start: i})
			inChunk = true
		} else if sp && inChunk {
			chunks[len(chunks)-1].end = i
			inChunk = false
		}
	}
	if inChunk {
		chunks[len(chunks)-1].end = len(text)
	}
	var out []string
	last := -1
	for k, c := range chunks {
		if k == len(chunks)-1 {
			break
		}
		word := text[c.start:c.end]
		core := strings.TrimRight(word, `"')]}`)
		if core == "" {
			continue
		}
		// Punkt's candidate needs the end character to be followed by
		// whitespace or non-word punctuation.
		if strings.TrimLeft(word[len(core):], punktNonWord) != "" {
			continue
		}
		if !punktBreak(core, text[chunks[k+1].start:chunks[k+1].end]) {
			continue
		}
		start := chunks[0].start
		if last >= 0 {
			start = last
		}
		out = append(out, text[start:c.end])
		last = chunks[k+1].start
	}
	if len(chunks) == 0 {
		return nil
	}
	start := chunks[0].start
	if last >= 0 {
		start = last
	}
	return append(out, text[start:])
}

var numberType = regexp.MustCompile(`^-?[.,]?\d[\d,.-]*\.?$`)

func punktBreak(core, next string) bool {
	switch core[len(core)-1] {
	case '?', '!':
		return true
	case '.':
	default:
		return false
	}
	tok := strings.TrimLeft(core, punktNonWord)
	if tok == "." {
		return true
	}
	if strings.HasSuffix(tok, "..") {
		return false
	}
	base := pyLower(tok[:len(tok)-1])
	parts := strings.Split(base, "-")
	if punktAbbrevs[base] || punktAbbrevs[parts[len(parts)-1]] {
		return false
	}
	nr := []rune(tok)
	initial := len(nr) == 2 && unicode.IsLetter(nr[0])
	number := numberType.MatchString(pyLower(tok))
	if !initial && !number {
		return true
	}
	if strings.ContainsAny(next[:1], ";:,.!?") && len(next) == 1 {
		return false
	}
	nf, _ := runeAt(next, 0)
	if unicode.IsLower(nf) {
		return false
	}
	if initial && unicode.IsUpper(nf) {
		return false
	}
	return true
}
