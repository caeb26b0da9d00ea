package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/vector"
)

// Config is the cache section of the configuration file.
type Config struct {
	// Enabled turns the exact response cache on. Default true; only
	// deterministic requests (temperature 0 or a fixed seed) are cached.
	Enabled *bool `yaml:"enabled"`
	// Backend is auto (Redis when redis.url is set, else memory), memory
	// or redis. Default auto.
	Backend string `yaml:"backend"`
	// Scope is who shares entries: principal (default; a principal only
	// ever sees its own entries) or account (every principal of the
	// server's account).
	Scope string `yaml:"scope"`
	// TTL is how long an answer is served from the cache. Default 10m.
	TTL config.Duration `yaml:"ttl"`
	// MaxBytes bounds the memory backend (keys plus answers), least
	// recently used out first. Default 64 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxEntryBytes bounds one answer; longer answers are not stored.
	// Default 1 MiB.
	MaxEntryBytes int `yaml:"max_entry_bytes"`
	// Models overrides settings per model ID.
	Models map[string]ModelConfig `yaml:"models"`
	// Semantic opts models in to the semantic cache.
	Semantic SemanticConfig `yaml:"semantic"`
}

// SemanticConfig configures the semantic cache (off unless a model is
// listed).
type SemanticConfig struct {
	// Models maps model IDs to their minimum cosine similarity for a hit;
	// 0 takes the default (DefaultThreshold, docs/CACHING.md).
	Models map[string]float64 `yaml:"models"`
	// EmbeddingModel names the embedding model (of the embeddings section)
	// that embeds questions. Default all-minilm-l6-v2, the built-in model;
	// the default threshold was chosen for it, another model needs its own.
	EmbeddingModel string `yaml:"embedding_model"`
	// Scope is who may be served an answer to a reworded question:
	// principal (default: only the principal who asked the original) or
	// account (every principal of the server's account; needs cache.scope
	// account too). With cache.scope account and this principal, exact
	// repeats are shared across the account and reworded questions are not.
	Scope string `yaml:"scope"`
	// Verify is the check a semantic hit must also pass: none (default) or
	// lexical (the two questions must name the same numbers and agree on
	// negation, Consistent; docs/CACHING.md has what it costs in recall and
	// gains in precision).
	Verify string `yaml:"verify"`
	// MaxPerNamespace bounds the questions kept per namespace, oldest out
	// first: per tenant in the embedded index, per tenant and conversation
	// context in Redis. Default 10,000.
	MaxPerNamespace int `yaml:"max_per_namespace"`
}

// DefaultEmbeddingModel is the embedding model of the semantic cache when
// none is configured.
const DefaultEmbeddingModel = "all-minilm-l6-v2"

// ModelConfig is a per-model override.
type ModelConfig struct {
	// Enabled false never caches the model. Default true.
	Enabled *bool `yaml:"enabled"`
	// TTL replaces the default TTL for the model; 0 keeps it.
	TTL config.Duration `yaml:"ttl"`
}

// ParseConfig decodes and validates cfg's cache section.
func ParseConfig(cfg *config.Config) (Config, error) {
	var c Config
	if err := config.Decode(cfg.Cache, &c); err != nil {
		return c, fmt.Errorf("cache: %w", err)
	}
	switch c.Backend {
	case "":
		c.Backend = "auto"
	case "auto", "memory", "redis":
	default:
		return c, fmt.Errorf("cache.backend %q is not one of auto, memory, redis", c.Backend)
	}
	switch c.Scope {
	case "":
		c.Scope = ScopePrincipal
	case ScopePrincipal, ScopeAccount:
	default:
		return c, fmt.Errorf("cache.scope %q is not one of principal, account", c.Scope)
	}
	if c.MaxBytes < 0 || c.MaxEntryBytes < 0 {
		return c, fmt.Errorf("cache: max_bytes and max_entry_bytes must not be negative")
	}
	for id, th := range c.Semantic.Models {
		if th < 0 || th > 1 {
			return c, fmt.Errorf("cache.semantic.models.%s: threshold %v is not between 0 and 1", id, th)
		}
	}
	switch c.Semantic.Scope {
	case "":
		c.Semantic.Scope = ScopePrincipal
	case ScopePrincipal, ScopeAccount:
	default:
		return c, fmt.Errorf("cache.semantic.scope %q is not one of principal, account", c.Semantic.Scope)
	}
	if c.Semantic.Scope == ScopeAccount && c.Scope != ScopeAccount {
		return c, fmt.Errorf("cache.semantic.scope is account but cache.scope is principal: reworded questions cannot be shared wider than exact repeats")
	}
	switch c.Semantic.Verify {
	case "", "none", "lexical":
	default:
		return c, fmt.Errorf("cache.semantic.verify %q is not one of none, lexical", c.Semantic.Verify)
	}
	if c.Semantic.EmbeddingModel == "" {
		c.Semantic.EmbeddingModel = DefaultEmbeddingModel
	}
	if c.Backend == "redis" && cfg.Redis.URL == "" {
		return c, fmt.Errorf("cache.backend is redis but redis.url is not set")
	}
	return c, nil
}

// Setup builds the cache stage from the configuration. It returns a nil
// stage when the cache is disabled. resolve maps a model identifier to its
// canonical ID and deployment version (Options.Resolve); emb holds the
// embedding models, needed only when a model opts in to the semantic cache.
// The close function releases the Redis client and the semantic index.
func Setup(ctx context.Context, cfg *config.Config, log *slog.Logger, reg prometheus.Registerer, resolve func(string) (string, string, bool), emb *embed.Registry) (*Stage, func() error, error) {
	c, err := ParseConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	closeFn := func() error { return nil }
	if c.Enabled != nil && !*c.Enabled {
		return nil, closeFn, nil
	}
	var b Backend = NewMemory(c.MaxBytes, nil)
	var rc *redis.Client
	if c.Backend == "redis" || (c.Backend == "auto" && cfg.Redis.URL != "") {
		u, err := cfg.Redis.URL.Resolve()
		if err != nil {
			return nil, nil, fmt.Errorf("redis.url: %w", err)
		}
		opt, err := redis.ParseURL(u)
		if err != nil {
			return nil, nil, fmt.Errorf("redis.url: not a valid redis:// URL") // never echo a password
		}
		rc = redis.NewClient(opt)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := rc.Ping(pctx).Err(); err != nil {
			log.Warn("redis not reachable at startup; the response cache misses until it is", "component", "cache", "error", err)
		}
		b = NewRedis(rc, "")
		closeFn = rc.Close
	}
	o := Options{
		Backend:       b,
		Resolve:       resolve,
		Scope:         c.Scope,
		AccountID:     cfg.Server.AccountID,
		TTL:           c.TTL.D(),
		MaxEntryBytes: c.MaxEntryBytes,
		Logger:        log,
		Metrics:       NewMetrics(reg),
	}
	for id, mc := range c.Models {
		if o.ModelTTL == nil {
			o.ModelTTL = map[string]time.Duration{}
		}
		switch {
		case mc.Enabled != nil && !*mc.Enabled:
			o.ModelTTL[id] = -1
		default:
			o.ModelTTL[id] = mc.TTL.D()
		}
	}
	if len(c.Semantic.Models) > 0 {
		so, closeIndex, err := setupSemantic(c.Semantic, rc, emb, log)
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		o.Semantic = so
		closeRedis := closeFn
		closeFn = func() error { return errors.Join(closeIndex(), closeRedis()) }
	}
	return New(o), closeFn, nil
}

// setupSemantic builds the semantic side: the embedding model from emb, and
// the index in Redis when the exact cache is there (rc set), else the
// embedded vector index in memory.
func setupSemantic(sc SemanticConfig, rc *redis.Client, emb *embed.Registry, log *slog.Logger) (*SemanticOptions, func() error, error) {
	if emb == nil {
		return nil, nil, fmt.Errorf("cache.semantic: embedding model %q is not served (no embeddings)", sc.EmbeddingModel)
	}
	e, err := emb.Get(sc.EmbeddingModel)
	if err != nil {
		return nil, nil, fmt.Errorf("cache.semantic: embedding model %q is not served: %w", sc.EmbeddingModel, err)
	}
	so := &SemanticOptions{Embedder: e, Thresholds: map[string]float64{}, Scope: sc.Scope}
	for id, th := range sc.Models {
		if th == 0 {
			th = DefaultThreshold
		}
		so.Thresholds[id] = th
	}
	if sc.Verify == "lexical" {
		so.Verify = Consistent
	}
	if rc != nil {
		so.Index = NewRedisIndex(rc, "", sc.MaxPerNamespace, nil)
		return so, func() error { return nil }, nil
	}
	ix, err := vector.OpenEmbedded(":memory:", log)
	if err != nil {
		return nil, nil, fmt.Errorf("cache.semantic: %w", err)
	}
	so.Index = NewVectorIndex(ix, sc.MaxPerNamespace, nil)
	return so, ix.Close, nil
}
