package bench

import (
	"context"
	"strings"
	"testing"
)

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"100", "100-1000", "1k-100k", "1,2,3", "-", ",", "5-", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err != nil {
			return
		}
		if r.Min <= 0 || r.Max < r.Min {
			t.Errorf("ParseRange(%q) = %+v: invalid bounds accepted", s, r)
		}
		if again, err := ParseRange(r.String()); err != nil || again.Min != r.Min || again.Max != r.Max {
			t.Errorf("ParseRange(%q).String() = %q does not round-trip: %+v, %v", s, r.String(), again, err)
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add(`{"seq":1,"target":"a","ttft_ms":12.5}` + "\n")
	f.Add("{}\n{\n")
	f.Add("\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := DecodeRecords(strings.NewReader(s))
		if err == nil {
			Summarize(recs, nil, "") // must not panic on whatever decoded
		}
	})
}

func FuzzReadSSE(f *testing.F) {
	f.Add("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
	f.Add("data: {\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n")
	f.Add("data: {bad\n\n")
	f.Add(": comment\nevent: x\ndata: {\"error\":{\"message\":\"boom\"}}\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		var res Result
		err := NewOpenAI(OpenAIOptions{Endpoint: "http://127.0.0.1:1"}).readSSE(context.Background(), strings.NewReader(s), &res)
		if err == nil && res.Chunks > 0 && res.First.IsZero() {
			t.Errorf("chunks counted without a first-chunk time")
		}
	})
}
