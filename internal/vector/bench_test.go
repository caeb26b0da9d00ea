package vector_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/vector"
)

// BenchmarkSearch100k: Search latency on 100,000 records of 384 dimensions
// (all-MiniLM-L6-v2's size) with random unit vectors and a little metadata,
// excluding the query embedding. Reports p50 and p99 in ms over b.N queries
// (run with -benchtime 200x or more for a meaningful p99), for an unfiltered
// semantic search, a filtered one (matching about a third) and a hybrid one.
// Upsert throughput of the build is reported as records/s.
func BenchmarkSearch100k(b *testing.B) {
	const n, dims = 100_000, 384
	ctx := context.Background()
	idx, err := vector.OpenEmbedded(filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer idx.Close()
	if err := idx.CreateCollection(ctx, "kb", dims); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	vec := func() []float32 {
		v := make([]float32, dims)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	words := []string{"invoice", "password", "reset", "policy", "travel", "refund", "security", "vector", "search", "model"}
	start := time.Now()
	for lo := 0; lo < n; lo += 1000 {
		batch := make([]vector.Record, 1000)
		for i := range batch {
			id := lo + i
			batch[i] = vector.Record{
				ID: fmt.Sprintf("c%06d", id), DocID: fmt.Sprintf("d%05d", id/10), Vector: vec(),
				Text:     words[rng.IntN(10)] + " " + words[rng.IntN(10)] + " " + words[rng.IntN(10)],
				Metadata: map[string]any{"dept": []string{"eng", "ops", "legal"}[id%3], "year": float64(2000 + id%25)},
			}
		}
		if err := idx.Upsert(ctx, "kb", batch); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("upserted %d records in %v (%.0f records/s)", n, time.Since(start).Round(time.Millisecond), n/time.Since(start).Seconds())
	flt, _ := vector.ParseFilter([]byte(`{"equals":{"key":"dept","value":"ops"}}`))
	for _, tc := range []struct {
		name string
		q    func() vector.Query
	}{
		{"semantic", func() vector.Query { return vector.Query{Vector: vec(), K: 10} }},
		{"filtered", func() vector.Query { return vector.Query{Vector: vec(), K: 10, Filter: flt} }},
		{"hybrid", func() vector.Query {
			return vector.Query{Vector: vec(), Text: words[rng.IntN(10)] + " " + words[rng.IntN(10)], K: 10, Mode: vector.Hybrid}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				q := tc.q()
				t0 := time.Now()
				hits, err := idx.Search(ctx, "kb", q)
				lat = append(lat, time.Since(t0))
				if err != nil || len(hits) != 10 {
					b.Fatalf("Search: %d hits, %v", len(hits), err)
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
		})
	}
}
