package vector_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/vector"
	"github.com/outcrop/outcrop/internal/vector/vectortest"
)

// TestEmbeddedANNConformance runs the conformance suite with the graph
// used from the first record, so every search, filter, replacement,
// deletion and restart goes through it (and its exact fallback).
func TestEmbeddedANNConformance(t *testing.T) {
	dir := t.TempDir()
	n := 0
	opts := vector.EmbeddedOptions{ANN: vector.ANNConfig{MinRecords: 1}}
	path := func() string { return filepath.Join(dir, fmt.Sprintf("ann%d.db", n)) }
	vectortest.Run(t, vectortest.Factory{
		Open: func(t *testing.T) vector.Index {
			n++
			idx, err := vector.OpenEmbeddedOptions(path(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { idx.Close() })
			return idx
		},
		Reopen: func(t *testing.T, idx vector.Index) vector.Index {
			idx.Close()
			again, err := vector.OpenEmbeddedOptions(path(), opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { again.Close() })
			return again
		},
	})
}

// clustered makes n unit vectors of dims values around centres random
// centres (a Gaussian mixture, as sentence embeddings cluster by topic),
// deterministic in seed.
type clustered struct {
	rng     *rand.Rand
	centres [][]float32
	spread  float64
}

func newClustered(seed uint64, centres, dims int, spread float64) *clustered {
	c := &clustered{rng: rand.New(rand.NewPCG(seed, seed+1)), spread: spread}
	for range centres {
		v := make([]float32, dims)
		for i := range v {
			v[i] = float32(c.rng.NormFloat64())
		}
		c.centres = append(c.centres, v)
	}
	return c
}

func (c *clustered) next() []float32 {
	ctr := c.centres[c.rng.IntN(len(c.centres))]
	v := make([]float32, len(ctr))
	var s float64
	for i := range v {
		v[i] = ctr[i] + float32(c.spread*c.rng.NormFloat64())
		s += float64(v[i]) * float64(v[i])
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// publishedRecall is recall@10 of the graph against the exact scan on
// held-out queries, as docs/KNOWLEDGE_BASES.md publishes it: the test fails
// below it.
const publishedRecall = 0.95

// TestANNRecall: 10,000 records of 384 dimensions (a mixture of 1,000
// clusters), 500 held-out queries drawn from the same mixture but never
// inserted; recall@10 of the graph (default parameters but for the size at
// which it is built, lowered to 10,000 to keep the test short under -race)
// against the exact scan of the same records, unfiltered and with a filter
// matching a third.
func TestANNRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-node graph")
	}
	const n, dims, queries, k = 10_000, 384, 500, 10
	ctx := context.Background()
	gen := newClustered(11, 1000, dims, 0.7)
	recs := make([]vector.Record, n)
	for i := range recs {
		recs[i] = vector.Record{ID: fmt.Sprintf("r%05d", i), Vector: gen.next(), Metadata: map[string]any{"dept": []string{"eng", "ops", "legal"}[i%3]}}
	}
	open := func(ann vector.ANNConfig) vector.Index {
		idx, err := vector.OpenEmbeddedOptions(":memory:", vector.EmbeddedOptions{ANN: ann})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { idx.Close() })
		if err := idx.CreateCollection(ctx, "c", dims); err != nil {
			t.Fatal(err)
		}
		for lo := 0; lo < n; lo += 1000 {
			if err := idx.Upsert(ctx, "c", recs[lo:lo+1000]); err != nil {
				t.Fatal(err)
			}
		}
		return idx
	}
	t0 := time.Now()
	approx := open(vector.ANNConfig{MinRecords: n})
	t.Logf("graph built over %d records in %v", n, time.Since(t0).Round(time.Millisecond))
	exact := open(vector.ANNConfig{MinRecords: -1})
	flt, _ := vector.ParseFilter([]byte(`{"equals":{"key":"dept","value":"ops"}}`))
	for _, tc := range []struct {
		name   string
		filter *vector.Filter
	}{{"unfiltered", nil}, {"filtered", flt}} {
		found, total := 0, 0
		for range queries {
			q := vector.Query{Vector: gen.next(), K: k, Filter: tc.filter}
			want, err := exact.Search(ctx, "c", q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := approx.Search(ctx, "c", q)
			if err != nil {
				t.Fatal(err)
			}
			in := map[string]bool{}
			for _, h := range got {
				in[h.ID] = true
			}
			for _, h := range want {
				if in[h.ID] {
					found++
				}
			}
			total += len(want)
		}
		recall := float64(found) / float64(total)
		t.Logf("%s: recall@%d %.4f against the exact scan (%d held-out queries)", tc.name, k, recall, queries)
		if recall < publishedRecall {
			t.Errorf("%s recall@%d = %.4f, below the published %.2f", tc.name, k, recall, publishedRecall)
		}
	}
}

// TestEmbeddedANNConcurrent searches while another goroutine replaces and
// deletes records (run under -race): searches never return a deleted record
// and the graph stays usable.
func TestEmbeddedANNConcurrent(t *testing.T) {
	ctx := context.Background()
	idx, err := vector.OpenEmbeddedOptions(":memory:", vector.EmbeddedOptions{ANN: vector.ANNConfig{MinRecords: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	const dims = 16
	gen := newClustered(3, 20, dims, 0.5)
	if err := idx.CreateCollection(ctx, "c", dims); err != nil {
		t.Fatal(err)
	}
	var recs []vector.Record
	for i := range 600 {
		recs = append(recs, vector.Record{ID: fmt.Sprintf("r%03d", i), Vector: gen.next(), Metadata: map[string]any{"gone": false}})
	}
	if err := idx.Upsert(ctx, "c", recs); err != nil {
		t.Fatal(err)
	}
	queries := make([][]float32, 200)
	for i := range queries {
		queries[i] = gen.next()
	}
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for i := range 300 {
			id := fmt.Sprintf("r%03d", i)
			var err error
			if i%2 == 0 {
				err = idx.Delete(ctx, "c", []string{id})
			} else {
				err = idx.Upsert(ctx, "c", []vector.Record{{ID: id, Vector: queries[i%len(queries)], Metadata: map[string]any{"gone": false}}})
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	errs := make(chan error, 3)
	for g := range 3 {
		go func() {
			for i := range 200 {
				hits, err := idx.Search(ctx, "c", vector.Query{Vector: queries[(i+g)%len(queries)], K: 10})
				if err == nil && len(hits) != 10 {
					err = fmt.Errorf("search %d: %d hits", i, len(hits))
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, _ := idx.Count(ctx, "c"); n != 450 {
		t.Errorf("Count = %d, want 450", n)
	}
	// Deleted records never come back.
	for _, q := range queries {
		hits, err := idx.Search(ctx, "c", vector.Query{Vector: q, K: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			var i int
			fmt.Sscanf(h.ID, "r%d", &i)
			if i < 300 && i%2 == 0 {
				t.Fatalf("deleted record %s returned", h.ID)
			}
		}
	}
}
