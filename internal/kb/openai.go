package kb

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/vector"
)

// The OpenAI vector-store API (files, vector stores, their files, search)
// on the same parsers, chunking, embeddings and index as knowledge bases.
// Files are kept under <Root>/files/<account>/<id>; vector stores are
// collections "vs/<account>/<id>" embedded with DefaultEmbeddingModel.

const (
	kindFile   = "openai-file"
	kindVS     = "vector-store"
	kindVSFile = "vector-store-file"
)

// File is an OpenAI file object.
type File struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	Bytes     int    `json:"bytes"`
	CreatedAt int64  `json:"created_at"`
	Filename  string `json:"filename"`
	Purpose   string `json:"purpose"`
	Status    string `json:"status"`
}

// VectorStore is an OpenAI vector store object.
type VectorStore struct {
	ID         string         `json:"id"`
	Object     string         `json:"object"`
	CreatedAt  int64          `json:"created_at"`
	Name       string         `json:"name"`
	UsageBytes int            `json:"usage_bytes"`
	FileCounts map[string]int `json:"file_counts"`
	Status     string         `json:"status"`
	Metadata   map[string]any `json:"metadata"`
	Model      string         `json:"-"`
}

type vsBody struct {
	VectorStore
	Model string `json:"model"`
}

// VectorStoreFile is an OpenAI vector_store.file object.
type VectorStoreFile struct {
	ID            string         `json:"id"`
	Object        string         `json:"object"`
	CreatedAt     int64          `json:"created_at"`
	VectorStoreID string         `json:"vector_store_id"`
	Status        string         `json:"status"`
	LastError     any            `json:"last_error"`
	Attributes    map[string]any `json:"attributes,omitempty"`
	UsageBytes    int            `json:"usage_bytes"`
}

func openAIID(prefix string) string {
	return prefix + strings.ToLower(resource.NewID()) + strings.ToLower(resource.NewID())
}

func (s *Service) filePath(acct, id string) string { return filepath.Join(s.Root, "files", acct, id) }

// UploadFile stores an uploaded file.
func (s *Service) UploadFile(ctx context.Context, name, purpose string, data []byte) (*File, error) {
	if name == "" || strings.ContainsAny(name, "/\\") {
		return nil, llm.Errorf(llm.KindValidation, "'file' must have a file name")
	}
	if purpose == "" {
		return nil, llm.Errorf(llm.KindValidation, "'purpose' is a required property")
	}
	if len(data) > MaxDocumentBytes {
		return nil, llm.Errorf(llm.KindValidation, "the file is over %d bytes", MaxDocumentBytes)
	}
	acct := s.account(ctx)
	f := File{ID: openAIID("file-"), Object: "file", Bytes: len(data), CreatedAt: time.Now().Unix(), Filename: name, Purpose: purpose, Status: "processed"}
	p := s.filePath(acct, f.ID)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return nil, err
	}
	if _, err := s.Store.Create(ctx, resource.Key{Account: acct, Kind: kindFile, ID: f.ID}, "", "", &f); err != nil {
		os.Remove(p)
		return nil, err
	}
	return &f, nil
}

func notFoundOpenAI(what, id string) error {
	return llm.Errorf(llm.KindNotFound, "No %s found with id '%s'.", what, id)
}

// GetFile returns a file of the caller's account.
func (s *Service) GetFile(ctx context.Context, id string) (*File, error) {
	it, err := s.Store.Get(ctx, resource.Key{Account: s.account(ctx), Kind: kindFile, ID: id}, "")
	if err != nil {
		return nil, notFoundOpenAI("file", id)
	}
	return resource.Decode[File](it)
}

// ListFiles lists the caller's files (up to 10,000).
func (s *Service) ListFiles(ctx context.Context) ([]*File, error) {
	items, _, err := s.Store.List(ctx, resource.ListQuery{Account: s.account(ctx), Kind: kindFile, Page: resource.Page{MaxResults: 1000}})
	if err != nil {
		return nil, err
	}
	out := []*File{}
	for _, it := range items {
		f, err := resource.Decode[File](it)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// DeleteFile deletes a file (its chunks stay in vector stores that indexed it, as in OpenAI).
func (s *Service) DeleteFile(ctx context.Context, id string) error {
	acct := s.account(ctx)
	if err := s.Store.Delete(ctx, resource.Key{Account: acct, Kind: kindFile, ID: id}); err != nil {
		return notFoundOpenAI("file", id)
	}
	os.Remove(s.filePath(acct, id))
	return nil
}

// CreateVectorStore creates a vector store and indexes fileIDs into it.
func (s *Service) CreateVectorStore(ctx context.Context, name string, fileIDs []string, metadata map[string]any) (*VectorStore, error) {
	models := s.Embeddings.Models()
	if len(models) == 0 {
		return nil, llm.Errorf(llm.KindUnavailable, "no embedding model is configured")
	}
	m := models[0]
	if s.DefaultEmbeddingModel != "" {
		mm, ok := s.Embeddings.Lookup(s.DefaultEmbeddingModel)
		if !ok {
			return nil, llm.Errorf(llm.KindUnavailable, "the embedding model %s is not served", s.DefaultEmbeddingModel)
		}
		m = mm
	}
	acct := s.account(ctx)
	vs := vsBody{VectorStore: VectorStore{ID: openAIID("vs_"), Object: "vector_store", CreatedAt: time.Now().Unix(), Name: name, Status: "completed",
		FileCounts: map[string]int{"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0}, Metadata: metadata}, Model: m.ID}
	if vs.Metadata == nil {
		vs.Metadata = map[string]any{}
	}
	if _, err := s.Store.Create(ctx, resource.Key{Account: acct, Kind: kindVS, ID: vs.ID}, "", "", &vs); err != nil {
		return nil, err
	}
	if err := s.Index.CreateCollection(ctx, "vs/"+acct+"/"+vs.ID, m.Embedder.Dimensions()); err != nil {
		return nil, err
	}
	for _, f := range fileIDs {
		if _, err := s.AddVectorStoreFile(ctx, vs.ID, f, nil); err != nil {
			return nil, err
		}
	}
	return s.GetVectorStore(ctx, vs.ID)
}

func (s *Service) vectorStore(ctx context.Context, id string) (*vsBody, error) {
	it, err := s.Store.Get(ctx, resource.Key{Account: s.account(ctx), Kind: kindVS, ID: id}, "")
	if err != nil {
		return nil, notFoundOpenAI("vector store", id)
	}
	return resource.Decode[vsBody](it)
}

// GetVectorStore returns a vector store.
func (s *Service) GetVectorStore(ctx context.Context, id string) (*VectorStore, error) {
	b, err := s.vectorStore(ctx, id)
	if err != nil {
		return nil, err
	}
	return &b.VectorStore, nil
}

// ListVectorStores lists the caller's vector stores.
func (s *Service) ListVectorStores(ctx context.Context) ([]*VectorStore, error) {
	items, _, err := s.Store.List(ctx, resource.ListQuery{Account: s.account(ctx), Kind: kindVS, Page: resource.Page{MaxResults: 1000}})
	if err != nil {
		return nil, err
	}
	out := []*VectorStore{}
	for _, it := range items {
		b, err := resource.Decode[vsBody](it)
		if err != nil {
			return nil, err
		}
		out = append(out, &b.VectorStore)
	}
	return out, nil
}

// DeleteVectorStore deletes a vector store and its vectors.
func (s *Service) DeleteVectorStore(ctx context.Context, id string) error {
	acct := s.account(ctx)
	if err := s.Store.Delete(ctx, resource.Key{Account: acct, Kind: kindVS, ID: id}); err != nil {
		return notFoundOpenAI("vector store", id)
	}
	if err := s.Index.DropCollection(ctx, "vs/"+acct+"/"+id); err != nil && err != vector.ErrNoCollection {
		return err
	}
	return nil
}

// AddVectorStoreFile parses, chunks (FIXED_SIZE 800 tokens, 400 overlap:
// OpenAI's default static strategy) and indexes a file into a vector store,
// synchronously. A file that cannot be parsed is recorded as failed.
func (s *Service) AddVectorStoreFile(ctx context.Context, vsID, fileID string, attrs map[string]any) (*VectorStoreFile, error) {
	vs, err := s.vectorStore(ctx, vsID)
	if err != nil {
		return nil, err
	}
	f, err := s.GetFile(ctx, fileID)
	if err != nil {
		return nil, err
	}
	m, err := s.embeddingModel(vs.Model)
	if err != nil {
		return nil, err
	}
	acct := s.account(ctx)
	data, err := os.ReadFile(s.filePath(acct, fileID))
	if err != nil {
		return nil, err
	}
	vf := VectorStoreFile{ID: fileID, Object: "vector_store.file", CreatedAt: time.Now().Unix(), VectorStoreID: vsID, Status: "completed", Attributes: attrs, UsageBytes: len(data)}
	kbb := &kbBody{KnowledgeBase: KnowledgeBase{KnowledgeBaseID: vsID}, Dimensions: m.Embedder.Dimensions()}
	ds := &DataSource{DataSourceID: "openai", VectorIngestionConfiguration: &VectorIngestionConfiguration{ChunkingConfiguration: &ChunkingConfiguration{
		ChunkingStrategy: FixedSize, FixedSizeChunkingConfiguration: &FixedSizeChunkingConfiguration{MaxTokens: 800, OverlapPercentage: 50}}}}
	md := map[string]any{"file_id": fileID, "filename": f.Filename}
	for k, v := range attrs {
		md[k] = v
	}
	if _, err := s.indexInto(ctx, "vs/"+acct+"/"+vsID, kbb, ds, m.Embedder, fileID, f.Filename, data, md); err != nil {
		vf.Status = "failed"
		vf.LastError = map[string]string{"code": "unsupported_file", "message": llm.AsError(err).Error()}
	}
	if _, err := s.Store.Create(ctx, resource.Key{Account: acct, Kind: kindVSFile, Parent: vsID, ID: fileID}, "", "", &vf); err != nil {
		return nil, err
	}
	_, err = s.Store.Update(ctx, resource.Key{Account: acct, Kind: kindVS, ID: vsID}, func(it *resource.Item) error {
		b, err := resource.Decode[vsBody](it)
		if err != nil {
			return err
		}
		b.FileCounts["total"]++
		b.FileCounts[vf.Status]++
		b.UsageBytes += len(data)
		raw, err := json.Marshal(b)
		it.Body = raw
		return err
	})
	return &vf, err
}

// ListVectorStoreFiles lists a vector store's files.
func (s *Service) ListVectorStoreFiles(ctx context.Context, vsID string) ([]*VectorStoreFile, error) {
	if _, err := s.vectorStore(ctx, vsID); err != nil {
		return nil, err
	}
	items, _, err := s.Store.List(ctx, resource.ListQuery{Account: s.account(ctx), Kind: kindVSFile, Parent: vsID, Page: resource.Page{MaxResults: 1000}})
	if err != nil {
		return nil, err
	}
	out := []*VectorStoreFile{}
	for _, it := range items {
		f, err := resource.Decode[VectorStoreFile](it)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// OpenAIFilter converts OpenAI's comparison/compound filter
// ({"type": "eq"|"ne"|"gt"|"gte"|"lt"|"lte"|"in"|"nin", "key", "value"} or
// {"type": "and"|"or", "filters": [...]}) into a vector.Filter.
func OpenAIFilter(raw json.RawMessage, depth int) (*vector.Filter, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if depth > 8 {
		return nil, llm.Errorf(llm.KindValidation, "'filters' is nested too deeply")
	}
	var f struct {
		Type    string            `json:"type"`
		Key     string            `json:"key"`
		Value   any               `json:"value"`
		Filters []json.RawMessage `json:"filters"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, llm.Errorf(llm.KindValidation, "'filters' is malformed")
	}
	ops := map[string]string{"eq": vector.OpEquals, "ne": vector.OpNotEquals, "gt": vector.OpGreaterThan, "gte": vector.OpGreaterThanOrEquals,
		"lt": vector.OpLessThan, "lte": vector.OpLessThanOrEquals, "in": vector.OpIn, "nin": vector.OpNotIn}
	switch f.Type {
	case "and", "or":
		if len(f.Filters) == 0 {
			return nil, llm.Errorf(llm.KindValidation, "'filters.filters' must not be empty")
		}
		out := &vector.Filter{Op: vector.OpAndAll}
		if f.Type == "or" {
			out.Op = vector.OpOrAll
		}
		for _, c := range f.Filters {
			cf, err := OpenAIFilter(c, depth+1)
			if err != nil {
				return nil, err
			}
			out.Children = append(out.Children, cf)
		}
		return out, nil
	}
	op, ok := ops[f.Type]
	if !ok || f.Key == "" {
		return nil, llm.Errorf(llm.KindValidation, "'filters.type' must be one of eq, ne, gt, gte, lt, lte, in, nin, and, or, with a key")
	}
	leaf, err := json.Marshal(map[string]any{op: map[string]any{"key": f.Key, "value": f.Value}})
	if err != nil {
		return nil, llm.Errorf(llm.KindValidation, "'filters.value' is malformed")
	}
	return vector.ParseFilter(leaf)
}

// SearchResult is one entry of a vector-store search.
type SearchResult struct {
	FileID     string           `json:"file_id"`
	Filename   string           `json:"filename"`
	Score      float64          `json:"score"`
	Attributes map[string]any   `json:"attributes"`
	Content    []map[string]any `json:"content"`
}

// SearchVectorStore searches a vector store (1..50 results, default 10).
func (s *Service) SearchVectorStore(ctx context.Context, vsID, query string, max int, filters json.RawMessage, hybrid bool) ([]SearchResult, error) {
	if query == "" {
		return nil, llm.Errorf(llm.KindValidation, "'query' must not be empty")
	}
	if max == 0 {
		max = 10
	}
	if max < 1 || max > 50 {
		return nil, llm.Errorf(llm.KindValidation, "'max_num_results' must be between 1 and 50")
	}
	flt, err := OpenAIFilter(filters, 0)
	if err != nil {
		return nil, err
	}
	vs, err := s.vectorStore(ctx, vsID)
	if err != nil {
		return nil, err
	}
	m, err := s.embeddingModel(vs.Model)
	if err != nil {
		return nil, err
	}
	r, err := m.Embedder.Embed(ctx, []string{query})
	if err != nil {
		return nil, err
	}
	mode := vector.Semantic
	if hybrid {
		mode = vector.Hybrid
	}
	hits, err := s.Index.Search(ctx, "vs/"+s.account(ctx)+"/"+vsID, vector.Query{Vector: r.Vectors[0], Text: query, K: max, Filter: flt, Mode: mode})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out := make([]SearchResult, len(hits))
	for i, h := range hits {
		attrs := map[string]any{}
		for k, v := range h.Metadata {
			if !strings.HasPrefix(k, "x-amz-") && k != metaParent && k != "file_id" && k != "filename" {
				attrs[k] = v
			}
		}
		fid, _ := h.Metadata["file_id"].(string)
		fname, _ := h.Metadata["filename"].(string)
		out[i] = SearchResult{FileID: fid, Filename: fname, Score: h.Score, Attributes: attrs, Content: []map[string]any{{"type": "text", "text": h.Text}}}
	}
	return out, nil
}
