package vector_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/testenv"
	"github.com/outcrop/outcrop/internal/vector"
)

// BenchmarkSearch100k: Search latency on 100,000 records of 384 dimensions
// (all-MiniLM-L6-v2's size; a mixture of 1,000 clusters, as in
// TestANNRecall) with a little metadata, excluding the query embedding, side
// by side on three indexes: the embedded exact scan, the embedded HNSW graph
// and pgvector (HNSW; skipped when OUTCROP_TEST_PGVECTOR_DSN is unset).
// Reports p50 and p99 in ms over b.N queries (run with -benchtime 200x or
// more for a meaningful p99), for an unfiltered semantic search, a filtered
// one (matching a third) and a hybrid one. The build time of each index is
// logged.
func BenchmarkSearch100k(b *testing.B) {
	const n, dims = 100_000, 384
	ctx := context.Background()
	words := []string{"invoice", "password", "reset", "policy", "travel", "refund", "security", "vector", "search", "model"}
	gen := newClustered(7, 1000, dims, 0.7)
	rng := rand.New(rand.NewPCG(7, 7))
	recs := make([]vector.Record, n)
	for id := range recs {
		recs[id] = vector.Record{
			ID: fmt.Sprintf("c%06d", id), DocID: fmt.Sprintf("d%05d", id/10), Vector: gen.next(),
			Text:     words[rng.IntN(10)] + " " + words[rng.IntN(10)] + " " + words[rng.IntN(10)],
			Metadata: map[string]any{"dept": []string{"eng", "ops", "legal"}[id%3], "year": float64(2000 + id%25)},
		}
	}
	flt, _ := vector.ParseFilter([]byte(`{"equals":{"key":"dept","value":"ops"}}`))
	for _, backend := range []struct {
		name string
		open func(b *testing.B) vector.Index
	}{
		{"exact", func(b *testing.B) vector.Index {
			idx, err := vector.OpenEmbeddedOptions(filepath.Join(b.TempDir(), "bench.db"), vector.EmbeddedOptions{ANN: vector.ANNConfig{MinRecords: -1}})
			if err != nil {
				b.Fatal(err)
			}
			return idx
		}},
		{"hnsw", func(b *testing.B) vector.Index {
			idx, err := vector.OpenEmbeddedOptions(filepath.Join(b.TempDir(), "bench.db"), vector.EmbeddedOptions{})
			if err != nil {
				b.Fatal(err)
			}
			return idx
		}},
		{"pgvector", func(b *testing.B) vector.Index {
			dsn := testenv.PgvectorDSN(b)
			return openPgvector(b, dsn, pgvectorSchema(b, dsn))
		}},
	} {
		b.Run(backend.name, func(b *testing.B) {
			idx := backend.open(b)
			defer idx.Close()
			if err := idx.CreateCollection(ctx, "kb", dims); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for lo := 0; lo < n; lo += 1000 {
				if err := idx.Upsert(ctx, "kb", recs[lo:lo+1000]); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("%s: upserted %d records in %v (%.0f records/s)", backend.name, n, time.Since(start).Round(time.Millisecond), n/time.Since(start).Seconds())
			qgen := newClustered(7, 1000, dims, 0.7) // the same centres, other points
			qgen.rng = rand.New(rand.NewPCG(99, 99))
			for _, tc := range []struct {
				name string
				q    func() vector.Query
			}{
				{"semantic", func() vector.Query { return vector.Query{Vector: qgen.next(), K: 10} }},
				{"filtered", func() vector.Query { return vector.Query{Vector: qgen.next(), K: 10, Filter: flt} }},
				{"hybrid", func() vector.Query {
					return vector.Query{Vector: qgen.next(), Text: words[rng.IntN(10)] + " " + words[rng.IntN(10)], K: 10, Mode: vector.Hybrid}
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
		})
	}
}
