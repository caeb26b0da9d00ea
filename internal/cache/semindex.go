package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/vector"
)

// VectorIndex is a SemanticIndex on a vector.Index (the embedded index of
// package vector by default): one collection per tenant, named by a hash
// of the tenant, whose records are the tenant's questions with their
// context fingerprint and expiry as metadata. A search is the index's exact
// cosine scan of the tenant's collection under a filter on the context and
// the expiry. At most MaxPerTenant questions are kept per tenant, oldest out
// first; the bookkeeping for that lives in this process, so the index is per
// replica (RedisIndex is shared).
type VectorIndex struct {
	ix  vector.Index
	max int
	now func() time.Time

	// mu guards tenants.
	mu      sync.Mutex
	tenants map[string]*tenantLog
}

// tenantLog remembers the insertion order of one collection's records.
type tenantLog struct {
	seq   uint64
	order []logEntry        // oldest first
	live  map[string]uint64 // record id → seq of its latest insertion
}

type logEntry struct {
	id  string
	seq uint64
}

// NewVectorIndex returns a semantic index on ix keeping at most
// maxPerTenant questions per tenant (default 10,000); now is the clock
// (time.Now when nil).
func NewVectorIndex(ix vector.Index, maxPerTenant int, now func() time.Time) *VectorIndex {
	if maxPerTenant <= 0 {
		maxPerTenant = 10_000
	}
	if now == nil {
		now = time.Now
	}
	return &VectorIndex{ix: ix, max: maxPerTenant, now: now, tenants: map[string]*tenantLog{}}
}

var _ SemanticIndex = (*VectorIndex)(nil)

// collectionName is the collection of a tenant's questions of dims values.
func collectionName(tenant string, dims int) string {
	return fmt.Sprintf("semcache-%d-%s", dims, hashName(tenant))
}

// Search implements SemanticIndex.
func (x *VectorIndex) Search(ctx context.Context, ns Namespace, v []float32) (Match, error) {
	if len(v) == 0 {
		return Match{}, nil
	}
	hits, err := x.ix.Search(ctx, collectionName(ns.Tenant, len(v)), vector.Query{
		Vector: v,
		K:      1,
		Filter: vector.And(
			&vector.Filter{Op: vector.OpEquals, Key: "ctx", Value: ns.Context},
			&vector.Filter{Op: vector.OpGreaterThan, Key: "exp", Value: float64(x.now().UnixMilli())},
		),
	})
	if errors.Is(err, vector.ErrNoCollection) {
		return Match{}, nil
	}
	if err != nil || len(hits) == 0 {
		return Match{}, err
	}
	h := hits[0]
	// The index reports (1 + cosine) / 2.
	return Match{Key: h.ID, Text: h.Text, Similarity: 2*h.Score - 1}, nil
}

// Add implements SemanticIndex.
func (x *VectorIndex) Add(ctx context.Context, ns Namespace, q Question, ttl time.Duration) error {
	if len(q.Vector) == 0 || q.Key == "" {
		return errors.New("cache: a question needs a key and a vector")
	}
	if ttl <= 0 {
		return errors.New("cache: ttl must be positive")
	}
	name := collectionName(ns.Tenant, len(q.Vector))
	x.mu.Lock()
	tl := x.tenants[name]
	x.mu.Unlock()
	if tl == nil {
		if err := x.ix.CreateCollection(ctx, name, len(q.Vector)); err != nil {
			return err
		}
		x.mu.Lock()
		if tl = x.tenants[name]; tl == nil {
			tl = &tenantLog{live: map[string]uint64{}}
			x.tenants[name] = tl
		}
		x.mu.Unlock()
	}
	// The record id is the answer's key (which covers the context): one
	// key is one answer, so re-adding it replaces the question.
	id := q.Key
	err := x.ix.Upsert(ctx, name, []vector.Record{{
		ID:       id,
		Vector:   q.Vector,
		Text:     q.Text,
		Metadata: map[string]any{"ctx": ns.Context, "exp": float64(x.now().Add(ttl).UnixMilli())},
	}})
	if err != nil {
		return err
	}
	x.mu.Lock()
	tl.seq++
	tl.live[id] = tl.seq
	tl.order = append(tl.order, logEntry{id, tl.seq})
	var evict []string
	for len(tl.live) > x.max && len(tl.order) > 0 {
		e := tl.order[0]
		tl.order = tl.order[1:]
		if tl.live[e.id] == e.seq {
			delete(tl.live, e.id)
			evict = append(evict, e.id)
		}
	}
	// Superseded entries (a key added again) are dropped once they are half
	// the log, so it stays bounded.
	if len(tl.order) > 2*len(tl.live)+16 {
		tl.order = slices.DeleteFunc(tl.order, func(e logEntry) bool { return tl.live[e.id] != e.seq })
	}
	x.mu.Unlock()
	if len(evict) > 0 {
		return x.ix.Delete(ctx, name, evict)
	}
	return nil
}
