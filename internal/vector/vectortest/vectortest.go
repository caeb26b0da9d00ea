// Package vectortest is the conformance suite of vector.Index: every
// implementation runs Run, which checks collections, upserts, deletes,
// every RetrievalFilter operator and its quirks against hand-written
// expectations, a randomized comparison of filtered search with a brute-force
// oracle, keyword and hybrid ranking, and (when the implementation can be
// reopened) persistence across a restart.
package vectortest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/outcrop/outcrop/internal/vector"
)

// Factory opens the index under test. Reopen, when not nil, closes idx and
// opens the same index again (for the restart test).
type Factory struct {
	Open   func(t *testing.T) vector.Index
	Reopen func(t *testing.T, idx vector.Index) vector.Index
}

// Run runs the suite.
func Run(t *testing.T, f Factory) {
	t.Run("Collections", func(t *testing.T) { testCollections(t, f.Open(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, f.Open(t)) })
	t.Run("RandomFilters", func(t *testing.T) { testRandomFilters(t, f.Open(t)) })
	t.Run("Ranking", func(t *testing.T) { testRanking(t, f.Open(t)) })
	if f.Reopen != nil {
		t.Run("Restart", func(t *testing.T) { testRestart(t, f) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ids(hits []vector.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func testCollections(t *testing.T, idx vector.Index) {
	ctx := context.Background()
	must(t, idx.CreateCollection(ctx, "c", 3))
	must(t, idx.CreateCollection(ctx, "c", 3))
	if err := idx.CreateCollection(ctx, "c", 4); !errors.Is(err, vector.ErrDimension) {
		t.Errorf("CreateCollection with another dimension: %v, want ErrDimension", err)
	}
	if err := idx.Upsert(ctx, "nope", []vector.Record{{ID: "a", Vector: []float32{1, 0, 0}}}); !errors.Is(err, vector.ErrNoCollection) {
		t.Errorf("Upsert into a missing collection: %v", err)
	}
	if err := idx.Upsert(ctx, "c", []vector.Record{{ID: "a", Vector: []float32{1, 0}}}); !errors.Is(err, vector.ErrDimension) {
		t.Errorf("Upsert of a short vector: %v", err)
	}
	must(t, idx.Upsert(ctx, "c", []vector.Record{
		{ID: "a", DocID: "d1", Vector: []float32{1, 0, 0}, Text: "alpha"},
		{ID: "b", DocID: "d1", Vector: []float32{0, 1, 0}, Text: "beta"},
		{ID: "c", DocID: "d2", Vector: []float32{0, 0, 1}, Text: "gamma"},
	}))
	// Replacing a record keeps one copy.
	must(t, idx.Upsert(ctx, "c", []vector.Record{{ID: "a", DocID: "d1", Vector: []float32{0.9, 0.1, 0}, Text: "alpha two"}}))
	if n, _ := idx.Count(ctx, "c"); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
	hits, err := idx.Search(ctx, "c", vector.Query{Vector: []float32{1, 0, 0}, K: 2})
	must(t, err)
	if got := ids(hits); !slices.Equal(got, []string{"a", "b"}) || hits[0].Text != "alpha two" || hits[0].Score <= hits[1].Score {
		t.Errorf("Search = %v (%+v)", got, hits)
	}
	if n, err := idx.DeleteDocument(ctx, "c", "d1"); err != nil || n != 2 {
		t.Errorf("DeleteDocument = %d, %v; want 2", n, err)
	}
	must(t, idx.Delete(ctx, "c", []string{"c", "unknown"}))
	if n, _ := idx.Count(ctx, "c"); n != 0 {
		t.Errorf("Count after deletes = %d", n)
	}
	// Freed slots are reused without mixing records up.
	must(t, idx.Upsert(ctx, "c", []vector.Record{{ID: "z", Vector: []float32{0, 1, 0}, Text: "zeta"}}))
	hits, _ = idx.Search(ctx, "c", vector.Query{Vector: []float32{0, 1, 0}, K: 5})
	if got := ids(hits); !slices.Equal(got, []string{"z"}) {
		t.Errorf("after reuse: %v", got)
	}
	must(t, idx.DropCollection(ctx, "c"))
	if _, err := idx.Count(ctx, "c"); !errors.Is(err, vector.ErrNoCollection) {
		t.Errorf("Count after drop: %v", err)
	}
}

// docs is the fixed metadata the filter table runs on.
var docs = []vector.Record{
	{ID: "d1", Metadata: map[string]any{"genre": "fiction", "year": 2001, "tags": []string{"space", "robots"}, "public": true, "title": "Star Robots"}},
	{ID: "d2", Metadata: map[string]any{"genre": "history", "year": 1999, "tags": []string{"war"}, "public": false, "title": "The Long War"}},
	{ID: "d3", Metadata: map[string]any{"genre": "fiction", "year": 2020.5, "tags": []string{"space"}, "title": "Starlight"}},
	{ID: "d4", Metadata: map[string]any{"genre": "science", "year": "2010", "public": true}},
	{ID: "d5", Metadata: map[string]any{}},
}

func testFilters(t *testing.T, idx vector.Index) {
	ctx := context.Background()
	must(t, idx.CreateCollection(ctx, "f", 2))
	recs := slices.Clone(docs)
	for i := range recs {
		recs[i].Vector = []float32{1, float32(i) / 10}
		recs[i].Text = fmt.Sprint(recs[i].Metadata["title"])
	}
	must(t, idx.Upsert(ctx, "f", recs))
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`{"equals":{"key":"genre","value":"fiction"}}`, []string{"d1", "d3"}},
		{`{"equals":{"key":"year","value":1999}}`, []string{"d2"}},
		{`{"equals":{"key":"year","value":1999.0}}`, []string{"d2"}},
		{`{"equals":{"key":"year","value":"2010"}}`, []string{"d4"}},
		{`{"equals":{"key":"public","value":true}}`, []string{"d1", "d4"}},
		{`{"equals":{"key":"tags","value":"war"}}`, nil},
		// notEquals matches records without the key.
		{`{"notEquals":{"key":"genre","value":"fiction"}}`, []string{"d2", "d4", "d5"}},
		{`{"notEquals":{"key":"public","value":true}}`, []string{"d2", "d3", "d5"}},
		{`{"greaterThan":{"key":"year","value":2001}}`, []string{"d3"}},
		{`{"greaterThanOrEquals":{"key":"year","value":2001}}`, []string{"d1", "d3"}},
		{`{"lessThan":{"key":"year","value":2001}}`, []string{"d2"}},
		{`{"lessThanOrEquals":{"key":"year","value":2020.5}}`, []string{"d1", "d2", "d3"}},
		{`{"in":{"key":"genre","value":["history","science"]}}`, []string{"d2", "d4"}},
		{`{"in":{"key":"year","value":[2001, "2010"]}}`, []string{"d1", "d4"}},
		{`{"notIn":{"key":"genre","value":["fiction"]}}`, []string{"d2", "d4", "d5"}},
		{`{"startsWith":{"key":"title","value":"Star"}}`, []string{"d1", "d3"}},
		{`{"startsWith":{"key":"year","value":"20"}}`, []string{"d4"}},
		{`{"listContains":{"key":"tags","value":"space"}}`, []string{"d1", "d3"}},
		{`{"listContains":{"key":"genre","value":"fiction"}}`, nil},
		{`{"stringContains":{"key":"title","value":"ar"}}`, []string{"d1", "d2", "d3"}},
		{`{"stringContains":{"key":"tags","value":"obo"}}`, []string{"d1"}},
		{`{"andAll":[{"equals":{"key":"genre","value":"fiction"}},{"listContains":{"key":"tags","value":"robots"}}]}`, []string{"d1"}},
		{`{"orAll":[{"equals":{"key":"genre","value":"history"}},{"greaterThan":{"key":"year","value":2010}}]}`, []string{"d2", "d3"}},
		{`{"andAll":[{"orAll":[{"equals":{"key":"genre","value":"fiction"}},{"equals":{"key":"genre","value":"science"}}]},{"notEquals":{"key":"public","value":false}}]}`, []string{"d1", "d3", "d4"}},
	} {
		f, err := vector.ParseFilter([]byte(tc.filter))
		if err != nil {
			t.Errorf("ParseFilter(%s): %v", tc.filter, err)
			continue
		}
		hits, err := idx.Search(ctx, "f", vector.Query{Vector: []float32{1, 0}, K: 10, Filter: f})
		must(t, err)
		got := ids(hits)
		sort.Strings(got)
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("filter %s = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

// testRandomFilters compares filtered search with the brute-force Match
// oracle on random metadata and random filters.
func testRandomFilters(t *testing.T, idx vector.Index) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	must(t, idx.CreateCollection(ctx, "r", 4))
	words := []string{"red", "green", "blue", "redish", "teal"}
	var recs []vector.Record
	for i := 0; i < 300; i++ {
		md := map[string]any{}
		if rng.IntN(4) > 0 {
			md["color"] = words[rng.IntN(len(words))]
		}
		if rng.IntN(4) > 0 {
			md["n"] = float64(rng.IntN(20))
		}
		if rng.IntN(3) > 0 {
			md["tags"] = []any{words[rng.IntN(len(words))], words[rng.IntN(len(words))]}
		}
		if rng.IntN(2) > 0 {
			md["ok"] = rng.IntN(2) == 0
		}
		recs = append(recs, vector.Record{ID: fmt.Sprintf("r%03d", i), Vector: []float32{rng.Float32(), rng.Float32(), rng.Float32(), rng.Float32()}, Metadata: md})
	}
	must(t, idx.Upsert(ctx, "r", recs))
	leaf := func() *vector.Filter {
		key := []string{"color", "n", "tags", "ok", "missing"}[rng.IntN(5)]
		switch rng.IntN(11) {
		case 0:
			return &vector.Filter{Op: vector.OpEquals, Key: key, Value: words[rng.IntN(5)]}
		case 1:
			return &vector.Filter{Op: vector.OpNotEquals, Key: key, Value: float64(rng.IntN(20))}
		case 2:
			return &vector.Filter{Op: vector.OpGreaterThan, Key: key, Value: float64(rng.IntN(20))}
		case 3:
			return &vector.Filter{Op: vector.OpLessThanOrEquals, Key: key, Value: float64(rng.IntN(20))}
		case 4:
			return &vector.Filter{Op: vector.OpIn, Key: key, Value: []any{words[rng.IntN(5)], float64(rng.IntN(20))}}
		case 5:
			return &vector.Filter{Op: vector.OpNotIn, Key: key, Value: []any{words[rng.IntN(5)], true}}
		case 6:
			return &vector.Filter{Op: vector.OpStartsWith, Key: key, Value: words[rng.IntN(5)][:2]}
		case 7:
			return &vector.Filter{Op: vector.OpListContains, Key: key, Value: words[rng.IntN(5)]}
		case 8:
			return &vector.Filter{Op: vector.OpStringContains, Key: key, Value: "re"}
		case 9:
			return &vector.Filter{Op: vector.OpEquals, Key: key, Value: rng.IntN(2) == 0}
		}
		return &vector.Filter{Op: vector.OpGreaterThanOrEquals, Key: key, Value: float64(rng.IntN(20))}
	}
	for i := 0; i < 200; i++ {
		f := leaf()
		if rng.IntN(2) == 0 {
			op := vector.OpAndAll
			if rng.IntN(2) == 0 {
				op = vector.OpOrAll
			}
			f = &vector.Filter{Op: op, Children: []*vector.Filter{f, leaf(), leaf()}}
		}
		var want []string
		for _, r := range recs {
			if f.Match(r.Metadata) {
				want = append(want, r.ID)
			}
		}
		hits, err := idx.Search(ctx, "r", vector.Query{Vector: []float32{rng.Float32(), rng.Float32(), rng.Float32(), rng.Float32()}, K: len(recs), Filter: f})
		must(t, err)
		got := ids(hits)
		sort.Strings(got)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("random filter %d %+v: got %d records, oracle %d", i, f, len(got), len(want))
		}
	}
}

func testRanking(t *testing.T, idx vector.Index) {
	ctx := context.Background()
	must(t, idx.CreateCollection(ctx, "k", 2))
	must(t, idx.Upsert(ctx, "k", []vector.Record{
		{ID: "kw", Vector: []float32{0, 1}, Text: "the zebra password reset procedure"},
		{ID: "vec", Vector: []float32{1, 0}, Text: "unrelated words entirely"},
		{ID: "both", Vector: []float32{0.9, 0.1}, Text: "password reset"},
	}))
	hits, err := idx.Search(ctx, "k", vector.Query{Text: "zebra password", K: 3, Mode: vector.Keyword})
	must(t, err)
	if got := ids(hits); len(got) != 2 || got[0] != "kw" {
		t.Errorf("keyword = %v, want kw first and no record without the words", got)
	}
	hits, err = idx.Search(ctx, "k", vector.Query{Vector: []float32{1, 0}, Text: "password reset", K: 3, Mode: vector.Hybrid})
	must(t, err)
	if got := ids(hits); len(got) != 3 || got[0] != "both" {
		t.Errorf("hybrid = %v, want both first", got)
	}
	for _, h := range hits {
		if h.Score <= 0 || h.Score > 1 {
			t.Errorf("hybrid score %v outside (0, 1]", h.Score)
		}
	}
	hits, _ = idx.Search(ctx, "k", vector.Query{Vector: []float32{1, 0}, K: 1})
	if len(hits) != 1 || hits[0].ID != "vec" || hits[0].Score < 0.999 {
		t.Errorf("semantic top = %+v", hits)
	}
}

func testRestart(t *testing.T, f Factory) {
	ctx := context.Background()
	idx := f.Open(t)
	must(t, idx.CreateCollection(ctx, "p", 2))
	must(t, idx.Upsert(ctx, "p", []vector.Record{
		{ID: "a", DocID: "x", Vector: []float32{1, 0}, Text: "persisted text", Metadata: map[string]any{"k": "v", "n": 3, "l": []string{"x"}}},
		{ID: "b", DocID: "y", Vector: []float32{0, 1}, Text: "deleted"},
	}))
	must(t, idx.Delete(ctx, "p", []string{"b"}))
	idx = f.Reopen(t, idx)
	if n, err := idx.Count(ctx, "p"); err != nil || n != 1 {
		t.Fatalf("Count after restart = %d, %v", n, err)
	}
	flt, _ := vector.ParseFilter([]byte(`{"andAll":[{"equals":{"key":"n","value":3}},{"listContains":{"key":"l","value":"x"}}]}`))
	hits, err := idx.Search(ctx, "p", vector.Query{Vector: []float32{1, 0}, Text: "persisted", K: 5, Filter: flt, Mode: vector.Hybrid})
	must(t, err)
	if len(hits) != 1 || hits[0].ID != "a" || hits[0].Text != "persisted text" || hits[0].DocID != "x" || hits[0].Metadata["k"] != "v" {
		t.Errorf("after restart: %+v", hits)
	}
}
