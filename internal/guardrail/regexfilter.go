package guardrail

import (
	"iter"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// userRegex is a compiled custom regex with a prefilter: a literal that
// every match must contain. When the literal does not occur in a text the
// regex cannot match, so the regex is not run at all; Go's regexp engine
// costs far more per byte than a substring search.
type userRegex struct {
	re   *regexp.Regexp
	lit  string // required literal; empty if none was found
	fold bool   // lit is lower-case ASCII and must be searched case-insensitively
	// ks: lit is folded and has a k or an s, which also fold to the Kelvin
	// sign and the long s; an ASCII search is exact only in texts without
	// those two runes.
	ks bool
	// maxLen bounds the length in bytes of a match, -1 if unbounded or if
	// the pattern has text or line anchors. When bounded, the regex runs
	// only on windows around the literal's occurrences.
	maxLen int
	// For an unbounded pattern whose matches start at most prefix bytes
	// before the literal: at0 is the pattern anchored at the start of its
	// input, at1 the same after one arbitrary rune (the byte before the
	// candidate start, so that \b and (?m)^ see their real context).
	prefix   int
	at0, at1 *regexp.Regexp
}

func newUserRegex(p string) (*userRegex, error) {
	re, err := compileUserRegex(p)
	if err != nil {
		return nil, err
	}
	u := &userRegex{re: re}
	u.maxLen = -1
	if ast, err := syntax.Parse(p, syntax.Perl); err == nil {
		ast = ast.Simplify()
		u.lit, u.fold, u.prefix = requiredLiteral(ast)
		u.maxLen = maxMatchLen(ast)
		u.ks = u.fold && strings.ContainsAny(u.lit, "ks")
	}
	if u.lit != "" && u.maxLen < 0 && u.prefix >= 0 {
		var err0, err1 error
		u.at0, err0 = regexp.Compile(`^(?:` + p + `)`)
		u.at1, err1 = regexp.Compile(`^(?s:.)(?:` + p + `)`)
		if err0 != nil || err1 != nil {
			u.at0, u.at1 = nil, nil
		}
	}
	return u, nil
}

// maxMatchLen bounds the bytes a match of re can span, or returns -1.
func maxMatchLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0
	case syntax.OpLiteral:
		return 4 * len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 4
	case syntax.OpCapture:
		return maxMatchLen(re.Sub[0])
	case syntax.OpQuest:
		return maxMatchLen(re.Sub[0])
	case syntax.OpRepeat:
		m := maxMatchLen(re.Sub[0])
		if re.Max < 0 || m < 0 {
			return -1
		}
		return re.Max * m
	case syntax.OpConcat, syntax.OpAlternate:
		total := 0
		for _, s := range re.Sub {
			m := maxMatchLen(s)
			if m < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				total += m
			} else {
				total = max(total, m)
			}
		}
		return total
	}
	return -1 // star, plus, anchors (^ $ \A \z) and anything else
}

// requiredLiteral returns the longest literal that every match of re
// contains (at least two bytes, ASCII only when case-folded), and how many
// bytes of a match can precede that literal (-1 if unbounded).
func requiredLiteral(re *syntax.Regexp) (string, bool, int) {
	switch re.Op {
	case syntax.OpCapture:
		return requiredLiteral(re.Sub[0])
	case syntax.OpLiteral:
		l, f := literalOf(re)
		return l, f, 0
	case syntax.OpConcat:
		best, fold, pre := "", false, -1
		before := 0 // bound on the bytes matched by re.Sub[:i]
		for _, s := range re.Sub {
			l, f, p := requiredLiteral(s)
			if len(l) > len(best) {
				best, fold, pre = l, f, -1
				if before >= 0 && p >= 0 {
					pre = before + p
				}
			}
			if m := maxMatchLen(s); m < 0 || before < 0 {
				before = -1
			} else {
				before += m
			}
		}
		return best, fold, pre
	case syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	}
	return "", false, -1
}

func literalOf(re *syntax.Regexp) (string, bool) {
	s := string(re.Rune)
	if len(s) < 2 {
		return "", false
	}
	if re.Flags&syntax.FoldCase != 0 {
		s = strings.ToLower(s)
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return "", false
			}
		}
		return s, true
	}
	return s, false
}

// findAll returns the matches of u in text (lower is text with ASCII
// letters lower-cased), at most n.
func (u *userRegex) findAll(text, lower string, n int) [][]int {
	if u.ks && (strings.Contains(text, "\u212a") || strings.Contains(text, "\u017f")) {
		return u.re.FindAllStringIndex(text, n)
	}
	switch {
	case u.lit == "":
	case u.fold && !strings.Contains(lower, u.lit):
		return nil
	case !u.fold && !strings.Contains(text, u.lit):
		return nil
	}
	hay := text
	if u.fold {
		hay = lower
	}
	if u.lit != "" && u.maxLen < 0 && u.at0 != nil {
		return u.findAtStarts(text, hay, n)
	}
	if u.lit == "" || u.maxLen < 0 {
		return u.re.FindAllStringIndex(text, n)
	}
	// Windows around each occurrence, widened to whitespace (so \b at a
	// window edge means what it means in the whole text) and merged.
	var out [][]int
	ws, we := -1, -1
	flush := func() {
		if ws < 0 {
			return
		}
		for _, m := range u.re.FindAllStringIndex(text[ws:we], n-len(out)) {
			out = append(out, []int{m[0] + ws, m[1] + ws})
		}
	}
	for pos := range occurrences(hay, u.lit) {
		if len(out) >= n {
			break
		}
		a, b := max(pos-u.maxLen, 0), min(pos+len(u.lit)+u.maxLen, len(text))
		for a > 0 && !isSpaceByte(text[a-1]) {
			a--
		}
		for b < len(text) && !isSpaceByte(text[b]) {
			b++
		}
		if a <= we {
			we = max(we, b)
			continue
		}
		flush()
		ws, we = a, b
	}
	if len(out) < n {
		flush()
	}
	return out
}

// occurrences yields the offset of every occurrence of lit in hay, in
// increasing order, overlapping ones included.
func occurrences(hay, lit string) iter.Seq[int] {
	return func(yield func(int) bool) {
		for off := 0; ; {
			i := strings.Index(hay[off:], lit)
			if i < 0 || !yield(off+i) {
				return
			}
			off += i + 1
		}
	}
}

// maxAnchoredTries bounds the anchored attempts of findAtStarts. A failed
// attempt of an unbounded pattern can read to the end of the text, so past
// this many the whole-text scan (linear) is cheaper in the worst case.
const maxAnchoredTries = 16

// findAtStarts finds the matches of an unbounded pattern by trying it,
// anchored, at each candidate start: the prefix bytes before each
// occurrence of the literal and the occurrence itself, in increasing
// order and never before the end of the previous match. Every match starts
// at a candidate, so this finds what a left-to-right scan of the whole text
// finds. With more than maxAnchoredTries candidates it scans the whole
// text instead, so the worst case stays within a constant factor of that
// scan.
func (u *userRegex) findAtStarts(text, hay string, n int) [][]int {
	var out [][]int
	tries := 0
	next := 0 // lowest start not tried yet and not inside a match
	for pos := range occurrences(hay, u.lit) {
		if len(out) >= n {
			break
		}
		for s := max(pos-u.prefix, next); s <= pos; s++ {
			if tries++; tries > maxAnchoredTries {
				return u.re.FindAllStringIndex(text, n)
			}
			var m []int
			if s == 0 {
				m = u.at0.FindStringIndex(text)
			} else if prev, ok := prevRune(text, s); !ok {
				continue // inside a rune: no match starts here
			} else if m = u.at1.FindStringIndex(text[prev:]); m != nil {
				m[1] += prev
			}
			next = s + 1
			if m == nil {
				continue
			}
			out = append(out, []int{s, m[1]})
			if m[1] > s {
				next = m[1]
			}
			break
		}
	}
	return out
}

// prevRune returns where the rune before byte offset s starts, as a
// left-to-right decoding of text (one byte per invalid byte) sees it, and
// whether s is a rune boundary of that decoding at all.
func prevRune(text string, s int) (int, bool) {
	j := s - 1
	for j > 0 && j > s-4 && !utf8.RuneStart(text[j]) {
		j--
	}
	if !utf8.RuneStart(text[j]) {
		return s - 1, true // stray continuation bytes decode one by one
	}
	for {
		_, size := utf8.DecodeRuneInString(text[j:])
		if j+size >= s {
			return j, j+size == s
		}
		j += size
	}
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
