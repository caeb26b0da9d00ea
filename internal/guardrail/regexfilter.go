package guardrail

import (
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
	// maxLen bounds the length in bytes of a match, -1 if unbounded or if
	// the pattern has text or line anchors. When bounded, the regex runs
	// only on windows around the literal's occurrences.
	maxLen int
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
		u.lit, u.fold = requiredLiteral(ast)
		u.maxLen = maxMatchLen(ast)
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
// contains (at least two bytes, ASCII only when case-folded).
func requiredLiteral(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpCapture:
		return requiredLiteral(re.Sub[0])
	case syntax.OpLiteral:
		return literalOf(re)
	case syntax.OpConcat:
		best, fold := "", false
		for _, s := range re.Sub {
			l, f := requiredLiteral(s)
			if len(l) > len(best) {
				best, fold = l, f
			}
		}
		return best, fold
	case syntax.OpPlus:
		return requiredLiteral(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiteral(re.Sub[0])
		}
	}
	return "", false
}

func literalOf(re *syntax.Regexp) (string, bool) {
	s := string(re.Rune)
	if len(s) < 2 {
		return "", false
	}
	if re.Flags&syntax.FoldCase != 0 {
		s = strings.ToLower(s)
		for i := 0; i < len(s); i++ {
			// k and s also fold to non-ASCII runes (Kelvin sign, long s),
			// which an ASCII search would miss.
			if s[i] >= utf8.RuneSelf || s[i] == 'k' || s[i] == 's' {
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
	switch {
	case u.lit == "":
	case u.fold && !strings.Contains(lower, u.lit):
		return nil
	case !u.fold && !strings.Contains(text, u.lit):
		return nil
	}
	if u.lit == "" || u.maxLen < 0 {
		return u.re.FindAllStringIndex(text, n)
	}
	hay := text
	if u.fold {
		hay = lower
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
	for off := 0; len(out) < n; {
		i := strings.Index(hay[off:], u.lit)
		if i < 0 {
			break
		}
		pos := off + i
		off = pos + 1
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

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
