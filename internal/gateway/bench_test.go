package gateway

import (
	"context"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
)

// BenchmarkDo measures the pipeline's own cost per call: building the
// chain's stream, measuring it, logging (to a discarding handler) and
// recording, around an upstream that answers instantly with 8 tokens.
func BenchmarkDo(b *testing.B) {
	g := New(Options{Recorder: &nopRecorder{}, Final: func(ctx context.Context, c *Call) (llm.Stream, error) {
		return textStream("a", "b", "c", "d", "e", "f", "g", "h"), nil
	}})
	ctx := context.Background()
	req := &llm.Request{Model: "m"}
	b.ReportAllocs()
	for b.Loop() {
		s, err := g.Do(ctx, &Call{Request: req})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := s.Next(); err != nil {
				break
			}
		}
		s.Close()
	}
}

type nopRecorder struct{}

func (nopRecorder) Record(Record) {}
