package cachetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/cache"
)

// NewIndex returns an empty semantic index keeping at most max questions
// per namespace, reading time from now.
type NewIndex func(t *testing.T, max int, now func() time.Time) cache.SemanticIndex

// RunSemantic runs the conformance suite of cache.SemanticIndex: nearest
// question, namespace isolation by tenant and by context, expiry,
// replacement, the size bound, vectors of another dimension and concurrent
// use. Namespaces are unique to each subtest, so a shared Redis database
// may be reused.
func RunSemantic(t *testing.T, newIndex NewIndex) {
	ctx := context.Background()
	uniq := fmt.Sprintf("%d", time.Now().UnixNano())
	ns := func(t *testing.T, tenant string) cache.Namespace {
		return cache.Namespace{Tenant: "p:" + tenant + "/" + uniq + "/" + t.Name(), Context: "ctx-" + uniq}
	}
	clock := func() (func() time.Time, func(time.Duration)) {
		var mu sync.Mutex
		now := time.Unix(1_800_000_000, 0)
		return func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
			func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	}
	rng := rand.New(rand.NewPCG(1, 2))
	unit := func(dims int) []float32 {
		v := make([]float32, dims)
		var n float64
		for i := range v {
			v[i] = float32(rng.NormFloat64())
			n += float64(v[i]) * float64(v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(n))
		}
		return v
	}
	// near returns v moved slightly towards a random direction.
	near := func(v []float32, eps float32) []float32 {
		w := unit(len(v))
		out := make([]float32, len(v))
		for i := range v {
			out[i] = v[i] + eps*w[i]
		}
		return out
	}
	add := func(t *testing.T, ix cache.SemanticIndex, n cache.Namespace, key, text string, v []float32, ttl time.Duration) {
		t.Helper()
		if err := ix.Add(ctx, n, cache.Question{Key: key, Text: text, Vector: v}, ttl); err != nil {
			t.Fatalf("Add(%s): %v", key, err)
		}
	}
	search := func(t *testing.T, ix cache.SemanticIndex, n cache.Namespace, v []float32) cache.Match {
		t.Helper()
		m, err := ix.Search(ctx, n, v)
		if err != nil {
			t.Fatalf("Search: %v", err)
		}
		return m
	}

	t.Run("Empty", func(t *testing.T) {
		now, _ := clock()
		ix := newIndex(t, 0, now)
		if m := search(t, ix, ns(t, "a"), unit(384)); m.Key != "" {
			t.Fatalf("Search in an empty namespace = %+v, want none", m)
		}
	})
	t.Run("Nearest", func(t *testing.T) {
		now, _ := clock()
		ix := newIndex(t, 0, now)
		n := ns(t, "a")
		vs := [][]float32{unit(384), unit(384), unit(384)}
		for i, v := range vs {
			add(t, ix, n, fmt.Sprintf("k%d", i), fmt.Sprintf("question %d", i), v, time.Minute)
		}
		for i, v := range vs {
			m := search(t, ix, n, near(v, 0.1))
			if m.Key != fmt.Sprintf("k%d", i) || m.Text != fmt.Sprintf("question %d", i) || m.Similarity < 0.9 || m.Similarity > 1.0001 {
				t.Errorf("Search(near k%d) = %+v", i, m)
			}
		}
		// Similarity is the cosine, whatever the query's norm.
		scaled := make([]float32, 384)
		for i, x := range vs[1] {
			scaled[i] = 3 * x
		}
		if m := search(t, ix, n, scaled); m.Key != "k1" || math.Abs(m.Similarity-1) > 1e-4 {
			t.Errorf("Search(3·k1) = %+v, want k1 at 1", m)
		}
	})
	t.Run("TenantsIsolated", func(t *testing.T) {
		now, _ := clock()
		ix := newIndex(t, 0, now)
		v := unit(384)
		add(t, ix, ns(t, "alice"), "k", "q", v, time.Minute)
		for _, other := range []string{"bob", "alic", "alice "} {
			if m := search(t, ix, ns(t, other), v); m.Key != "" {
				t.Errorf("tenant %q found alice's question: %+v", other, m)
			}
		}
	})
	t.Run("ContextsIsolated", func(t *testing.T) {
		now, _ := clock()
		ix := newIndex(t, 0, now)
		n := ns(t, "a")
		v := unit(384)
		add(t, ix, n, "k", "q", v, time.Minute)
		o := n
		o.Context += "x"
		if m := search(t, ix, o, v); m.Key != "" {
			t.Errorf("another context found the question: %+v", m)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		now, advance := clock()
		ix := newIndex(t, 0, now)
		n := ns(t, "a")
		v := unit(384)
		add(t, ix, n, "k", "q", v, time.Minute)
		advance(59 * time.Second)
		if m := search(t, ix, n, v); m.Key != "k" {
			t.Fatalf("question gone before its TTL: %+v", m)
		}
		advance(2 * time.Second)
		if m := search(t, ix, n, v); m.Key != "" {
			t.Fatalf("expired question found: %+v", m)
		}
	})
	t.Run("Replace", func(t *testing.T) {
		now, _ := clock()
		ix := newIndex(t, 0, now)
		n := ns(t, "a")
		v1, v2 := unit(384), unit(384)
		add(t, ix, n, "k", "first", v1, time.Minute)
		add(t, ix, n, "k", "second", v2, time.Minute)
		if m := search(t, ix, n, v2); m.Key != "k" || m.Text != "second" || m.Similarity < 0.999 {
			t.Errorf("Search(new vector) = %+v", m)
		}
		if m := search(t, ix, n, v1); m.Similarity > 0.5 {
			t.Errorf("the replaced vector is still indexed: %+v", m)
		}
	})
	t.Run("Bound", func(t *testing.T) {
		now, advance := clock()
		ix := newIndex(t, 3, now)
		n := ns(t, "a")
		var vs [][]float32
		for i := range 5 {
			vs = append(vs, unit(384))
			add(t, ix, n, fmt.Sprintf("k%d", i), "q", vs[i], time.Minute)
			advance(time.Millisecond)
		}
		for i, v := range vs {
			m := search(t, ix, n, v)
			kept := m.Key == fmt.Sprintf("k%d", i)
			if kept != (i >= 2) {
				t.Errorf("question %d kept = %v; want only the newest 3", i, kept)
			}
		}
	})
	t.Run("OtherDimension", func(t *testing.T) {
		now, _ := clock()
		ix := newIndex(t, 0, now)
		n := ns(t, "a")
		add(t, ix, n, "k", "q", unit(384), time.Minute)
		if m, err := ix.Search(ctx, n, unit(768)); err != nil || m.Key != "" {
			t.Errorf("Search with a 768-value vector = %+v, %v; want no match and no error", m, err)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		now, _ := clock()
		ix := newIndex(t, 0, now)
		n := ns(t, "a")
		if err := ix.Add(ctx, n, cache.Question{Key: "", Vector: unit(8)}, time.Minute); err == nil {
			t.Error("Add without a key succeeded")
		}
		if err := ix.Add(ctx, n, cache.Question{Key: "k"}, time.Minute); err == nil {
			t.Error("Add without a vector succeeded")
		}
		if err := ix.Add(ctx, n, cache.Question{Key: "k", Vector: unit(8)}, 0); err == nil {
			t.Error("Add with no TTL succeeded")
		}
		if m, err := ix.Search(ctx, n, nil); err != nil || m.Key != "" {
			t.Errorf("Search(nil) = %+v, %v", m, err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		now, _ := clock()
		ix := newIndex(t, 50, now)
		vs := make([][]float32, 40)
		for i := range vs {
			vs[i] = unit(64)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := ns(t, fmt.Sprint("g", g))
				for i, v := range vs {
					if err := ix.Add(ctx, n, cache.Question{Key: fmt.Sprint(i), Text: "q", Vector: v}, time.Minute); err != nil {
						t.Error(err)
						return
					}
					m, err := ix.Search(ctx, n, v)
					if err != nil || m.Key != fmt.Sprint(i) {
						t.Errorf("goroutine %d: Search(just added %d) = %+v, %v", g, i, m, err)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}
