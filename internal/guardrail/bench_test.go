package guardrail

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// fullDefinition enables every policy: 5 denied topics, all six content
// filters at HIGH, 100 custom words plus PROFANITY, every PII type (NAME and
// ADDRESS need an entity detector and find nothing here) and three regexes.
func fullDefinition() *Definition {
	d := base()
	d.TopicPolicyConfig = &TopicPolicyConfig{TopicsConfig: []Topic{
		{Name: "Investment advice", Definition: "Recommendations about which stocks, funds or cryptocurrencies to buy or sell.", Examples: []string{"Which stocks should I buy?", "Is bitcoin a good investment now?"}, Type: "DENY"},
		{Name: "Medical diagnosis", Definition: "Diagnosing a person's illness or prescribing medication.", Examples: []string{"What medicine should I take for my chest pain?"}, Type: "DENY"},
		{Name: "Elections", Definition: "Opinions about candidates or parties in political elections.", Type: "DENY"},
		{Name: "Legal advice", Definition: "Advice on how to handle a specific lawsuit or legal dispute.", Type: "DENY"},
		{Name: "Weapons", Definition: "Building, buying or modifying firearms or explosives.", Type: "DENY"},
	}}
	var fs []ContentFilter
	for _, c := range Categories {
		out := "HIGH"
		if c == "PROMPT_ATTACK" {
			out = "NONE"
		}
		fs = append(fs, ContentFilter{Type: c, InputStrength: "HIGH", OutputStrength: out})
	}
	d.ContentPolicyConfig = &ContentPolicyConfig{FiltersConfig: fs}
	var ws []Word
	for i := 0; i < 100; i++ {
		ws = append(ws, Word{Text: fmt.Sprintf("codename%d alpha", i)})
	}
	d.WordPolicyConfig = &WordPolicyConfig{WordsConfig: ws, ManagedWordListsConfig: []ManagedWordList{{Type: "PROFANITY"}}}
	var pe []PIIEntity
	for _, t := range PIITypes {
		pe = append(pe, PIIEntity{Type: t, Action: ActionAnonymize})
	}
	d.SensitiveInformationPolicyConfig = &SensitiveInformationPolicyConfig{PIIEntitiesConfig: pe, RegexesConfig: []Regex{
		{Name: "order", Pattern: `\bORD-\d{6}\b`, Action: ActionAnonymize},
		{Name: "employee", Pattern: `\bEMP[0-9]{5}\b`, Action: ActionAnonymize},
		{Name: "ticket", Pattern: `(?i)\bticket\s*#?\d{4,8}\b`, Action: ActionAnonymize},
	}}
	return d
}

// prompt8K is an 8 KiB prompt of ordinary prose with some PII in it.
func prompt8K() string {
	parts := []string{
		"Please summarise the following customer e-mail thread and draft a polite reply. ",
		"The customer, reachable at alex.smith@example.org or +1 415-555-0199, says the invoice from March was charged twice. ",
		"They paid with a card ending in 4242 and want a refund to their account. Their order number is ORD-123456. ",
		"In the second message they explain that the delivery was late because of the storm, and that the courier left the parcel at the neighbour's door. ",
		"Our policy allows refunds within thirty days of purchase when the duplicate charge is confirmed by the payments team. ",
		"The support agent replied on Tuesday asking for a screenshot of the bank statement, which the customer sent on Wednesday. ",
		"See https://support.example.com/tickets/98765 for the full history, and note the customer's IP 203.0.113.7 from the login log. ",
		"Keep the reply under two hundred words, thank them for their patience, and explain the next steps clearly. ",
	}
	var b strings.Builder
	for i := 0; b.Len() < 8192; i++ {
		b.WriteString(parts[i%len(parts)])
	}
	return b.String()[:8192]
}

// BenchmarkApplyGuardrail8K measures ApplyGuardrail on an 8 KiB prompt with
// every policy enabled, and reports the median and 99th percentile wall
// time per call as the p50-ms and p99-ms metrics.
func BenchmarkApplyGuardrail8K(b *testing.B) {
	c := mustCompile(b, fullDefinition())
	req := &ApplyRequest{Source: SourceInput, Content: []Content{{Text: &TextContent{Text: prompt8K()}}}}
	var e Engine
	ctx := context.Background()
	if _, err := e.Apply(ctx, c, req); err != nil { // warm up lazy tables
		b.Fatal(err)
	}
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.SetBytes(8192)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := e.Apply(ctx, c, req); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkDetectors breaks the 8 KiB cost down by detector.
func BenchmarkDetectors(b *testing.B) {
	text := prompt8K()
	m, err := BuiltinModel()
	if err != nil {
		b.Fatal(err)
	}
	topics := NewLexicalTopics(fullDefinition().TopicPolicyConfig.TopicsConfig)
	ws := profanity()
	b.Run("pii", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for i := 0; i < b.N; i++ {
			DetectPII(text, nil)
		}
	})
	b.Run("classifier", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for i := 0; i < b.N; i++ {
			m.Classify(context.Background(), text)
		}
	})
	b.Run("topics", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for i := 0; i < b.N; i++ {
			topics.MatchTopics(context.Background(), text)
		}
	})
	b.Run("profanity", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for i := 0; i < b.N; i++ {
			ws.match(text, tokenize(text, nil), nil)
		}
	})
}

// BenchmarkDetectPIIAdversarial runs the PII detector on 100 KB texts built
// to hit its worst cases: dense digit runs, dense context keywords, many
// '@' and ':' characters. Cost must stay linear in the text length.
func BenchmarkDetectPIIAdversarial(b *testing.B) {
	for _, tc := range []struct{ name, unit string }{
		{"digits", "1 "}, {"dashed", "1-2 "}, {"password", "password "}, {"at", "a@b."},
		{"url", "http://"}, {"iban", "GB82 "}, {"colons", ":1"},
	} {
		text := strings.Repeat(tc.unit, 100_000/len(tc.unit))
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				DetectPII(text, nil)
			}
		})
	}
}
