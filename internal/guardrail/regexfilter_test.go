package guardrail

import (
	"fmt"
	"regexp/syntax"
	"strings"
	"testing"
)

func TestRequiredLiteral(t *testing.T) {
	tests := []struct {
		pattern, lit string
		fold         bool
	}{
		{`\bORD-\d{6}\b`, "ORD-", false},
		{`(?i)\border\s*#?\d{4,8}\b`, "order", true},
		{`(?i)ticket`, "ticket", true}, // k also folds to the Kelvin sign: findAll checks for it
		{`EMP[0-9]{5}`, "EMP", false},
		{`a|bc`, "", false},
		{`(?:abc)+x`, "abc", false},
		{`(?:abc)*x`, "", false},
		{`\d+`, "", false},
	}
	for _, tc := range tests {
		re, err := syntax.Parse(tc.pattern, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		lit, fold, _ := requiredLiteral(re.Simplify())
		if lit != tc.lit || fold != tc.fold {
			t.Errorf("requiredLiteral(%q) = %q, %v; want %q, %v", tc.pattern, lit, fold, tc.lit, tc.fold)
		}
	}
	u, _ := newUserRegex(`(?i)order\s*\d+`)
	if got := u.findAll("see ORDER 1234", "see order 1234", 10); len(got) != 1 {
		t.Errorf("findAll = %v, want one match", got)
	}
	if got := u.findAll("nothing here", "nothing here", 10); got != nil {
		t.Errorf("findAll = %v, want none", got)
	}
}

// TestUserRegexWindows checks that windowed matching finds what a scan of
// the whole text finds.
func TestUserRegexWindows(t *testing.T) {
	texts := []string{
		"ORD-123456 and xORD-654321 and ORD-111111x, ORD-222222.",
		strings.Repeat("filler text ", 50) + "ORD-333333" + strings.Repeat(" more", 40) + " ORD-444444ORD-555555",
		"ORD-12345", "", "ORD-",
		"TIC\u212aET #12345, ticket 1234 and ord-\u017f 123456", "Ticket  #99999 and tickets 12345",
	}
	for _, p := range []string{`\bORD-\d{6}\b`, `ORD-\d{6}`, `\BORD-\d+`, `(?:ORD|REF)-\d{6}`, `(?i)ord-\d{6}\b`,
		`(?i)\bticket\s*#?\d{4,8}\b`, `(?i)tickets?`} {
		u, err := newUserRegex(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range texts {
			want := u.re.FindAllStringIndex(text, 100)
			got := u.findAll(text, asciiLower(text), 100)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s on %q: got %v, want %v", p, text, got, want)
			}
		}
	}
}
