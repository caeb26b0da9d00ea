package app

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/local"
)

// DefaultModelID is the model served when no models are configured.
const DefaultModelID = "smollm2-135m-instruct"

// localOptions are the `options` of a local deployment (docs/ENGINE.md).
type localOptions struct {
	Slots              int             `yaml:"slots"`
	ContextSize        int             `yaml:"context_size"`
	Threads            int             `yaml:"threads"`
	BatchSize          int             `yaml:"batch_size"`
	PrefixCacheTokens  int             `yaml:"prefix_cache_tokens"`
	PrefixCacheEntries int             `yaml:"prefix_cache_entries"`
	QueueSize          int             `yaml:"queue_size"`
	StarvationLimit    int             `yaml:"starvation_limit"`
	MaxStandardWait    config.Duration `yaml:"max_standard_wait"`
	DefaultMaxTokens   int             `yaml:"default_max_tokens"`
	FlashAttention     *bool           `yaml:"flash_attention"`
	HugePages          *bool           `yaml:"huge_pages"`
}

// newLocal starts a built-in engine for d. d.Model is a model id from the
// model store or a path to a .gguf file.
func (a *App) newLocal(ctx context.Context, d config.Deployment) (llm.Provider, error) {
	var o localOptions
	if err := config.Decode(d.Options, &o); err != nil {
		return nil, fmt.Errorf("options: %w", err)
	}
	path, err := a.modelPath(d.Model)
	if err != nil {
		return nil, err
	}
	e, err := local.New(ctx, local.Config{
		Path:               path,
		Name:               d.Model,
		Slots:              o.Slots,
		ContextSize:        o.ContextSize,
		Threads:            o.Threads,
		BatchSize:          o.BatchSize,
		PrefixCacheTokens:  o.PrefixCacheTokens,
		PrefixCacheEntries: o.PrefixCacheEntries,
		QueueSize:          o.QueueSize,
		StarvationLimit:    o.StarvationLimit,
		MaxStandardWait:    time.Duration(o.MaxStandardWait),
		DefaultMaxTokens:   o.DefaultMaxTokens,
		NoFlashAttention:   o.FlashAttention != nil && !*o.FlashAttention,
		NoHugePages:        o.HugePages != nil && !*o.HugePages,
	}, a.log.With("deployment", d.Name)) // the engine adds component=local
	if err != nil {
		return nil, err
	}
	a.onClose(e.Close)
	return e, nil
}

// modelPath resolves a local deployment's model: a .gguf path, or an id in
// the model store.
func (a *App) modelPath(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("model: required for provider local (a model id or a .gguf path)")
	}
	if strings.HasSuffix(name, ".gguf") || strings.ContainsRune(name, os.PathSeparator) {
		return name, nil
	}
	return a.storeModelPath(name)
}

// defaultModel returns the zero-config model: the default model installed in
// the model store, served by the built-in engine with both profiles.
func (a *App) defaultModel() (config.Model, bool) {
	if _, err := a.storeModelPath(DefaultModelID); err != nil {
		return config.Model{}, false
	}
	one := 1
	return config.Model{
		ID:          DefaultModelID,
		Description: "SmolLM2-135M-Instruct on the built-in llama.cpp engine",
		Profiles:    []string{"standard", "optimized"},
		Deployments: []config.Deployment{{
			Name:     "local-0",
			Provider: "local",
			Model:    DefaultModelID,
			Weight:   &one,
			Timeout:  config.Duration(10 * time.Minute),
		}},
	}, true
}
