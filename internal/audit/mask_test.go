package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/guardrail"
	"github.com/outcrop/outcrop/internal/testenv"
)

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"write to jane.doe+x@example.co.uk today", "write to [EMAIL] today"},
		{"my ssn is 536-22-8726.", "my ssn is [US_SOCIAL_SECURITY_NUMBER]."},
		// The guardrail's SSN rules reject 123-45-6789 (a known sample
		// number); the audit log hides it anyway.
		{"my ssn is 123-45-6789.", "my ssn is [NUMBER]."},
		{"card 4111 1111 1111 1111 exp 12/27", "card [CREDIT_DEBIT_CARD_NUMBER] exp [CREDIT_DEBIT_CARD_EXPIRY]"},
		{"card 4111-1111-1111-1111", "card [CREDIT_DEBIT_CARD_NUMBER]"},
		{"call +1 (555) 010-9999 x123 now", "call [PHONE] x123 now"},
		{"call 020 7946 0018", "call [PHONE]"},
		// Not a valid card (Luhn fails): no type, but still hidden.
		{"ref 4111 1111 1111 1112 attached", "ref [NUMBER] attached"},
		{"password: hunter2", "password: [PASSWORD]"},
		{"nothing here, 42 apples and 3 pears", "nothing here, 42 apples and 3 pears"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Mask(tc.in); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// presidioPath is the Presidio synthetic PII sentences in the shared
// datasets (testenv.Datasets).
func presidioPath(t *testing.T) string {
	return filepath.Join(testenv.Datasets(t), "presidio-research", "data", "synth_dataset_v2.json")
}

// TestMaskPresidio masks every synthetic sentence of the Presidio research
// set and checks that no e-mail, phone, card or SSN value survives.
func TestMaskPresidio(t *testing.T) {
	b, err := os.ReadFile(presidioPath(t))
	if err != nil {
		t.Fatal(err)
	}
	var samples []struct {
		FullText string `json:"full_text"`
		Spans    []struct {
			Type  string `json:"entity_type"`
			Value string `json:"entity_value"`
		} `json:"spans"`
	}
	if err := json.Unmarshal(b, &samples); err != nil {
		t.Fatal(err)
	}
	checked := map[string]int{}
	for _, s := range samples {
		masked := Mask(s.FullText)
		for _, sp := range s.Spans {
			switch sp.Type {
			case "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN":
			default:
				continue
			}
			checked[sp.Type]++
			if strings.Contains(masked, sp.Value) {
				t.Errorf("%s %q survives masking: %q", sp.Type, sp.Value, masked)
			}
			// No run of the value's digits longer than 4 may survive.
			if d := digitsOf(sp.Value); len(d) >= 7 && strings.Contains(digitsOf(masked), d[len(d)-5:]) && strings.Contains(masked, tail(sp.Value)) {
				t.Errorf("%s %q partly survives masking: %q", sp.Type, sp.Value, masked)
			}
		}
	}
	t.Logf("checked values: %v", checked)
	for _, typ := range []string{"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN"} {
		if checked[typ] == 0 {
			t.Errorf("no %s values in the dataset", typ)
		}
	}
}

func digitsOf(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// tail returns the last 5 characters of v, to find a value's end in text.
func tail(v string) string {
	if len(v) <= 5 {
		return v
	}
	return v[len(v)-5:]
}

// FuzzMask: whatever the text, the guardrail detector finds nothing left in
// the masked text (the two agree on what PII is), and no run of 7 digits
// survives.
func FuzzMask(f *testing.F) {
	f.Add("mail a@b.co or call 555-123-4567, card 4111111111111111, ssn 123-45-6789")
	f.Add("IBAN GB82 WEST 1234 5698 7654 32, ip 10.0.0.1, password: x")
	f.Fuzz(func(t *testing.T, s string) {
		m := Mask(s)
		for _, sp := range guardrail.DetectPII(m, nil) {
			if !strings.HasPrefix(m[sp.Start:], "[") {
				t.Errorf("Mask(%q) = %q: the guardrail still finds %s %q", s, m, sp.Type, m[sp.Start:sp.End])
			}
		}
		run := 0
		for i := 0; i < len(m); i++ {
			if m[i] >= '0' && m[i] <= '9' {
				if run++; run >= 7 {
					t.Fatalf("Mask(%q) = %q keeps a run of 7 digits", s, m)
				}
			} else {
				run = 0
			}
		}
	})
}
