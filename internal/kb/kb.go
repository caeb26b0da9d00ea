// Package kb is Outcrop's knowledge bases (Bedrock's bedrock-agent
// knowledge-base resources and bedrock-agent-runtime Retrieve): resources
// on internal/resource, documents parsed (parse.go), chunked (chunk.go),
// embedded with an embedding model from internal/embed and indexed in a
// vector.Index collection per knowledge base, ingested by jobs on
// internal/jobs, and retrieved with metadata filters.
//
// Data sources: an S3 data source's bucket is a folder on this host,
// <Root>/s3/<bucket> (bucketArn arn:aws:s3:::<bucket>), filtered by
// inclusionPrefixes; a CUSTOM data source takes documents through
// IngestKnowledgeBaseDocuments. A file's metadata comes from its sidecar
// <file>.metadata.json ({"metadataAttributes": {...}}).
//
// Ingestion is incremental: kb_documents records a digest of each file and
// its sidecar; a job re-indexes new and changed files, deletes the chunks of
// files that disappeared, and skips the rest. A file that fails (an
// unsupported type, a parse error, an oversize file) is counted and named
// in failureReasons; the others are indexed.
//
// Isolation: every resource and collection is keyed by the caller's account;
// Service.BoundFilters adds a filter per principal that is ANDed to every
// Retrieve of that principal, so a request's filter cannot widen it.
package kb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/vector"
)

// JobKind is the jobs kind of ingestion jobs.
const JobKind = "kb.ingest"

// Resource kinds in the resource store.
const (
	kindKB  = "knowledge-base"
	kindDS  = "kb-data-source"
	kindJob = "kb-ingestion-job"
)

// Metadata keys Bedrock adds to every chunk.
const (
	MetaSourceURI  = "x-amz-bedrock-kb-source-uri"
	MetaChunkID    = "x-amz-bedrock-kb-chunk-id"
	MetaDataSource = "x-amz-bedrock-kb-data-source-id"
	metaParent     = "x-outcrop-parent-text" // hierarchical chunks: the parent returned in the child's place
)

func init() {
	store.Register("kb", store.Migration{Version: 1, Name: "knowledge base documents", SQL: `CREATE TABLE kb_documents (
	account TEXT NOT NULL,
	kb_id TEXT NOT NULL,
	ds_id TEXT NOT NULL,
	uri TEXT NOT NULL,
	digest TEXT NOT NULL,
	chunks BIGINT NOT NULL,
	status TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (account, kb_id, ds_id, uri)
)`})
}

// Service holds knowledge bases. It is safe for concurrent use.
type Service struct {
	Store      *resource.Store
	Index      vector.Index
	Embeddings *embed.Registry
	// Queue runs ingestion jobs; set before StartIngestionJob is called.
	Queue jobs.Queue
	// Root is where S3 buckets are mapped: <Root>/s3/<bucket>.
	Root string
	// BoundFilters maps a principal name to a filter ANDed to every one of
	// its Retrieve calls (OWASP LLM08: the request cannot widen it).
	BoundFilters map[string]*vector.Filter
	// DefaultEmbeddingModel embeds OpenAI vector stores; empty means the
	// first registered embedding model.
	DefaultEmbeddingModel string
	// Models answers RetrieveAndGenerate (the gateway); nil refuses it.
	Models Converser
	Log    *slog.Logger
}

// KnowledgeBase is the stored and returned shape of a knowledge base.
type KnowledgeBase struct {
	KnowledgeBaseID            string          `json:"knowledgeBaseId"`
	KnowledgeBaseArn           string          `json:"knowledgeBaseArn"`
	Name                       string          `json:"name"`
	Description                string          `json:"description,omitempty"`
	RoleArn                    string          `json:"roleArn"`
	KnowledgeBaseConfiguration json.RawMessage `json:"knowledgeBaseConfiguration"`
	StorageConfiguration       json.RawMessage `json:"storageConfiguration,omitempty"`
	Status                     string          `json:"status"`
	CreatedAt                  time.Time       `json:"createdAt"`
	UpdatedAt                  time.Time       `json:"updatedAt"`
	FailureReasons             []string        `json:"failureReasons,omitempty"`
	// EmbeddingModel is the embedding model id resolved at creation.
	EmbeddingModel string `json:"-"`
	Dimensions     int    `json:"-"`
}

// kbBody is what the store keeps (the wire shape plus private fields).
type kbBody struct {
	KnowledgeBase
	EmbeddingModel string `json:"embeddingModel"`
	Dimensions     int    `json:"dimensions"`
}

// KnowledgeBaseInput is the body of CreateKnowledgeBase and UpdateKnowledgeBase.
type KnowledgeBaseInput struct {
	ClientToken                string          `json:"clientToken"`
	Name                       string          `json:"name"`
	Description                string          `json:"description"`
	RoleArn                    string          `json:"roleArn"`
	KnowledgeBaseConfiguration json.RawMessage `json:"knowledgeBaseConfiguration"`
	StorageConfiguration       json.RawMessage `json:"storageConfiguration"`
	Tags                       json.RawMessage `json:"tags"`
}

type kbConfig struct {
	Type                             string `json:"type"`
	VectorKnowledgeBaseConfiguration *struct {
		EmbeddingModelArn           string `json:"embeddingModelArn"`
		EmbeddingModelConfiguration *struct {
			BedrockEmbeddingModelConfiguration *struct {
				Dimensions int `json:"dimensions"`
			} `json:"bedrockEmbeddingModelConfiguration"`
		} `json:"embeddingModelConfiguration"`
	} `json:"vectorKnowledgeBaseConfiguration"`
}

func (s *Service) account(ctx context.Context) string { return resource.Account(ctx, s.Store.Scope()) }

func (s *Service) logger() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// collection is the vector collection of a knowledge base.
func collection(account, kbID string) string { return "kb/" + account + "/" + kbID }

// embeddingModel resolves an embeddingModelArn (a foundation-model ARN or a
// bare model id) to a registered embedding model.
func (s *Service) embeddingModel(arn string) (*embed.Model, error) {
	id := arn
	if i := strings.LastIndex(arn, "/"); i >= 0 && strings.HasPrefix(arn, "arn:") {
		id = arn[i+1:]
	}
	if m, ok := s.Embeddings.Lookup(id); ok {
		return m, nil
	}
	return nil, resource.Invalidf("The embedding model %s is not served here; configure it under embeddings (docs/KNOWLEDGE_BASES.md).", arn)
}

// CreateKnowledgeBase validates in and creates a VECTOR knowledge base on
// the embedded vector index.
func (s *Service) CreateKnowledgeBase(ctx context.Context, in *KnowledgeBaseInput) (*KnowledgeBase, error) {
	if err := resource.Name("name", in.Name); err != nil {
		return nil, err
	}
	if err := resource.Length("description", in.Description, 0, 200); err != nil {
		return nil, err
	}
	if in.RoleArn == "" {
		return nil, resource.Invalid("roleArn", "Member must not be null")
	}
	var cfg kbConfig
	if len(in.KnowledgeBaseConfiguration) == 0 || json.Unmarshal(in.KnowledgeBaseConfiguration, &cfg) != nil {
		return nil, resource.Invalid("knowledgeBaseConfiguration", "Member must not be null")
	}
	if cfg.Type != "VECTOR" {
		return nil, resource.Invalidf("Knowledge base type %q is not supported; only VECTOR is.", cfg.Type)
	}
	if cfg.VectorKnowledgeBaseConfiguration == nil || cfg.VectorKnowledgeBaseConfiguration.EmbeddingModelArn == "" {
		return nil, resource.Invalid("knowledgeBaseConfiguration.vectorKnowledgeBaseConfiguration.embeddingModelArn", "Member must not be null")
	}
	m, err := s.embeddingModel(cfg.VectorKnowledgeBaseConfiguration.EmbeddingModelArn)
	if err != nil {
		return nil, err
	}
	dims := m.Embedder.Dimensions()
	if c := cfg.VectorKnowledgeBaseConfiguration.EmbeddingModelConfiguration; c != nil && c.BedrockEmbeddingModelConfiguration != nil && c.BedrockEmbeddingModelConfiguration.Dimensions != 0 {
		d := c.BedrockEmbeddingModelConfiguration.Dimensions
		if d < 1 || d > dims {
			return nil, resource.Invalidf("dimensions %d is not supported by %s (1..%d)", d, m.ID, dims)
		}
		dims = d
	}
	acct := s.account(ctx)
	id := resource.NewID()
	now := s.Store.Now()
	b := kbBody{KnowledgeBase: KnowledgeBase{
		KnowledgeBaseID: id, KnowledgeBaseArn: s.Store.Scope().ARN(acct, "knowledge-base", id), Name: in.Name, Description: in.Description,
		RoleArn: in.RoleArn, KnowledgeBaseConfiguration: in.KnowledgeBaseConfiguration, StorageConfiguration: in.StorageConfiguration,
		Status: "ACTIVE", CreatedAt: now, UpdatedAt: now,
	}, EmbeddingModel: m.ID, Dimensions: dims}
	it, err := s.Store.Create(ctx, resource.Key{Account: acct, Kind: kindKB, ID: id}, in.Name, in.ClientToken, &b)
	if err != nil {
		return nil, err
	}
	got, err := resource.Decode[kbBody](it)
	if err != nil {
		return nil, err
	}
	if err := s.Index.CreateCollection(ctx, collection(acct, got.KnowledgeBaseID), got.Dimensions); err != nil {
		return nil, fmt.Errorf("create vector collection: %w", err)
	}
	return got.public(), nil
}

func (b *kbBody) public() *KnowledgeBase {
	k := b.KnowledgeBase
	k.EmbeddingModel, k.Dimensions = b.EmbeddingModel, b.Dimensions
	return &k
}

func (s *Service) kbID(ctx context.Context, ident string) (string, string, error) {
	acct := s.account(ctx)
	id, _, err := s.Store.Scope().Identifier("knowledgeBaseId", ident, "knowledge-base", acct)
	return acct, id, err
}

// GetKnowledgeBase returns a knowledge base of the caller's account.
func (s *Service) GetKnowledgeBase(ctx context.Context, ident string) (*KnowledgeBase, error) {
	acct, id, err := s.kbID(ctx, ident)
	if err != nil {
		return nil, err
	}
	it, err := s.Store.Get(ctx, resource.Key{Account: acct, Kind: kindKB, ID: id}, "")
	if err != nil {
		return nil, err
	}
	b, err := resource.Decode[kbBody](it)
	if err != nil {
		return nil, err
	}
	return b.public(), nil
}

// UpdateKnowledgeBase changes the name, description and role; the
// embedding model and dimensions cannot change (Bedrock refuses it too).
func (s *Service) UpdateKnowledgeBase(ctx context.Context, ident string, in *KnowledgeBaseInput) (*KnowledgeBase, error) {
	acct, id, err := s.kbID(ctx, ident)
	if err != nil {
		return nil, err
	}
	if err := resource.Name("name", in.Name); err != nil {
		return nil, err
	}
	var out *kbBody
	_, err = s.Store.Update(ctx, resource.Key{Account: acct, Kind: kindKB, ID: id}, func(it *resource.Item) error {
		b, err := resource.Decode[kbBody](it)
		if err != nil {
			return err
		}
		if len(in.KnowledgeBaseConfiguration) > 0 {
			var cfg kbConfig
			if json.Unmarshal(in.KnowledgeBaseConfiguration, &cfg) != nil || cfg.VectorKnowledgeBaseConfiguration == nil {
				return resource.Invalid("knowledgeBaseConfiguration", "Member must not be null")
			}
			if m, err := s.embeddingModel(cfg.VectorKnowledgeBaseConfiguration.EmbeddingModelArn); err != nil || m.ID != b.EmbeddingModel {
				return resource.Invalidf("The embedding model of a knowledge base cannot be changed.")
			}
		}
		b.Name, b.Description = in.Name, in.Description
		if in.RoleArn != "" {
			b.RoleArn = in.RoleArn
		}
		b.UpdatedAt = s.Store.Now()
		it.Name = in.Name
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		it.Body = raw
		out = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.public(), nil
}

// DeleteKnowledgeBase deletes a knowledge base, its data sources, jobs,
// documents and vectors.
func (s *Service) DeleteKnowledgeBase(ctx context.Context, ident string) (string, error) {
	acct, id, err := s.kbID(ctx, ident)
	if err != nil {
		return "", err
	}
	if err := s.Store.Delete(ctx, resource.Key{Account: acct, Kind: kindKB, ID: id}); err != nil {
		return "", err
	}
	if _, err := s.Store.DB().Exec(ctx, `DELETE FROM kb_documents WHERE account = ? AND kb_id = ?`, acct, id); err != nil {
		return "", err
	}
	if err := s.Index.DropCollection(ctx, collection(acct, id)); err != nil && !errors.Is(err, vector.ErrNoCollection) {
		return "", err
	}
	return id, nil
}

// ListKnowledgeBases lists the caller's knowledge bases.
func (s *Service) ListKnowledgeBases(ctx context.Context, p resource.Page) ([]*KnowledgeBase, string, error) {
	items, next, err := s.Store.List(ctx, resource.ListQuery{Account: s.account(ctx), Kind: kindKB, Page: p})
	if err != nil {
		return nil, "", err
	}
	out := make([]*KnowledgeBase, 0, len(items))
	for _, it := range items {
		b, err := resource.Decode[kbBody](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, b.public())
	}
	return out, next, nil
}

// DataSource is the stored and returned shape of a data source.
type DataSource struct {
	DataSourceID                 string                        `json:"dataSourceId"`
	KnowledgeBaseID              string                        `json:"knowledgeBaseId"`
	Name                         string                        `json:"name"`
	Description                  string                        `json:"description,omitempty"`
	Status                       string                        `json:"status"`
	DataSourceConfiguration      DataSourceConfiguration       `json:"dataSourceConfiguration"`
	VectorIngestionConfiguration *VectorIngestionConfiguration `json:"vectorIngestionConfiguration,omitempty"`
	DataDeletionPolicy           string                        `json:"dataDeletionPolicy,omitempty"`
	CreatedAt                    time.Time                     `json:"createdAt"`
	UpdatedAt                    time.Time                     `json:"updatedAt"`
}

// DataSourceConfiguration is Bedrock's dataSourceConfiguration (S3 and CUSTOM).
type DataSourceConfiguration struct {
	Type            string `json:"type"`
	S3Configuration *struct {
		BucketArn            string   `json:"bucketArn"`
		InclusionPrefixes    []string `json:"inclusionPrefixes,omitempty"`
		BucketOwnerAccountID string   `json:"bucketOwnerAccountId,omitempty"`
	} `json:"s3Configuration,omitempty"`
}

// VectorIngestionConfiguration is Bedrock's vectorIngestionConfiguration
// (chunking; parsing is always the built-in text extraction).
type VectorIngestionConfiguration struct {
	ChunkingConfiguration *ChunkingConfiguration `json:"chunkingConfiguration,omitempty"`
	ParsingConfiguration  json.RawMessage        `json:"parsingConfiguration,omitempty"`
}

// DataSourceInput is the body of CreateDataSource and UpdateDataSource.
type DataSourceInput struct {
	ClientToken                  string                        `json:"clientToken"`
	Name                         string                        `json:"name"`
	Description                  string                        `json:"description"`
	DataSourceConfiguration      *DataSourceConfiguration      `json:"dataSourceConfiguration"`
	VectorIngestionConfiguration *VectorIngestionConfiguration `json:"vectorIngestionConfiguration"`
	DataDeletionPolicy           string                        `json:"dataDeletionPolicy"`
}

func (in *DataSourceInput) validate() error {
	if err := resource.Name("name", in.Name); err != nil {
		return err
	}
	if in.DataSourceConfiguration == nil {
		return resource.Invalid("dataSourceConfiguration", "Member must not be null")
	}
	switch in.DataSourceConfiguration.Type {
	case "S3":
		c := in.DataSourceConfiguration.S3Configuration
		if c == nil || !strings.HasPrefix(c.BucketArn, "arn:aws:s3:::") || len(c.BucketArn) <= len("arn:aws:s3:::") || strings.ContainsAny(c.BucketArn[len("arn:aws:s3:::"):], "/\\") || strings.Contains(c.BucketArn, "..") {
			return resource.Invalid("dataSourceConfiguration.s3Configuration.bucketArn", "Member must satisfy regular expression pattern: arn:aws(|-cn|-us-gov):s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
		}
		for _, p := range c.InclusionPrefixes {
			if strings.Contains(p, "..") {
				return resource.Invalid("dataSourceConfiguration.s3Configuration.inclusionPrefixes", "Member must not contain ..")
			}
		}
	case "CUSTOM":
	default:
		return resource.Invalidf("Data source type %q is not supported; S3 (a local folder) and CUSTOM are.", in.DataSourceConfiguration.Type)
	}
	switch in.DataDeletionPolicy {
	case "", "RETAIN", "DELETE":
	default:
		return resource.Invalid("dataDeletionPolicy", "Member must satisfy enum value set: [RETAIN, DELETE]")
	}
	if v := in.VectorIngestionConfiguration; v != nil {
		if err := v.ChunkingConfiguration.Validate("vectorIngestionConfiguration.chunkingConfiguration"); err != nil {
			return err
		}
	}
	return nil
}

// CreateDataSource adds a data source to a knowledge base.
func (s *Service) CreateDataSource(ctx context.Context, kbIdent string, in *DataSourceInput) (*DataSource, error) {
	kb, err := s.GetKnowledgeBase(ctx, kbIdent)
	if err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	acct := s.account(ctx)
	id := resource.NewID()
	now := s.Store.Now()
	ds := DataSource{DataSourceID: id, KnowledgeBaseID: kb.KnowledgeBaseID, Name: in.Name, Description: in.Description, Status: "AVAILABLE",
		DataSourceConfiguration: *in.DataSourceConfiguration, VectorIngestionConfiguration: in.VectorIngestionConfiguration,
		DataDeletionPolicy: orDefault(in.DataDeletionPolicy, "DELETE"), CreatedAt: now, UpdatedAt: now}
	it, err := s.Store.Create(ctx, resource.Key{Account: acct, Kind: kindDS, Parent: kb.KnowledgeBaseID, ID: id}, in.Name, in.ClientToken, &ds)
	if err != nil {
		return nil, err
	}
	return resource.Decode[DataSource](it)
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// GetDataSource returns a data source.
func (s *Service) GetDataSource(ctx context.Context, kbIdent, dsID string) (*DataSource, error) {
	kb, err := s.GetKnowledgeBase(ctx, kbIdent)
	if err != nil {
		return nil, err
	}
	it, err := s.Store.Get(ctx, resource.Key{Account: s.account(ctx), Kind: kindDS, Parent: kb.KnowledgeBaseID, ID: dsID}, "")
	if err != nil {
		return nil, err
	}
	return resource.Decode[DataSource](it)
}

// UpdateDataSource replaces a data source's name, description and
// configuration (the type cannot change).
func (s *Service) UpdateDataSource(ctx context.Context, kbIdent, dsID string, in *DataSourceInput) (*DataSource, error) {
	kb, err := s.GetKnowledgeBase(ctx, kbIdent)
	if err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	var out *DataSource
	_, err = s.Store.Update(ctx, resource.Key{Account: s.account(ctx), Kind: kindDS, Parent: kb.KnowledgeBaseID, ID: dsID}, func(it *resource.Item) error {
		ds, err := resource.Decode[DataSource](it)
		if err != nil {
			return err
		}
		if ds.DataSourceConfiguration.Type != in.DataSourceConfiguration.Type {
			return resource.Invalidf("The type of a data source cannot be changed.")
		}
		ds.Name, ds.Description, ds.DataSourceConfiguration = in.Name, in.Description, *in.DataSourceConfiguration
		ds.VectorIngestionConfiguration = in.VectorIngestionConfiguration
		ds.DataDeletionPolicy = orDefault(in.DataDeletionPolicy, ds.DataDeletionPolicy)
		ds.UpdatedAt = s.Store.Now()
		it.Name = in.Name
		raw, err := json.Marshal(ds)
		if err != nil {
			return err
		}
		it.Body, out = raw, ds
		return nil
	})
	return out, err
}

// DeleteDataSource deletes a data source; with dataDeletionPolicy DELETE
// its documents' chunks leave the index too.
func (s *Service) DeleteDataSource(ctx context.Context, kbIdent, dsID string) error {
	ds, err := s.GetDataSource(ctx, kbIdent, dsID)
	if err != nil {
		return err
	}
	acct := s.account(ctx)
	if ds.DataDeletionPolicy != "RETAIN" {
		uris, err := s.documents(ctx, acct, ds.KnowledgeBaseID, ds.DataSourceID)
		if err != nil {
			return err
		}
		for uri := range uris {
			if _, err := s.Index.DeleteDocument(ctx, collection(acct, ds.KnowledgeBaseID), docID(ds.DataSourceID, uri)); err != nil {
				return err
			}
		}
		if _, err := s.Store.DB().Exec(ctx, `DELETE FROM kb_documents WHERE account = ? AND kb_id = ? AND ds_id = ?`, acct, ds.KnowledgeBaseID, ds.DataSourceID); err != nil {
			return err
		}
	}
	return s.Store.Delete(ctx, resource.Key{Account: acct, Kind: kindDS, Parent: ds.KnowledgeBaseID, ID: ds.DataSourceID})
}

// ListDataSources lists a knowledge base's data sources.
func (s *Service) ListDataSources(ctx context.Context, kbIdent string, p resource.Page) ([]*DataSource, string, error) {
	kb, err := s.GetKnowledgeBase(ctx, kbIdent)
	if err != nil {
		return nil, "", err
	}
	items, next, err := s.Store.List(ctx, resource.ListQuery{Account: s.account(ctx), Kind: kindDS, Parent: kb.KnowledgeBaseID, Page: p})
	if err != nil {
		return nil, "", err
	}
	out := make([]*DataSource, 0, len(items))
	for _, it := range items {
		d, err := resource.Decode[DataSource](it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, d)
	}
	return out, next, nil
}

// docID is the vector DocID of a document of a data source.
func docID(dsID, uri string) string { return dsID + "|" + uri }

// documents returns the recorded digests of a data source's documents.
func (s *Service) documents(ctx context.Context, acct, kbID, dsID string) (map[string]string, error) {
	rows, err := s.Store.DB().Query(ctx, `SELECT uri, digest FROM kb_documents WHERE account = ? AND kb_id = ? AND ds_id = ?`, acct, kbID, dsID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var uri, d string
		if err := rows.Scan(&uri, &d); err != nil {
			return nil, err
		}
		out[uri] = d
	}
	return out, rows.Err()
}

// bucketDir maps an S3 data source to its folder.
func (s *Service) bucketDir(ds *DataSource) (string, error) {
	c := ds.DataSourceConfiguration.S3Configuration
	if c == nil {
		return "", resource.Invalidf("data source %s has no s3Configuration", ds.DataSourceID)
	}
	return filepath.Join(s.Root, "s3", strings.TrimPrefix(c.BucketArn, "arn:aws:s3:::")), nil
}

// sourceFile is one document found in a data source's folder.
type sourceFile struct {
	uri, path, sidecar string
}

// scan lists the documents of an S3 data source.
func (s *Service) scan(ds *DataSource) ([]sourceFile, int, error) {
	dir, err := s.bucketDir(ds)
	if err != nil {
		return nil, 0, err
	}
	bucket := strings.TrimPrefix(ds.DataSourceConfiguration.S3Configuration.BucketArn, "arn:aws:s3:::")
	prefixes := ds.DataSourceConfiguration.S3Configuration.InclusionPrefixes
	var out []sourceFile
	sidecars := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return resource.Invalidf("The bucket %s is not present: create the folder %s.", bucket, dir)
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if len(prefixes) > 0 {
			ok := false
			for _, pre := range prefixes {
				if strings.HasPrefix(rel, pre) {
					ok = true
				}
			}
			if !ok {
				return nil
			}
		}
		if strings.HasSuffix(rel, ".metadata.json") {
			sidecars++
			return nil
		}
		f := sourceFile{uri: "s3://" + bucket + "/" + rel, path: p}
		if _, err := os.Stat(p + ".metadata.json"); err == nil {
			f.sidecar = p + ".metadata.json"
		}
		out = append(out, f)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].uri < out[j].uri })
	return out, sidecars, err
}

// digest identifies a file's content and its sidecar's.
func digest(data, sidecar []byte) string {
	h := sha256.New()
	h.Write(data)
	h.Write([]byte{0})
	h.Write(sidecar)
	return hex.EncodeToString(h.Sum(nil))
}

// ParseSidecar reads a .metadata.json sidecar: {"metadataAttributes": {key:
// value}} where a value is a string, number, boolean or list of strings, or
// Bedrock's typed form {"value": {"type": "STRING"|"NUMBER"|"BOOLEAN"|
// "STRING_LIST", "stringValue"|"numberValue"|"booleanValue"|
// "stringListValue": …}, "includeForEmbedding": bool}.
func ParseSidecar(b []byte) (map[string]any, error) {
	var sc struct {
		MetadataAttributes map[string]json.RawMessage `json:"metadataAttributes"`
	}
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("metadata file: %w", err)
	}
	if sc.MetadataAttributes == nil {
		return nil, errors.New("metadata file: no metadataAttributes object")
	}
	out := map[string]any{}
	for k, raw := range sc.MetadataAttributes {
		if len(k) < 1 || len(k) > 100 {
			return nil, fmt.Errorf("metadata file: key %q must have 1..100 characters", k)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		if obj, ok := v.(map[string]any); ok {
			inner, _ := obj["value"].(map[string]any)
			if inner == nil {
				return nil, fmt.Errorf("metadata file: key %q: an object must be {\"value\": {...}}", k)
			}
			switch inner["type"] {
			case "STRING":
				v = inner["stringValue"]
			case "NUMBER":
				v = inner["numberValue"]
			case "BOOLEAN":
				v = inner["booleanValue"]
			case "STRING_LIST":
				v = inner["stringListValue"]
			default:
				return nil, fmt.Errorf("metadata file: key %q: unknown type %v", k, inner["type"])
			}
		}
		switch x := v.(type) {
		case string, float64, bool:
		case []any:
			for _, m := range x {
				if _, ok := m.(string); !ok {
					return nil, fmt.Errorf("metadata file: key %q: lists must hold strings", k)
				}
			}
		default:
			return nil, fmt.Errorf("metadata file: key %q: unsupported value %v", k, v)
		}
		out[k] = v
	}
	return out, nil
}

// chunkText applies a data source's chunking to text. The default (no
// configuration) is FIXED_SIZE with 300 tokens and 20% overlap, Bedrock's.
func chunkText(text string, cc *ChunkingConfiguration, emb embed.Embedder, ctx context.Context) ([]Chunk, error) {
	if cc == nil {
		return ChunkFixed(text, FixedSizeChunkingConfiguration{MaxTokens: 300, OverlapPercentage: 20}), nil
	}
	switch cc.ChunkingStrategy {
	case FixedSize:
		return ChunkFixed(text, *cc.FixedSizeChunkingConfiguration), nil
	case Hierarchical:
		return ChunkHierarchical(text, *cc.HierarchicalChunkingConfiguration), nil
	case Semantic:
		return ChunkSemantic(text, *cc.SemanticChunkingConfiguration, func(texts []string) ([][]float32, error) {
			r, err := emb.Embed(ctx, texts)
			return r.Vectors, err
		})
	case NoChunking:
		return ChunkNone(text), nil
	}
	return nil, llm.Errorf(llm.KindValidation, "unknown chunking strategy %q", cc.ChunkingStrategy)
}
