package llamaembed

import (
	"context"
	"flag"
	"fmt"
	"testing"
)

// BenchmarkEmbed measures texts per second of one Embed call over a batch of
// short sentences (about 12 tokens each).
func BenchmarkEmbed(b *testing.B) {
	for _, n := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("texts=%d", n), func(b *testing.B) {
			e, err := New(Config{Path: convertedModel(&testing.T{}), Threads: *benchThreads}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			texts := make([]string, n)
			for i := range texts {
				texts[i] = fmt.Sprintf("Sentence number %d about knowledge bases and vector search.", i)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.Embed(context.Background(), texts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "texts/s")
		})
	}
}

// benchThreads is the engine's thread count in benchmarks.
var benchThreads = flag.Int("embed.threads", 0, "threads of the embedding engine in benchmarks (0: default)")
