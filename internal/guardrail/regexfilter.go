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
}

func newUserRegex(p string) (*userRegex, error) {
	re, err := compileUserRegex(p)
	if err != nil {
		return nil, err
	}
	u := &userRegex{re: re}
	if ast, err := syntax.Parse(p, syntax.Perl); err == nil {
		u.lit, u.fold = requiredLiteral(ast.Simplify())
	}
	return u, nil
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
	return u.re.FindAllStringIndex(text, n)
}
