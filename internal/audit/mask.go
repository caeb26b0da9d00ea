package audit

import (
	"regexp"
	"strings"

	"github.com/outcrop/outcrop/internal/guardrail"
)

// Masking replaces personal data in text with placeholders before it is
// stored. It uses the guardrails' own PII detector (guardrail.DetectPII, every
// pattern type: e-mail, phone, card with Luhn, SSN, IBAN, IP, AWS keys,
// context-introduced passwords, …), so the audit log and a guardrail agree on
// what a card or a phone number is: each span becomes [TYPE], e.g.
// [EMAIL], [PHONE], [CREDIT_DEBIT_CARD_NUMBER].
//
// The log then errs on the side of hiding: any other run of 7 or more digits
// with the usual separators (a number that failed a checksum, a date written
// 2026-11-25) becomes [NUMBER]. NAME and ADDRESS need a model and are not
// masked. Checked against the Presidio synthetic PII sentences (mask_test.go).
var numberRE = regexp.MustCompile(`(?:\+|\(\+?)?\d[\d \t().\-/]{4,}\d(?:[ \t]*(?:x|ext\.?|#)[ \t]*\d{1,6})?`)

// Mask returns s with the PII the guardrail detector finds replaced by
// [TYPE] placeholders and remaining long digit runs by [NUMBER]. A
// placeholder can change what its neighbours look like ("a@b.AA" before
// hidden digits reads as an e-mail once they are gone), so masking repeats
// until the detector finds nothing new, at most four times.
func Mask(s string) string {
	for range 4 {
		m := maskOnce(s)
		if m == s {
			break
		}
		s = m
	}
	return s
}

// maskOnce is one masking pass.
func maskOnce(s string) string {
	if s == "" {
		return s
	}
	spans := guardrail.DetectPII(s, nil)
	if len(spans) == 0 && countDigits(s) < 7 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans { // sorted, not overlapping
		b.WriteString(maskNumbers(s[last:sp.Start]))
		b.WriteString("[" + sp.Type + "]")
		last = sp.End
	}
	b.WriteString(maskNumbers(s[last:]))
	return b.String()
}

// maskNumbers replaces digit runs of 7 or more digits by [NUMBER].
func maskNumbers(s string) string {
	if countDigits(s) < 7 {
		return s
	}
	return numberRE.ReplaceAllStringFunc(s, func(m string) string {
		if countDigits(m) >= 7 {
			return "[NUMBER]"
		}
		return m
	})
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
