package audit

import (
	"regexp"
	"strings"
)

// Masking replaces personal data in text with placeholders before it is
// stored: e-mail addresses → [EMAIL], US social security numbers → [SSN],
// payment-card-like numbers (12–19 digits, optionally grouped with spaces
// or dashes) → [CARD], and phone-like numbers (7 or more digits with the
// usual separators, + prefixes, parentheses and extensions) → [PHONE].
//
// The rules prefer over-masking: any long digit sequence is hidden, so
// dates written as 2026-11-25 also become [PHONE]. They are checked against
// the Presidio synthetic PII sentences (see mask_test.go).
var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	ssnRE   = regexp.MustCompile(`\b\d{3}[- ]\d{2}[- ]\d{4}\b`)
	cardRE  = regexp.MustCompile(`\b(?:\d[ \-]?){11,18}\d\b`)
	phoneRE = regexp.MustCompile(`(?:\+|\(\+?)?\d[\d \t().\-/]{4,}\d(?:[ \t]*(?:x|ext\.?|#)[ \t]*\d{1,6})?`)
)

// Mask returns s with e-mail addresses, SSNs, card numbers and phone
// numbers replaced by placeholders.
func Mask(s string) string {
	if s == "" {
		return s
	}
	if strings.IndexByte(s, '@') >= 0 {
		s = emailRE.ReplaceAllString(s, "[EMAIL]")
	}
	if !hasDigitRun(s) {
		return s
	}
	s = ssnRE.ReplaceAllString(s, "[SSN]")
	s = cardRE.ReplaceAllString(s, "[CARD]")
	s = phoneRE.ReplaceAllStringFunc(s, func(m string) string {
		if countDigits(m) >= 7 {
			return "[PHONE]"
		}
		return m
	})
	return s
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// hasDigitRun reports whether s has at least 7 digits at all; text without
// them cannot hold a number worth masking.
func hasDigitRun(s string) bool { return countDigits(s) >= 7 }
