package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/vector"
)

// kbConfig is the knowledge_bases section.
type kbConfig struct {
	// PrincipalFilters binds a RetrievalFilter (written in YAML) to a
	// principal name: it is ANDed to every Retrieve that principal makes.
	PrincipalFilters map[string]any `yaml:"principal_filters"`
	// VectorStore selects where vectors live.
	VectorStore struct {
		// Backend is "embedded" (default: SQLite at $OUTCROP_HOME/vectors.db
		// and an in-process index) or "pgvector" (PostgreSQL with the
		// vector extension, shared by replicas).
		Backend string `yaml:"backend"`
		// DSN of the pgvector database (a secret reference: env:NAME,
		// file:/path, or the literal postgres:// URL).
		DSN config.Secret `yaml:"dsn"`
		// Schema holds the pgvector tables; default public.
		Schema string `yaml:"schema"`
	} `yaml:"vector_store"`
}

// buildKnowledgeBases opens the embedded vector index at
// $OUTCROP_HOME/vectors.db and the knowledge-base service, and registers
// its ingestion handler for the job queue.
func (a *App) buildKnowledgeBases(ctx context.Context, db *store.DB, emb *embed.Registry) (*httpapi.KnowledgeBases, error) {
	var kc kbConfig
	if err := config.Decode(a.cfg.KnowledgeBases, &kc); err != nil {
		return nil, fmt.Errorf("knowledge_bases: %w", err)
	}
	bound := map[string]*vector.Filter{}
	for name, f := range kc.PrincipalFilters {
		raw, err := json.Marshal(f)
		if err != nil {
			return nil, fmt.Errorf("knowledge_bases.principal_filters.%s: %w", name, err)
		}
		flt, err := vector.ParseFilter(raw)
		if err != nil || flt == nil {
			return nil, fmt.Errorf("knowledge_bases.principal_filters.%s: not a RetrievalFilter: %v", name, err)
		}
		bound[name] = flt
	}
	idx, err := a.openVectorIndex(ctx, &kc)
	if err != nil {
		return nil, fmt.Errorf("knowledge bases: %w", err)
	}
	a.onClose(idx.Close)
	svc := &kb.Service{
		Store:        resource.NewStore(db, resource.ScopeFrom(a.cfg), nil),
		Index:        idx,
		Embeddings:   emb,
		Root:         filepath.Join(a.cfg.Home, "kb-sources"),
		Log:          a.log.With("component", "kb"),
		BoundFilters: bound,
	}
	a.addJobHandler(kb.JobKind, svc.RunJob)
	return &httpapi.KnowledgeBases{Service: svc}, nil
}

// openVectorIndex opens the configured vector index.
func (a *App) openVectorIndex(ctx context.Context, kc *kbConfig) (vector.Index, error) {
	switch kc.VectorStore.Backend {
	case "", "embedded":
		return vector.OpenEmbedded(filepath.Join(a.cfg.Home, "vectors.db"), a.log)
	case "pgvector":
		dsn, err := kc.VectorStore.DSN.Resolve()
		if err != nil || dsn == "" {
			return nil, fmt.Errorf("knowledge_bases.vector_store.dsn: %v", orMissing(err))
		}
		return vector.OpenPgvector(ctx, vector.PgvectorOptions{DSN: dsn, Schema: kc.VectorStore.Schema, Logger: a.log})
	}
	return nil, fmt.Errorf("knowledge_bases.vector_store.backend: %q is not embedded or pgvector", kc.VectorStore.Backend)
}

func orMissing(err error) error {
	if err == nil {
		return errors.New("required for the pgvector backend")
	}
	return err
}

// addJobHandler registers a handler for the job queue buildFlows creates.
func (a *App) addJobHandler(kind string, h jobs.Handler) {
	if a.jobHandlers == nil {
		a.jobHandlers = map[string]jobs.Handler{}
	}
	a.jobHandlers[kind] = h
}

// withJobHandlers returns the registered handlers plus kind: h.
func (a *App) withJobHandlers(kind string, h jobs.Handler) map[string]jobs.Handler {
	out := map[string]jobs.Handler{kind: h}
	for k, v := range a.jobHandlers {
		out[k] = v
	}
	return out
}
