package app

import (
	"context"
	"fmt"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/llm"
)

// newProvider creates the provider of one deployment.
func (a *App) newProvider(ctx context.Context, d config.Deployment) (llm.Provider, error) {
	switch d.Provider {
	}
	return nil, fmt.Errorf("unknown provider %q", d.Provider)
}

// defaultModel returns the zero-config model: the default model installed in
// the model store, served by the built-in engine.
func (a *App) defaultModel() (config.Model, bool) {
	return config.Model{}, false
}
