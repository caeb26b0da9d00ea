package guardrail

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzDetectPII checks that detection never panics and returns sorted,
// non-overlapping spans inside the text.
func FuzzDetectPII(f *testing.F) {
	for _, s := range []string{
		"call +1 (415) 555-0199 or mail a.b@example.com",
		"card 4111 1111 1111 1111 exp 12/27 cvv 123",
		"GB82 WEST 1234 5698 7654 32 and 2001:db8::1 and 00:1A:2B:3C:4D:5E",
		"my password is hunter22 and username: bob_smith, passport A12345678",
		"AKIAIOSFODNN7EXAMPLE aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"routing number 021000021, NHS number 943 476 5919, SIN 046 454 286, VIN 1HGCM82633A004352",
		"(((((((((1", "+", "x1", "1x", "::", "@@@.", "https://", "www.", "\xff\xfe1234",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spans := DetectPII(s, nil)
		prev := 0
		for _, sp := range spans {
			if sp.Start < prev || sp.End <= sp.Start || sp.End > len(s) {
				t.Fatalf("DetectPII(%q): bad span %+v after %d", s, sp, prev)
			}
			if _, ok := piiTypeSet[sp.Type]; !ok {
				t.Fatalf("DetectPII(%q): unknown type %q", s, sp.Type)
			}
			prev = sp.End
		}
	})
}

// FuzzDefinition feeds arbitrary JSON through the CreateGuardrail path:
// decode, validate, compile, and apply to the input as text. Invalid
// definitions must be rejected with a validation error, never a panic.
func FuzzDefinition(f *testing.F) {
	seeds := []string{
		`{"name":"g","blockedInputMessaging":"no","blockedOutputsMessaging":"no","wordPolicyConfig":{"managedWordListsConfig":[{"type":"PROFANITY"}]}}`,
		`{"name":"g","blockedInputMessaging":"no","blockedOutputsMessaging":"no","sensitiveInformationPolicyConfig":{"regexesConfig":[{"name":"r","pattern":"(a*)*b","action":"ANONYMIZE"}]}}`,
		`{"name":"g","blockedInputMessaging":"no","blockedOutputsMessaging":"no","topicPolicyConfig":{"topicsConfig":[{"name":"t","definition":"d","type":"DENY"}]}}`,
		`{"name":"g","blockedInputMessaging":"no","blockedOutputsMessaging":"no","contentPolicyConfig":{"filtersConfig":[{"type":"HATE","inputStrength":"HIGH","outputStrength":"LOW"}]}}`,
		`{"name":"g","blockedInputMessaging":"no","blockedOutputsMessaging":"no","contextualGroundingPolicyConfig":{"filtersConfig":[{"type":"GROUNDING","threshold":0.5}]}}`,
		`{"name":"bad name"}`, `[]`, `{"sensitiveInformationPolicyConfig":{"regexesConfig":[{"pattern":"\\"}]}}`,
	}
	for _, s := range seeds {
		f.Add(s, "Contact me at a@b.co about ORD-1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac")
	}
	var e Engine
	f.Fuzz(func(t *testing.T, def, text string) {
		var d Definition
		if json.Unmarshal([]byte(def), &d) != nil {
			return
		}
		if err := Validate(&d); err != nil {
			return
		}
		g := FromDefinition(&d)
		c, err := Compile(g)
		if err != nil {
			t.Fatalf("Compile after Validate: %v", err)
		}
		for _, src := range []Source{SourceInput, SourceOutput} {
			res, err := e.Apply(context.Background(), c, &ApplyRequest{Source: src, Content: []Content{
				{Text: &TextContent{Text: text}},
				{Text: &TextContent{Text: text, Qualifiers: []string{QualifierGroundingSource}}},
			}})
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if len(res.Assessments) != 1 {
				t.Fatalf("Apply: %d assessments", len(res.Assessments))
			}
			if res.Action == NoAction && len(res.Outputs) > 0 && !(c.p.OutputHandling != nil && c.p.OutputHandling.HTMLEncode) {
				t.Fatalf("Apply: outputs without intervention: %+v", res)
			}
		}
	})
}

// FuzzWords checks word matching on arbitrary text against arbitrary
// configured phrases: hits lie on the text and match case-insensitively.
func FuzzWords(f *testing.F) {
	f.Add("Project Falcon", "tell me about PROJECT   falcon now")
	f.Add("b1tch", "you b1tch!")
	f.Add("a b c", "a b c d")
	f.Fuzz(func(t *testing.T, word, text string) {
		ws := newWordSet()
		ws.add(word, 0)
		for _, h := range ws.match(text, tokenize(text, nil), nil) {
			if h.start < 0 || h.end > len(text) || h.start >= h.end {
				t.Fatalf("bad hit %+v in %q", h, text)
			}
			if utf8.ValidString(word) && utf8.ValidString(text) {
				a := strings.Join(strings.FieldsFunc(strings.ToLower(text[h.start:h.end]), notWord), " ")
				b := strings.Join(strings.FieldsFunc(strings.ToLower(word), notWord), " ")
				if a != b && len(a) == len(b) {
					t.Fatalf("hit %q does not match word %q", a, b)
				}
			}
		}
	})
}

func notWord(r rune) bool { return r < 0x80 && !isWordByte(byte(r)) }

// TestRegexCannotStall runs a catastrophic-backtracking pattern from
// backtracking engines on a long adversarial input; RE2 semantics keep it
// linear. The bound is generous and only catches exponential behaviour.
func TestRegexCannotStall(t *testing.T) {
	d := base()
	d.SensitiveInformationPolicyConfig = &SensitiveInformationPolicyConfig{RegexesConfig: []Regex{
		{Name: "evil", Pattern: `^(a+)+$`, Action: ActionBlock},
		{Name: "evil2", Pattern: `(a|aa)*c`, Action: ActionBlock},
	}}
	c := mustCompile(t, d)
	text := strings.Repeat("a", 100_000) + "!"
	done := make(chan struct{})
	go func() {
		apply(t, c, SourceInput, text)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("regex evaluation did not finish: catastrophic backtracking")
	}
	huge := strings.Repeat(`(a{1000})`, 10)
	d.SensitiveInformationPolicyConfig.RegexesConfig = []Regex{{Name: "big", Pattern: huge, Action: ActionBlock}}
	if err := Validate(d); err == nil {
		t.Fatal("Validate accepted a pattern compiling to a huge program")
	}
}

// FuzzUserRegexWindows checks that the prefiltered, windowed search of
// custom regexes finds exactly what a scan of the whole text finds.
func FuzzUserRegexWindows(f *testing.F) {
	f.Add("ORD-123456 xORD-1 ORD-999999.", uint8(0))
	f.Add("ord-123456\tORD-654321", uint8(4))
	f.Add("Ticket #12345 ticket 9 xticket 4444 TICKET\t#1234567", uint8(6))
	f.Add("abORD 12 ORDORD 3\nORD-1\nabcORD", uint8(7))
	f.Add("TIC\u212aET #12345 ticket 1234", uint8(6))
	f.Add("\xffORD-1 é\u00e9ORD-22", uint8(8))
	pats := []string{`\bORD-\d{6}\b`, `ORD-\d{6}`, `\BORD-\d+`, `(?:ORD|REF)-\d{6}`, `(?i)ord-\d{6}\b`, `(?i)\border\s*#?\d{4}`,
		`(?i)\bticket\s*#?\d{4,8}\b`, `[a-z]{0,3}ORD\s*\d*`, `(?m)^ORD-\d+$`, `\bx?ORD(?:-\d)+`, `(ab)?ORD.*`}
	us := make([]*userRegex, len(pats))
	for i, p := range pats {
		u, err := newUserRegex(p)
		if err != nil {
			f.Fatal(err)
		}
		us[i] = u
	}
	f.Fuzz(func(t *testing.T, text string, k uint8) {
		u := us[int(k)%len(us)]
		want := u.re.FindAllStringIndex(text, 100)
		got := u.findAll(text, asciiLower(text), 100)
		if len(got) != len(want) {
			t.Fatalf("%s on %q: got %v, want %v", u.re, text, got, want)
		}
		for i := range got {
			if got[i][0] != want[i][0] || got[i][1] != want[i][1] {
				t.Fatalf("%s on %q: got %v, want %v", u.re, text, got, want)
			}
		}
	})
}
