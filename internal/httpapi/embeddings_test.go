package httpapi

import (
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
)

func TestEmbeddingInputs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{`"hello"`, 1, true},
		{`["a","b"]`, 2, true},
		{`""`, 0, false},
		{`[]`, 0, false},
		{`[1,2,3]`, 0, false},
		{`[[1,2]]`, 0, false},
		{`["a",""]`, 0, false},
		{`null`, 0, false},
		{``, 0, false},
		{`{"a":1}`, 0, false},
	} {
		got, err := embeddingInputs([]byte(tc.in))
		if (err == nil) != tc.ok || len(got) != tc.want {
			t.Errorf("embeddingInputs(%s) = %v, %v; want %d inputs, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && llm.AsError(err).Kind != llm.KindValidation {
			t.Errorf("embeddingInputs(%s) error kind %v", tc.in, llm.AsError(err).Kind)
		}
	}
}

func FuzzEmbeddingInputs(f *testing.F) {
	for _, s := range []string{`"x"`, `["a","b"]`, `[1]`, `[`, `"\ud800"`, `[null]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := embeddingInputs(b)
		if err != nil {
			if llm.AsError(err).Kind != llm.KindValidation {
				t.Fatalf("error kind %v", llm.AsError(err).Kind)
			}
			return
		}
		for _, s := range got {
			if s == "" {
				t.Fatal("empty input accepted")
			}
		}
	})
}
