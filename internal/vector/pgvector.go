package vector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pgvector is the Index at scale: PostgreSQL with the pgvector extension,
// shared by every Outcrop replica. Each collection is a table of its own
// (the vector column is typed with the collection's dimension) with
//
//   - an HNSW index over the vectors with cosine distance (vector_cosine_ops,
//     pgvector's defaults m = 16, ef_construction = 64), for collections of at
//     most 2,000 dimensions (pgvector's HNSW limit; larger ones are scanned);
//   - a generated tsvector (the 'simple' configuration: lower-cased words,
//     no stemming) with a GIN index, for keyword and hybrid search;
//   - metadata as jsonb, filtered by SQL translated from the Filter.
//
// Semantic search asks the HNSW index for k+10 records (ties with the k-th
// are then ordered by ID) with hnsw.ef_search = clamp(2(k+10), 40, 1000),
// or 8(k+10) with a filter. pgvector 0.6 applies a filter after the index
// scan, so a selective filter can leave fewer than k hits; then the query
// runs again as an exact scan (index scans off), which returns every match. Scores are (1 +
// cosine) / 2 as in Embedded. Keyword search ranks by ts_rank over an OR of
// the query's terms (the terms BM25 uses in Embedded), and hybrid search fuses
// the two rankings by reciprocal rank fusion exactly as Embedded does.
//
// Safe for concurrent use; several processes may share one database.
type Pgvector struct {
	pool   *pgxpool.Pool
	schema string
	log    *slog.Logger

	// mu guards cols, a cache of the collections table (name -> table and
	// dimension); a miss reads the table, a dropped table evicts.
	mu   sync.Mutex
	cols map[string]pgCollection
}

var _ Index = (*Pgvector)(nil)

type pgCollection struct {
	table string
	dims  int
}

// hnswMaxDims is the largest dimension pgvector 0.6's HNSW index takes.
const hnswMaxDims = 2000

// PgvectorOptions configure OpenPgvector.
type PgvectorOptions struct {
	// DSN is a postgres:// URL or key=value string (pgx).
	DSN string
	// Schema holds the index's tables; empty is "public". It is created
	// when missing (tests use one schema per index).
	Schema string
	// Logger may be nil.
	Logger *slog.Logger
}

// OpenPgvector connects, creates the vector extension and the index's
// collections table when missing.
func OpenPgvector(ctx context.Context, o PgvectorOptions) (*Pgvector, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Schema == "" {
		o.Schema = "public"
	}
	pool, err := pgxpool.New(ctx, o.DSN)
	if err != nil {
		return nil, fmt.Errorf("vector: pgvector: %w", err)
	}
	p := &Pgvector{pool: pool, schema: o.Schema, log: o.Logger.With("component", "vector", "backend", "pgvector"), cols: map[string]pgCollection{}}
	if err := p.init(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

func (p *Pgvector) init(ctx context.Context) error {
	// CREATE EXTENSION is not safe against a concurrent one (a unique
	// violation on pg_extension); a lock makes concurrent starts wait.
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("vector: pgvector: %w", err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{
		`SELECT pg_advisory_xact_lock(7271436001)`,
		`CREATE EXTENSION IF NOT EXISTS vector`,
		`CREATE SCHEMA IF NOT EXISTS ` + p.ident(),
		`CREATE TABLE IF NOT EXISTS ` + p.ident("vector_collections") + ` (
			name TEXT PRIMARY KEY,
			dims INTEGER NOT NULL,
			tbl TEXT NOT NULL UNIQUE
		)`,
		`CREATE SEQUENCE IF NOT EXISTS ` + p.ident("vector_collection_seq"),
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("vector: pgvector: %s: %w", strings.Fields(q)[0], err)
		}
	}
	return tx.Commit(ctx)
}

// ident quotes a name inside the index's schema (or the schema itself).
func (p *Pgvector) ident(name ...string) string {
	return pgx.Identifier(append([]string{p.schema}, name...)).Sanitize()
}

// Close implements Index.
func (p *Pgvector) Close() error {
	p.pool.Close()
	return nil
}

// CreateCollection implements Index.
func (p *Pgvector) CreateCollection(ctx context.Context, name string, dims int) error {
	if dims < 1 || dims > 16000 { // pgvector's vector type holds at most 16,000
		return fmt.Errorf("%w: %d", ErrDimension, dims)
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	// Serialize creations of one name across processes.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "outcrop-vector:"+p.schema+":"+name); err != nil {
		return err
	}
	var have int
	err = tx.QueryRow(ctx, `SELECT dims FROM `+p.ident("vector_collections")+` WHERE name = $1`, name).Scan(&have)
	switch {
	case err == nil:
		if have != dims {
			return fmt.Errorf("%w: collection %s has %d dimensions, not %d", ErrDimension, name, have, dims)
		}
		return nil
	case !errors.Is(err, pgx.ErrNoRows):
		return err
	}
	var seq int64
	if err := tx.QueryRow(ctx, `SELECT nextval('`+strings.ReplaceAll(p.ident("vector_collection_seq"), "'", "''")+`')`).Scan(&seq); err != nil {
		return err
	}
	tbl := "vec_" + strconv.FormatInt(seq, 10)
	t := p.ident(tbl)
	stmts := []string{
		`CREATE TABLE ` + t + ` (
			id TEXT PRIMARY KEY,
			doc_id TEXT NOT NULL,
			text TEXT NOT NULL,
			metadata JSONB NOT NULL,
			embedding vector(` + strconv.Itoa(dims) + `) NOT NULL,
			tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
		)`,
		`CREATE INDEX ON ` + t + ` (doc_id)`,
		`CREATE INDEX ON ` + t + ` USING gin (tsv)`,
	}
	if dims <= hnswMaxDims {
		stmts = append(stmts, `CREATE INDEX ON `+t+` USING hnsw (embedding vector_cosine_ops)`)
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("vector: create %s: %w", name, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+p.ident("vector_collections")+` (name, dims, tbl) VALUES ($1, $2, $3)`, name, dims, tbl); err != nil {
		return fmt.Errorf("vector: create %s: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	p.cols[name] = pgCollection{table: tbl, dims: dims}
	p.mu.Unlock()
	return nil
}

// collection returns name's table, from the cache or the collections table.
func (p *Pgvector) collection(ctx context.Context, name string) (pgCollection, error) {
	p.mu.Lock()
	c, ok := p.cols[name]
	p.mu.Unlock()
	if ok {
		return c, nil
	}
	err := p.pool.QueryRow(ctx, `SELECT tbl, dims FROM `+p.ident("vector_collections")+` WHERE name = $1`, name).Scan(&c.table, &c.dims)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNoCollection
	}
	if err != nil {
		return c, err
	}
	p.mu.Lock()
	p.cols[name] = c
	p.mu.Unlock()
	return c, nil
}

// gone maps a missing table (another process dropped the collection) to
// ErrNoCollection and evicts the cached entry.
func (p *Pgvector) gone(name string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
		p.mu.Lock()
		delete(p.cols, name)
		p.mu.Unlock()
		return ErrNoCollection
	}
	return err
}

// DropCollection implements Index.
func (p *Pgvector) DropCollection(ctx context.Context, name string) error {
	c, err := p.collection(ctx, name)
	if err != nil {
		return err
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `DELETE FROM `+p.ident("vector_collections")+` WHERE name = $1`, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		p.gone(name, &pgconn.PgError{Code: "42P01"})
		return ErrNoCollection
	}
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+p.ident(c.table)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.cols, name)
	p.mu.Unlock()
	return nil
}

// vectorLiteral is pgvector's text form of v, normalized to unit length.
func vectorLiteral(v []float32) string {
	u := append([]float32(nil), v...)
	normalize(u)
	var b strings.Builder
	b.Grow(len(u) * 10)
	b.WriteByte('[')
	for i, x := range u {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	b.WriteByte(']')
	return b.String()
}

// Upsert implements Index.
func (p *Pgvector) Upsert(ctx context.Context, name string, recs []Record) error {
	c, err := p.collection(ctx, name)
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
		for _, x := range recs[i].Vector {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("vector: record %q has a NaN or infinite value", recs[i].ID)
			}
		}
	}
	q := `INSERT INTO ` + p.ident(c.table) + ` (id, doc_id, text, metadata, embedding) VALUES ($1, $2, $3, $4::jsonb, $5::vector)
		ON CONFLICT (id) DO UPDATE SET doc_id = excluded.doc_id, text = excluded.text, metadata = excluded.metadata, embedding = excluded.embedding`
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var batch pgx.Batch
	for _, r := range recs {
		md := r.Metadata
		if md == nil {
			md = map[string]any{}
		}
		mdj, err := json.Marshal(md)
		if err != nil {
			return fmt.Errorf("vector: record %q: metadata: %w", r.ID, err)
		}
		// PostgreSQL text cannot hold NUL; the embedded index keeps it.
		batch.Queue(q, r.ID, r.DocID, strings.ReplaceAll(r.Text, "\x00", ""), string(mdj), vectorLiteral(r.Vector))
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return p.gone(name, fmt.Errorf("vector: upsert %s: %w", name, err))
	}
	return p.gone(name, tx.Commit(ctx))
}

// Delete implements Index.
func (p *Pgvector) Delete(ctx context.Context, name string, ids []string) error {
	c, err := p.collection(ctx, name)
	if err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, `DELETE FROM `+p.ident(c.table)+` WHERE id = ANY($1)`, ids)
	return p.gone(name, err)
}

// DeleteDocument implements Index.
func (p *Pgvector) DeleteDocument(ctx context.Context, name, docID string) (int, error) {
	c, err := p.collection(ctx, name)
	if err != nil {
		return 0, err
	}
	tag, err := p.pool.Exec(ctx, `DELETE FROM `+p.ident(c.table)+` WHERE doc_id = $1`, docID)
	if err != nil {
		return 0, p.gone(name, err)
	}
	return int(tag.RowsAffected()), nil
}

// Count implements Index.
func (p *Pgvector) Count(ctx context.Context, name string) (int, error) {
	c, err := p.collection(ctx, name)
	if err != nil {
		return 0, err
	}
	var n int
	err = p.pool.QueryRow(ctx, `SELECT count(*) FROM `+p.ident(c.table)).Scan(&n)
	return n, p.gone(name, err)
}

// Search implements Index.
func (p *Pgvector) Search(ctx context.Context, name string, q Query) ([]Hit, error) {
	c, err := p.collection(ctx, name)
	if err != nil {
		return nil, err
	}
	if q.K <= 0 {
		return nil, nil
	}
	if q.Mode != Keyword && len(q.Vector) != c.dims {
		return nil, fmt.Errorf("%w: query has %d values, collection %s has %d", ErrDimension, len(q.Vector), name, c.dims)
	}
	var hits []Hit
	switch q.Mode {
	case Semantic:
		hits, err = p.nearest(ctx, c, q.Vector, q.K, q.Filter)
	case Keyword:
		hits, err = p.keyword(ctx, c, q.Text, q.K, q.Filter)
	case Hybrid:
		n := max(4*q.K, 50)
		var vec, kw []Hit
		if vec, err = p.nearest(ctx, c, q.Vector, n, q.Filter); err == nil {
			if kw, err = p.keyword(ctx, c, q.Text, n, q.Filter); err == nil {
				hits = fuseHits(vec, kw, q.K)
			}
		}
	default:
		return nil, fmt.Errorf("vector: unknown search mode %d", q.Mode)
	}
	if err != nil {
		return nil, p.gone(name, err)
	}
	return hits, nil
}

// nearest is the semantic search: the HNSW index first, an exact scan when
// the filter left fewer than k of the index's candidates.
func (p *Pgvector) nearest(ctx context.Context, c pgCollection, vec []float32, k int, f *Filter) ([]Hit, error) {
	args := []any{vectorLiteral(vec)}
	where, args := filterSQL(f, args)
	// A few more than k, so that records tied with the k-th are ordered by
	// ID below (the index orders by distance alone).
	limit := k + 10
	sql := `SELECT id, doc_id, text, metadata, embedding <=> $1::vector AS d FROM ` + p.ident(c.table) +
		` WHERE ` + where + ` ORDER BY embedding <=> $1::vector LIMIT ` + strconv.Itoa(limit)
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	// A filter is applied to the index's candidates: ask for more of them.
	ef := 2 * limit
	if f != nil {
		ef = 8 * limit
	}
	if _, err := tx.Exec(ctx, `SET LOCAL hnsw.ef_search = `+strconv.Itoa(min(max(ef, 40), 1000))); err != nil {
		return nil, err
	}
	score := func(d float64) float64 {
		if math.IsNaN(d) { // a zero vector has no direction: cosine 0
			d = 1
		}
		return (1 + (1 - d)) / 2
	}
	hits, err := scanHits(ctx, tx, sql, args, score)
	if err == nil && len(hits) < k && c.dims <= hnswMaxDims {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_indexscan = off`); err != nil {
			return nil, err
		}
		hits, err = scanHits(ctx, tx, sql, args, score)
	}
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits, err
}

// keyword ranks the records holding any of the text's terms by ts_rank.
func (p *Pgvector) keyword(ctx context.Context, c pgCollection, text string, k int, f *Filter) ([]Hit, error) {
	seen := map[string]bool{}
	var ors []string
	for _, t := range terms(text) {
		if !seen[t] {
			seen[t] = true
			ors = append(ors, "'"+t+"'")
		}
	}
	if len(ors) == 0 {
		return nil, nil
	}
	args := []any{strings.Join(ors, " | ")}
	where, args := filterSQL(f, args)
	sql := `SELECT id, doc_id, text, metadata, ts_rank(tsv, to_tsquery('simple', $1)) AS r FROM ` + p.ident(c.table) +
		` WHERE tsv @@ to_tsquery('simple', $1) AND ` + where + ` ORDER BY r DESC, id LIMIT ` + strconv.Itoa(k)
	return scanHits(ctx, p.pool, sql, args, func(r float64) float64 { return r })
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// scanHits runs sql and turns each row's last column into a score.
func scanHits(ctx context.Context, db querier, sql string, args []any, score func(float64) float64) ([]Hit, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hit
	for rows.Next() {
		var h Hit
		var md []byte
		var v float64
		if err := rows.Scan(&h.ID, &h.DocID, &h.Text, &md, &v); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(md, &h.Metadata); err != nil {
			return nil, fmt.Errorf("vector: record %s: metadata: %w", h.ID, err)
		}
		h.Score = score(v)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Equal scores in ID order, as the embedded index breaks ties
	// deterministically too.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// fuseHits is reciprocal rank fusion of two rankings (vector.go), reported
// divided by its maximum 2/61; ties in ID order.
func fuseHits(vec, kw []Hit, k int) []Hit {
	sum := map[string]float64{}
	rec := map[string]Hit{}
	for i, h := range vec {
		sum[h.ID] += 1 / float64(rrfK+i+1)
		rec[h.ID] = h
	}
	for i, h := range kw {
		sum[h.ID] += 1 / float64(rrfK+i+1)
		rec[h.ID] = h
	}
	out := make([]Hit, 0, len(sum))
	for id, s := range sum {
		h := rec[id]
		h.Score = s / (2.0 / (rrfK + 1))
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > k {
		out = out[:k]
	}
	return out
}

// filterSQL translates f into a boolean SQL expression over the metadata
// column, never NULL, appending its parameters to args. Each leaf follows
// Filter.Match exactly (its doc comment has the semantics): jsonb equality
// compares numbers by value and never equates a list with a scalar; the
// comparisons and string operators look at the value's jsonb type first (a
// CASE, so a string is never cast to a number).
func filterSQL(f *Filter, args []any) (string, []any) {
	if f == nil {
		return "TRUE", args
	}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	jsonParam := func(v any) string {
		b, _ := json.Marshal(v)
		return param(string(b)) + "::jsonb"
	}
	switch f.Op {
	case OpAndAll, OpOrAll:
		parts := make([]string, len(f.Children))
		for i, c := range f.Children {
			parts[i], args = filterSQL(c, args)
		}
		sep := " AND "
		if f.Op == OpOrAll {
			sep = " OR "
		}
		return "(" + strings.Join(parts, sep) + ")", args
	}
	val := "(metadata -> " + param(f.Key) + ")"
	typ := "jsonb_typeof" + val
	eq := func(v any) string {
		if !isScalar(v) {
			return "FALSE"
		}
		return "COALESCE(" + typ + " <> 'array' AND " + typ + " <> 'object' AND " + val + " = " + jsonParam(v) + ", FALSE)"
	}
	switch f.Op {
	case OpEquals:
		return eq(f.Value), args
	case OpNotEquals:
		return "NOT " + eq(f.Value), args
	case OpGreaterThan, OpGreaterThanOrEquals, OpLessThan, OpLessThanOrEquals:
		y, ok := f.Value.(float64)
		if !ok {
			return "FALSE", args
		}
		cmp := map[string]string{OpGreaterThan: ">", OpGreaterThanOrEquals: ">=", OpLessThan: "<", OpLessThanOrEquals: "<="}[f.Op]
		return "(CASE WHEN " + typ + " = 'number' THEN (" + val + " #>> '{}')::float8 " + cmp + " " + param(y) + "::float8 ELSE FALSE END)", args
	case OpIn, OpNotIn:
		members, _ := f.Value.([]any)
		parts := []string{"FALSE"}
		for _, m := range members {
			parts = append(parts, eq(m))
		}
		in := "(" + strings.Join(parts, " OR ") + ")"
		if f.Op == OpNotIn {
			return "NOT " + in, args
		}
		return in, args
	case OpStartsWith:
		s, ok := f.Value.(string)
		if !ok {
			return "FALSE", args
		}
		return "(CASE WHEN " + typ + " = 'string' THEN starts_with(" + val + " #>> '{}', " + param(s) + ") ELSE FALSE END)", args
	case OpListContains:
		if !isScalar(f.Value) {
			return "FALSE", args
		}
		return "(CASE WHEN " + typ + " = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements" + val + " e WHERE jsonb_typeof(e) NOT IN ('array', 'object') AND e = " + jsonParam(f.Value) + ") ELSE FALSE END)", args
	case OpStringContains:
		s, ok := f.Value.(string)
		if !ok {
			return "FALSE", args
		}
		sp := param(s)
		return "(CASE " + typ + " WHEN 'string' THEN strpos(" + val + " #>> '{}', " + sp + ") > 0 WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements" + val +
			" e WHERE jsonb_typeof(e) = 'string' AND strpos(e #>> '{}', " + sp + ") > 0) ELSE FALSE END)", args
	}
	return "FALSE", args
}

// isScalar reports whether v is a string, boolean or finite number.
func isScalar(v any) bool {
	switch x := v.(type) {
	case string, bool:
		return true
	case float64:
		return !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	_, ok := number(v)
	return ok
}
