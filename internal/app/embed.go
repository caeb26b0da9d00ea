package app

import (
	"context"
	"fmt"
	"time"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/embed/llamaembed"
)

// DefaultEmbeddingModelID is the embedding model served when none is
// configured and `make model` installed it.
const DefaultEmbeddingModelID = "all-minilm-l6-v2"

// embeddingsConfig is the `embeddings` section (docs/KNOWLEDGE_BASES.md).
type embeddingsConfig struct {
	// Models are the embedding models. With none, the installed
	// all-minilm-l6-v2 is served by the built-in engine, also under the
	// alias amazon.titan-embed-text-v2:0.
	Models []embeddingModelConfig `yaml:"models"`
}

type embeddingModelConfig struct {
	// ID is the model id clients send.
	ID string `yaml:"id"`
	// Aliases are other names for it.
	Aliases []string `yaml:"aliases"`
	// Provider is local (the built-in engine) or openai.
	Provider string `yaml:"provider"`
	// Model is, for local, a model-store id or a .gguf path; for openai the
	// upstream model name.
	Model string `yaml:"model"`
	// BaseURL is the openai upstream's API root (…/v1).
	BaseURL string `yaml:"base_url"`
	// APIKey authenticates to the openai upstream (a secret reference).
	APIKey config.Secret `yaml:"api_key"`
	// Dimensions of the openai upstream's vectors; asked once when 0.
	Dimensions int `yaml:"dimensions"`
	// Normalize L2-normalizes the openai upstream's vectors.
	Normalize bool `yaml:"normalize"`
	// Threads, BatchTokens and MaxSequences tune the local engine
	// (llamaembed.Config).
	Threads      int `yaml:"threads"`
	BatchTokens  int `yaml:"batch_tokens"`
	MaxSequences int `yaml:"max_sequences"`
}

// buildEmbeddings creates the embedding registry. A model that cannot be
// started is logged and skipped, as chat deployments are.
func (a *App) buildEmbeddings(ctx context.Context) (*embed.Registry, error) {
	var ec embeddingsConfig
	if err := config.Decode(a.cfg.Embeddings, &ec); err != nil {
		return nil, fmt.Errorf("embeddings: %w", err)
	}
	if len(ec.Models) == 0 {
		if _, err := a.storeModelPath(DefaultEmbeddingModelID); err == nil {
			ec.Models = []embeddingModelConfig{{ID: DefaultEmbeddingModelID, Aliases: []string{"amazon.titan-embed-text-v2:0"}, Provider: "local", Model: DefaultEmbeddingModelID}}
		}
	}
	reg, _ := embed.NewRegistry()
	for _, mc := range ec.Models {
		e, err := a.newEmbedder(ctx, mc)
		if err != nil {
			a.log.Error("embedding model not started", "component", "app", "model", mc.ID, "provider", mc.Provider, "error", err)
			continue
		}
		if err := reg.Add(&embed.Model{ID: mc.ID, Aliases: mc.Aliases, Embedder: e}); err != nil {
			return nil, fmt.Errorf("embeddings: %w", err)
		}
	}
	return reg, nil
}

func (a *App) newEmbedder(ctx context.Context, mc embeddingModelConfig) (embed.Embedder, error) {
	if mc.ID == "" {
		return nil, fmt.Errorf("id: required")
	}
	switch mc.Provider {
	case "local", "":
		path, err := a.modelPath(mc.Model)
		if err != nil {
			return nil, err
		}
		e, err := llamaembed.New(llamaembed.Config{Path: path, Threads: mc.Threads, BatchTokens: mc.BatchTokens, MaxSequences: mc.MaxSequences}, a.log)
		if err != nil {
			return nil, err
		}
		a.onClose(e.Close)
		return e, nil
	case "openai":
		if mc.BaseURL == "" || mc.Model == "" {
			return nil, fmt.Errorf("base_url and model: required for provider openai")
		}
		key, err := mc.APIKey.Resolve()
		if err != nil {
			return nil, fmt.Errorf("api_key: %w", err)
		}
		o := &embed.OpenAI{BaseURL: mc.BaseURL, Model: mc.Model, APIKey: key, Normalize: mc.Normalize, Dims: mc.Dimensions}
		if o.Dims == 0 {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			n, err := o.Probe(pctx)
			if err != nil {
				return nil, fmt.Errorf("probe %s: %w", mc.BaseURL, err)
			}
			o.Dims = n
		}
		return o, nil
	}
	return nil, fmt.Errorf("unknown provider %q (known: local, openai)", mc.Provider)
}
