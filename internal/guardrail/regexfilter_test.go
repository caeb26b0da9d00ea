package guardrail

import (
	"regexp/syntax"
	"testing"
)

func TestRequiredLiteral(t *testing.T) {
	tests := []struct {
		pattern, lit string
		fold         bool
	}{
		{`\bORD-\d{6}\b`, "ORD-", false},
		{`(?i)\border\s*#?\d{4,8}\b`, "order", true},
		{`(?i)ticket`, "", false}, // k folds to the Kelvin sign
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
		lit, fold := requiredLiteral(re.Simplify())
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
