package app

import (
	"encoding/json"
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
}

// buildKnowledgeBases opens the embedded vector index at
// $OUTCROP_HOME/vectors.db and the knowledge-base service, and registers
// its ingestion handler for the job queue.
func (a *App) buildKnowledgeBases(db *store.DB, emb *embed.Registry) (*httpapi.KnowledgeBases, error) {
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
	idx, err := vector.OpenEmbedded(filepath.Join(a.cfg.Home, "vectors.db"), a.log)
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
