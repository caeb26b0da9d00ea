package vector

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// ANNConfig tunes the embedded index's approximate-nearest-neighbour graph
// (HNSW: Malkov and Yashunin, "Efficient and robust approximate nearest
// neighbor search using Hierarchical Navigable Small World graphs").
//
// A collection is scanned exactly until it holds MinRecords records; then
// its graph is built over every record (and rebuilt that way when the
// collection is loaded after a start) and kept up to date by each upsert.
// Deleted and replaced records stay in the graph as tombstones, which
// searches walk through but never return, until they outnumber a quarter of
// the live records; then the graph is rebuilt without them.
type ANNConfig struct {
	// MinRecords is the size from which a collection uses the graph; 0 means
	// 20,000, a negative value never (exact search only).
	MinRecords int
	// M is the number of links per node above layer 0 (2M on layer 0);
	// 0 means 16.
	M int
	// EfConstruction is the candidate list of an insertion; 0 means 100.
	EfConstruction int
	// EfSearch is the smallest candidate list of a search (a search for k
	// records uses max(EfSearch, 2k)); 0 means 80.
	EfSearch int
}

func (c ANNConfig) withDefaults() ANNConfig {
	if c.MinRecords == 0 {
		c.MinRecords = 20_000
	}
	if c.M <= 0 {
		c.M = 16
	}
	if c.EfConstruction <= 0 {
		c.EfConstruction = 100
	}
	if c.EfSearch <= 0 {
		c.EfSearch = 80
	}
	return c
}

// hnsw is the graph over a collection's slots. It reads vectors from the
// collection's array; its owner's lock guards it (written under the write
// lock, searched under the read lock).
type hnsw struct {
	cfg      ANNConfig
	mult     float64 // level generation factor, 1/ln(M)
	entry    int     // entry point slot, -1 when empty
	maxLevel int
	// links[slot][level] are the slot's neighbours on that level; nil for a
	// slot that is not in the graph.
	links      [][][]int32
	tombstones int
	rng        *rand.Rand
	visited    sync.Pool // *bitset
}

func newHNSW(cfg ANNConfig) *hnsw {
	return &hnsw{cfg: cfg, mult: 1 / math.Log(float64(cfg.M)), entry: -1, rng: rand.New(rand.NewPCG(0x5eed, 0x9a9))}
}

type bitset []uint64

func (h *hnsw) getVisited(n int) *bitset {
	words := (n + 63) / 64
	if b, ok := h.visited.Get().(*bitset); ok && len(*b) >= words {
		clear(*b)
		return b
	}
	b := make(bitset, words+words/4)
	return &b
}

func (b bitset) testAndSet(i int32) bool {
	w, m := i>>6, uint64(1)<<(uint(i)&63)
	if b[w]&m != 0 {
		return true
	}
	b[w] |= m
	return false
}

// vecOf returns slot's vector in c; c's lock held.
func (c *collection) vecOf(slot int32) []float32 {
	d := c.dims
	return c.vecs[int(slot)*d : (int(slot)+1)*d]
}

// cand is a graph candidate: a slot and its similarity to the query.
type cand struct {
	slot int32
	sim  float32
}

// maxCands is a max-heap by similarity (the next candidate to expand).
type maxCands []cand

func (h maxCands) Len() int           { return len(h) }
func (h maxCands) Less(i, j int) bool { return h[i].sim > h[j].sim }
func (h maxCands) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *maxCands) Push(x any)        { *h = append(*h, x.(cand)) }
func (h *maxCands) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// minCands is a min-heap by similarity (the worst kept result on top).
type minCands []cand

func (h minCands) Len() int           { return len(h) }
func (h minCands) Less(i, j int) bool { return h[i].sim < h[j].sim }
func (h minCands) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minCands) Push(x any)        { *h = append(*h, x.(cand)) }
func (h *minCands) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// searchLayer is the HNSW beam search on one level from the entry points,
// keeping the ef best nodes for which keep returns true (every node when
// keep is nil); nodes that are not kept are still walked through. c's lock
// held.
func (h *hnsw) searchLayer(c *collection, q []float32, eps []cand, ef, level int, keep func(slot int32) bool) []cand {
	vis := h.getVisited(len(h.links))
	defer h.visited.Put(vis)
	var cands maxCands
	var res minCands
	for _, e := range eps {
		vis.testAndSet(e.slot)
		heap.Push(&cands, e)
		if keep == nil || keep(e.slot) {
			heap.Push(&res, e)
		}
	}
	for len(res) > ef {
		heap.Pop(&res)
	}
	for cands.Len() > 0 {
		cur := heap.Pop(&cands).(cand)
		if res.Len() >= ef && cur.sim < res[0].sim {
			break
		}
		for _, n := range h.links[cur.slot][level] {
			if vis.testAndSet(n) {
				continue
			}
			s := dot(q, c.vecOf(n))
			if res.Len() < ef || s > res[0].sim {
				heap.Push(&cands, cand{n, s})
				if keep == nil || keep(n) {
					heap.Push(&res, cand{n, s})
					if res.Len() > ef {
						heap.Pop(&res)
					}
				}
			}
		}
	}
	return res
}

// greedy walks one level to the node closest to q. c's lock held.
func (h *hnsw) greedy(c *collection, q []float32, ep cand, level int) cand {
	for changed := true; changed; {
		changed = false
		for _, n := range h.links[ep.slot][level] {
			if s := dot(q, c.vecOf(n)); s > ep.sim {
				ep, changed = cand{n, s}, true
			}
		}
	}
	return ep
}

// selectNeighbors is the paper's heuristic: walking the candidates from the
// closest, keep one only if it is closer to the base than to every one kept
// so far, so links spread in different directions; fill up with the
// closest of the rest. c's lock held.
func (h *hnsw) selectNeighbors(c *collection, cands []cand, m int) []int32 {
	sorted := append([]cand(nil), cands...)
	sortCands(sorted)
	kept := make([]int32, 0, m)
	var skipped []int32
	for _, x := range sorted {
		if len(kept) == m {
			break
		}
		ok := true
		xv := c.vecOf(x.slot)
		for _, r := range kept {
			if dot(xv, c.vecOf(r)) > x.sim {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, x.slot)
		} else {
			skipped = append(skipped, x.slot)
		}
	}
	for _, s := range skipped {
		if len(kept) == m {
			break
		}
		kept = append(kept, s)
	}
	return kept
}

// sortCands orders by similarity, best first, ties by slot.
func sortCands(a []cand) {
	slices.SortFunc(a, func(x, y cand) int {
		switch {
		case x.sim > y.sim:
			return -1
		case x.sim < y.sim:
			return 1
		}
		return int(x.slot - y.slot)
	})
}

func (h *hnsw) maxLinks(level int) int {
	if level == 0 {
		return 2 * h.cfg.M
	}
	return h.cfg.M
}

// insert adds slot (its vector already in c) to the graph; c's write lock
// held.
func (h *hnsw) insert(c *collection, slot int) {
	for len(h.links) <= slot {
		h.links = append(h.links, nil)
	}
	level := int(-math.Log(1-h.rng.Float64()) * h.mult)
	h.links[slot] = make([][]int32, level+1)
	if h.entry < 0 {
		h.entry, h.maxLevel = slot, level
		return
	}
	q := c.vecOf(int32(slot))
	ep := cand{int32(h.entry), dot(q, c.vecOf(int32(h.entry)))}
	for l := h.maxLevel; l > level; l-- {
		ep = h.greedy(c, q, ep, l)
	}
	eps := []cand{ep}
	for l := min(level, h.maxLevel); l >= 0; l-- {
		w := h.searchLayer(c, q, eps, h.cfg.EfConstruction, l, nil)
		nb := h.selectNeighbors(c, w, h.cfg.M)
		h.links[slot][l] = nb
		for _, n := range nb {
			h.link(c, n, int32(slot), l)
		}
		eps = w
	}
	if level > h.maxLevel {
		h.entry, h.maxLevel = slot, level
	}
}

// link adds to to from's links on level; when they overflow, the closest
// to from are kept (plain pruning: the heuristic's pairwise comparisons
// here cost more than the rest of an insertion, for little recall).
func (h *hnsw) link(c *collection, from, to int32, level int) {
	ls := append(h.links[from][level], to)
	if m := h.maxLinks(level); len(ls) > m {
		fv := c.vecOf(from)
		cs := make([]cand, len(ls))
		for i, n := range ls {
			cs[i] = cand{n, dot(fv, c.vecOf(n))}
		}
		sortCands(cs)
		ls = ls[:m]
		for i := range ls {
			ls[i] = cs[i].slot
		}
	}
	h.links[from][level] = ls
}

// search returns the best k live slots passing f, by the graph; c's lock
// (read or write) held.
func (h *hnsw) search(c *collection, q []float32, k int, f *Filter) []scored {
	if h.entry < 0 {
		return nil
	}
	ep := cand{int32(h.entry), dot(q, c.vecOf(int32(h.entry)))}
	for l := h.maxLevel; l > 0; l-- {
		ep = h.greedy(c, q, ep, l)
	}
	ef := max(h.cfg.EfSearch, 2*k)
	keep := func(s int32) bool {
		r := c.recs[s]
		return r != nil && (f == nil || f.Match(r.Metadata))
	}
	res := h.searchLayer(c, q, []cand{ep}, ef, 0, keep)
	sortCands(res)
	if len(res) > k {
		res = res[:k]
	}
	out := make([]scored, len(res))
	for i, r := range res {
		out[i] = scored{int(r.slot), float64(r.sim)}
	}
	return out
}

// annTombstoneRatio: the graph is rebuilt when tombstones outnumber this
// fraction of the live records.
const annTombstoneRatio = 4

// maybeBuildANN builds the graph when the collection has reached the
// configured size, and rebuilds it without tombstones when they have piled
// up; c's write lock held.
func (c *collection) maybeBuildANN() {
	cfg := c.annCfg.withDefaults()
	if cfg.MinRecords < 0 {
		return
	}
	live := len(c.byID)
	if c.ann == nil && live < cfg.MinRecords {
		return
	}
	if c.ann != nil && c.ann.tombstones*annTombstoneRatio <= live {
		return
	}
	// Tombstoned slots leave the graph and become free.
	if c.ann != nil {
		for slot, r := range c.recs {
			if r == nil && slot < len(c.ann.links) && c.ann.links[slot] != nil {
				clear(c.vecs[slot*c.dims : (slot+1)*c.dims])
				c.free = append(c.free, slot)
			}
		}
	}
	h := newHNSW(cfg)
	h.links = make([][][]int32, len(c.recs))
	for slot, r := range c.recs {
		if r != nil {
			h.insert(c, slot)
		}
	}
	c.ann = h
}

// annRemove takes slot out of service: a tombstone when the graph holds it
// (its vector stays, for the walks through it), else a free slot. c's write
// lock held; returns whether the slot was freed.
func (c *collection) annRemove(slot int) bool {
	if c.ann != nil && slot < len(c.ann.links) && c.ann.links[slot] != nil {
		c.ann.tombstones++
		return false
	}
	return true
}
