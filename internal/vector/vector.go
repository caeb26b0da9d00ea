// Package vector is Outcrop's vector index: records (a vector, the text it
// was made from, metadata) in named collections, searched by cosine
// similarity, by keywords (BM25), or both fused (hybrid), under metadata
// filters with Bedrock's RetrievalFilter semantics (filter.go).
//
// Index is the one interface; every implementation passes the conformance
// suite in package vector/vectortest. Two implementations: Pgvector
// (pgvector.go), PostgreSQL with the pgvector extension for several
// replicas, and the default, Embedded, which keeps every collection in
// SQLite (a file under $OUTCROP_HOME, or in-memory) and searches an in-process index rebuilt from it when a
// collection is first used after a start: vectors in one contiguous float32
// array scanned exactly (no approximation: recall is that of the model), and
// an inverted index for BM25.
//
// Hybrid search fuses the two rankings with reciprocal rank fusion:
// score(d) = 1/(60 + rank_vector(d)) + 1/(60 + rank_bm25(d)), over the top
// max(4k, 50) candidates of each ranking that pass the filter; a record
// missing from one ranking gets only the other's term. The reported score
// of a hybrid hit is that sum normalized by its maximum, 2/61.
//
// Semantic scores are (1 + cosine) / 2, in [0, 1], higher is closer.
//
// Knowledge bases, OpenAI vector stores and the semantic cache use it;
// collection names are theirs to choose (a knowledge base id, a vector store
// id), and per-account isolation is theirs: an Index does no authorization.
package vector

import (
	"context"
	"errors"
)

// Record is one indexed item.
type Record struct {
	// ID is unique within the collection.
	ID string
	// DocID groups the records of one source document, for DeleteDocument.
	DocID string
	// Vector has the collection's dimension.
	Vector []float32
	// Text is what was embedded, returned with hits and indexed for BM25.
	Text string
	// Metadata values are strings, float64 numbers, booleans or lists of
	// strings.
	Metadata map[string]any
}

// Mode selects how Search ranks.
type Mode int

// Search modes.
const (
	Semantic Mode = iota // cosine similarity of Query.Vector
	Hybrid               // reciprocal rank fusion of cosine and BM25 on Query.Text
	Keyword              // BM25 on Query.Text alone
)

// Query is one search.
type Query struct {
	Vector []float32
	Text   string
	K      int
	Filter *Filter
	Mode   Mode
}

// Hit is one search result. Its Record has no Vector.
type Hit struct {
	Record
	Score float64
}

// Index stores and searches records. Implementations are safe for
// concurrent use.
type Index interface {
	// CreateCollection makes an empty collection of vectors of dims values.
	// Creating an existing collection with the same dimension is a no-op;
	// with another it fails with ErrDimension.
	CreateCollection(ctx context.Context, name string, dims int) error
	// DropCollection deletes a collection and its records.
	DropCollection(ctx context.Context, name string) error
	// Upsert adds records or replaces those with the same IDs.
	Upsert(ctx context.Context, collection string, recs []Record) error
	// Delete removes records by ID; unknown IDs are ignored.
	Delete(ctx context.Context, collection string, ids []string) error
	// DeleteDocument removes every record of a document and returns how many.
	DeleteDocument(ctx context.Context, collection, docID string) (int, error)
	// Search returns at most q.K hits, best first.
	Search(ctx context.Context, collection string, q Query) ([]Hit, error)
	// Count returns the number of records in a collection.
	Count(ctx context.Context, collection string) (int, error)
	// Close releases the index.
	Close() error
}

// Errors.
var (
	ErrNoCollection = errors.New("vector: no such collection")
	ErrDimension    = errors.New("vector: wrong vector dimension")
)
