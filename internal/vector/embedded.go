package vector

import (
	"container/heap"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Embedded is the default Index: SQLite for durability, an in-process index
// for search. Safe for concurrent use.
type Embedded struct {
	db  *sql.DB
	log *slog.Logger
	ann ANNConfig

	// mu guards cols; each collection has its own lock.
	mu   sync.Mutex
	cols map[string]*collection
}

var _ Index = (*Embedded)(nil)

// collection is the in-memory index of one collection.
type collection struct {
	// mu guards every field below.
	mu     sync.RWMutex
	dims   int
	loaded bool
	vecs   []float32 // slot i at vecs[i*dims:(i+1)*dims], unit length
	recs   []*Record // nil for a free slot
	byID   map[string]int
	free   []int // slots neither live nor in the graph
	bm     *bm25
	annCfg ANNConfig
	ann    *hnsw // nil: exact search
}

const embeddedSchema = `
CREATE TABLE IF NOT EXISTS vec_collections (name TEXT PRIMARY KEY, dims INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS vec_records (
	collection TEXT NOT NULL,
	id TEXT NOT NULL,
	doc_id TEXT NOT NULL,
	text TEXT NOT NULL,
	metadata TEXT NOT NULL,
	vector BLOB NOT NULL,
	PRIMARY KEY (collection, id)
);
CREATE INDEX IF NOT EXISTS vec_records_doc ON vec_records (collection, doc_id);
`

// memSeq numbers in-memory databases.
var memSeq atomic.Int64

// OpenEmbedded opens (creating if needed) the index in the SQLite file at
// path; ":memory:" keeps everything in memory. Collections switch to the
// approximate graph at the default size (ANNConfig).
func OpenEmbedded(path string, logger *slog.Logger) (*Embedded, error) {
	return OpenEmbeddedOptions(path, EmbeddedOptions{Logger: logger})
}

// EmbeddedOptions configure OpenEmbeddedOptions.
type EmbeddedOptions struct {
	Logger *slog.Logger // may be nil
	ANN    ANNConfig
}

// OpenEmbeddedOptions is OpenEmbedded with options.
func OpenEmbeddedOptions(path string, o EmbeddedOptions) (*Embedded, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Each in-memory index is a database of its own.
	dsn := fmt.Sprintf("file:outcrop-vector-%d?mode=memory&cache=shared", memSeq.Add(1))
	if path != ":memory:" {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		dsn = "file:" + path + "?" + q.Encode()
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("vector: open %s: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1)
	}
	if _, err := db.Exec(embeddedSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("vector: schema: %w", err)
	}
	e := &Embedded{db: db, log: logger.With("component", "vector"), ann: o.ANN, cols: map[string]*collection{}}
	rows, err := db.Query(`SELECT name, dims FROM vec_collections`)
	if err != nil {
		db.Close()
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var dims int
		if err := rows.Scan(&name, &dims); err != nil {
			db.Close()
			return nil, err
		}
		e.cols[name] = &collection{dims: dims, annCfg: o.ANN}
	}
	return e, rows.Err()
}

// Close implements Index.
func (e *Embedded) Close() error { return e.db.Close() }

// CreateCollection implements Index.
func (e *Embedded) CreateCollection(ctx context.Context, name string, dims int) error {
	if dims < 1 || dims > 16384 {
		return fmt.Errorf("%w: %d", ErrDimension, dims)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.cols[name]; ok {
		if c.dims != dims {
			return fmt.Errorf("%w: collection %s has %d dimensions, not %d", ErrDimension, name, c.dims, dims)
		}
		return nil
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO vec_collections (name, dims) VALUES (?, ?)`, name, dims); err != nil {
		return fmt.Errorf("vector: create %s: %w", name, err)
	}
	e.cols[name] = &collection{dims: dims, loaded: true, byID: map[string]int{}, bm: newBM25(), annCfg: e.ann}
	return nil
}

// DropCollection implements Index.
func (e *Embedded) DropCollection(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.cols[name]; !ok {
		return ErrNoCollection
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM vec_records WHERE collection = ?`, name); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM vec_collections WHERE name = ?`, name); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	delete(e.cols, name)
	return nil
}

// collection returns the loaded in-memory index of name.
func (e *Embedded) collection(ctx context.Context, name string) (*collection, error) {
	e.mu.Lock()
	c, ok := e.cols[name]
	e.mu.Unlock()
	if !ok {
		return nil, ErrNoCollection
	}
	c.mu.RLock()
	loaded := c.loaded
	c.mu.RUnlock()
	if loaded {
		return c, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return c, nil
	}
	// Rebuild the in-memory index from SQLite (first use after a start).
	c.byID, c.bm = map[string]int{}, newBM25()
	rows, err := e.db.QueryContext(ctx, `SELECT id, doc_id, text, metadata, vector FROM vec_records WHERE collection = ?`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r Record
		var md string
		var blob []byte
		if err := rows.Scan(&r.ID, &r.DocID, &r.Text, &md, &blob); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(md), &r.Metadata); err != nil {
			return nil, fmt.Errorf("vector: record %s/%s: metadata: %w", name, r.ID, err)
		}
		r.Vector = decodeVector(blob)
		if len(r.Vector) != c.dims {
			return nil, fmt.Errorf("vector: record %s/%s has %d dimensions", name, r.ID, len(r.Vector))
		}
		c.put(&r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.maybeBuildANN()
	c.loaded = true
	e.log.Debug("collection loaded", "collection", name, "records", len(c.byID), "ann", c.ann != nil)
	return c, nil
}

// put adds or replaces r in memory; c.mu held for writing. r.Vector is
// stored normalized.
func (c *collection) put(r *Record) {
	slot, ok := c.byID[r.ID]
	if ok && c.ann != nil && slot < len(c.ann.links) && c.ann.links[slot] != nil {
		// The graph's links were chosen for the old vector: retire the slot.
		c.remove(r.ID)
		ok = false
	}
	if ok {
		c.bm.remove(slot, c.recs[slot].Text)
	} else if n := len(c.free); n > 0 {
		slot = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		slot = len(c.recs)
		c.recs = append(c.recs, nil)
		c.vecs = append(c.vecs, make([]float32, c.dims)...)
	}
	v := c.vecs[slot*c.dims : (slot+1)*c.dims]
	copy(v, r.Vector)
	normalize(v)
	r.Vector = v
	c.recs[slot] = r
	c.byID[r.ID] = slot
	c.bm.add(slot, r.Text)
	if c.ann != nil && !ok {
		c.ann.insert(c, slot)
	}
}

// remove deletes the record id from memory; c.mu held for writing.
func (c *collection) remove(id string) bool {
	slot, ok := c.byID[id]
	if !ok {
		return false
	}
	c.bm.remove(slot, c.recs[slot].Text)
	c.recs[slot] = nil
	delete(c.byID, id)
	if c.annRemove(slot) {
		clear(c.vecs[slot*c.dims : (slot+1)*c.dims])
		c.free = append(c.free, slot)
	}
	return true
}

// Upsert implements Index.
func (e *Embedded) Upsert(ctx context.Context, name string, recs []Record) error {
	c, err := e.collection(ctx, name)
	if err != nil {
		return err
	}
	for i := range recs {
		if len(recs[i].Vector) != c.dims {
			return fmt.Errorf("%w: record %q has %d values, collection %s has %d", ErrDimension, recs[i].ID, len(recs[i].Vector), name, c.dims)
		}
		if recs[i].ID == "" {
			return fmt.Errorf("vector: record without an id")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO vec_records (collection, id, doc_id, text, metadata, vector) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (collection, id) DO UPDATE SET doc_id = excluded.doc_id, text = excluded.text, metadata = excluded.metadata, vector = excluded.vector`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	copies := make([]*Record, len(recs))
	for i, r := range recs {
		md := r.Metadata
		if md == nil {
			md = map[string]any{}
		}
		mdj, err := json.Marshal(md)
		if err != nil {
			return fmt.Errorf("vector: record %q: metadata: %w", r.ID, err)
		}
		// Round-trip the metadata through JSON so that memory holds what a
		// restart will load (float64 numbers, []any lists).
		cp := r
		cp.Metadata = nil
		if err := json.Unmarshal(mdj, &cp.Metadata); err != nil {
			return err
		}
		cp.Vector = append([]float32(nil), r.Vector...)
		normalize(cp.Vector)
		if _, err := stmt.ExecContext(ctx, name, r.ID, r.DocID, r.Text, string(mdj), encodeVector(cp.Vector)); err != nil {
			return fmt.Errorf("vector: upsert %s/%s: %w", name, r.ID, err)
		}
		copies[i] = &cp
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, r := range copies {
		c.put(r)
	}
	c.maybeBuildANN()
	return nil
}

// Delete implements Index.
func (e *Embedded) Delete(ctx context.Context, name string, ids []string) error {
	c, err := e.collection(ctx, name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `DELETE FROM vec_records WHERE collection = ? AND id = ?`, name, id); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, id := range ids {
		c.remove(id)
	}
	c.maybeBuildANN()
	return nil
}

// DeleteDocument implements Index.
func (e *Embedded) DeleteDocument(ctx context.Context, name, docID string) (int, error) {
	c, err := e.collection(ctx, name)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := e.db.ExecContext(ctx, `DELETE FROM vec_records WHERE collection = ? AND doc_id = ?`, name, docID); err != nil {
		return 0, err
	}
	var ids []string
	for id, slot := range c.byID {
		if c.recs[slot].DocID == docID {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		c.remove(id)
	}
	c.maybeBuildANN()
	return len(ids), nil
}

// Count implements Index.
func (e *Embedded) Count(ctx context.Context, name string) (int, error) {
	c, err := e.collection(ctx, name)
	if err != nil {
		return 0, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byID), nil
}

// Search implements Index.
func (e *Embedded) Search(ctx context.Context, name string, q Query) ([]Hit, error) {
	c, err := e.collection(ctx, name)
	if err != nil {
		return nil, err
	}
	if q.K <= 0 {
		return nil, nil
	}
	if q.Mode != Keyword && len(q.Vector) != c.dims {
		return nil, fmt.Errorf("%w: query has %d values, collection %s has %d", ErrDimension, len(q.Vector), name, c.dims)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	switch q.Mode {
	case Semantic:
		top := c.nearest(q.Vector, q.K, q.Filter)
		hits := make([]Hit, len(top))
		for i, s := range top {
			hits[i] = Hit{Record: c.hitRecord(s.slot), Score: (1 + s.score) / 2}
		}
		return hits, nil
	case Keyword:
		top := c.keyword(q.Text, q.K, q.Filter)
		hits := make([]Hit, len(top))
		for i, s := range top {
			hits[i] = Hit{Record: c.hitRecord(s.slot), Score: s.score}
		}
		return hits, nil
	case Hybrid:
		n := max(4*q.K, 50)
		return c.fuse(c.nearest(q.Vector, n, q.Filter), c.keyword(q.Text, n, q.Filter), q.K), nil
	}
	return nil, fmt.Errorf("vector: unknown search mode %d", q.Mode)
}

// hitRecord is the record in slot as a hit returns it: without its vector,
// whose memory the index reuses; c.mu held.
func (c *collection) hitRecord(slot int) Record {
	r := *c.recs[slot]
	r.Vector = nil
	return r
}

// rrfK is the rank constant of reciprocal rank fusion.
const rrfK = 60

// fuse merges two rankings by reciprocal rank fusion; c.mu held.
func (c *collection) fuse(vec, kw []scored, k int) []Hit {
	sum := map[int]float64{}
	for i, s := range vec {
		sum[s.slot] += 1 / float64(rrfK+i+1)
	}
	for i, s := range kw {
		sum[s.slot] += 1 / float64(rrfK+i+1)
	}
	out := make([]scored, 0, len(sum))
	for slot, s := range sum {
		out = append(out, scored{slot, s})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].score != out[j].score {
			return out[i].score > out[j].score
		}
		return c.recs[out[i].slot].ID < c.recs[out[j].slot].ID
	})
	if len(out) > k {
		out = out[:k]
	}
	hits := make([]Hit, len(out))
	for i, s := range out {
		hits[i] = Hit{Record: c.hitRecord(s.slot), Score: s.score / (2.0 / (rrfK + 1))}
	}
	return hits
}

type scored struct {
	slot  int
	score float64
}

// minHeap keeps the best k by score (the worst on top); ties broken by slot
// so that results are deterministic.
type minHeap []scored

func (h minHeap) Len() int { return len(h) }
func (h minHeap) Less(i, j int) bool {
	if h[i].score != h[j].score {
		return h[i].score < h[j].score
	}
	return h[i].slot > h[j].slot
}
func (h minHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)   { *h = append(*h, x.(scored)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sorted pops h into best-first order.
func (h *minHeap) sorted() []scored {
	out := make([]scored, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(h).(scored)
	}
	return out
}

// better reports whether s beats the worst kept entry of a non-empty h.
func (h minHeap) better(s scored) bool {
	top := h[0]
	return s.score > top.score || (s.score == top.score && s.slot < top.slot)
}

// offer adds s to h, keeping at most k.
func (h *minHeap) offer(s scored, k int) {
	if h.Len() < k {
		heap.Push(h, s)
		return
	}
	if h.better(s) {
		(*h)[0] = s
		heap.Fix(h, 0)
	}
}

// nearest returns the best k records passing f: from the graph when the
// collection has one, unless it found fewer than k (a selective filter),
// else by the exact scan; c.mu held.
func (c *collection) nearest(query []float32, k int, f *Filter) []scored {
	q := append([]float32(nil), query...)
	normalize(q)
	if c.ann != nil {
		if top := c.ann.search(c, q, k, f); len(top) == k {
			return top
		}
	}
	return c.exact(q, k, f)
}

// exact scans every live record for the best k passing f; q is unit
// length; c.mu held.
func (c *collection) exact(q []float32, k int, f *Filter) []scored {
	h := make(minHeap, 0, k+1)
	d := c.dims
	for slot, r := range c.recs {
		if r == nil {
			continue
		}
		s := scored{slot, float64(dot(q, c.vecs[slot*d:(slot+1)*d]))}
		// The filter is evaluated only for records that would enter the
		// heap: the dot product is cheaper than the metadata look-ups.
		if h.Len() == k && !h.better(s) {
			continue
		}
		if f != nil && !f.Match(r.Metadata) {
			continue
		}
		h.offer(s, k)
	}
	return h.sorted()
}

// keyword ranks records by BM25; c.mu held.
func (c *collection) keyword(text string, k int, f *Filter) []scored {
	h := make(minHeap, 0, k+1)
	for slot, s := range c.bm.scores(text) {
		if f != nil && !f.Match(c.recs[slot].Metadata) {
			continue
		}
		h.offer(scored{slot, s}, k)
	}
	return h.sorted()
}

// dot is the inner product of two equal-length vectors, unrolled by four.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
