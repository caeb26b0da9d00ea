package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"

	"gopkg.in/yaml.v3"

	"github.com/outcrop/outcrop/internal/cache"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/routing"
)

// buildCache builds the response-cache stage (nil when the cache is
// switched off). Its resolver gives each model the canonical ID the router
// knows and a version that changes whenever the model's deployments are
// reconfigured, so an answer is never served for another upstream.
func (a *App) buildCache(ctx context.Context, log *slog.Logger, emb *embed.Registry) (gateway.Stage, error) {
	versions := map[string]string{}
	for _, m := range a.cfg.Models {
		versions[m.ID] = deploymentsVersion(m)
	}
	router := a.router
	resolve := func(id string) (string, string, bool) {
		m, ok := router.Lookup(id)
		if !ok {
			return "", "", false
		}
		v, ok := versions[m.ID]
		if !ok {
			v = modelVersion(m)
		}
		return m.ID, v, true
	}
	st, closeFn, err := cache.Setup(ctx, a.cfg, log, a.metrics.Registry(), resolve, emb)
	if err != nil {
		return nil, err
	}
	a.onClose(closeFn)
	if st == nil {
		return nil, nil
	}
	return st, nil
}

// deploymentsVersion fingerprints what a configured model's answers depend
// on: each deployment's provider, upstream URL, upstream model and options.
func deploymentsVersion(m config.Model) string {
	h := sha256.New()
	for _, d := range m.Deployments {
		opts, _ := yaml.Marshal(&d.Options)
		for _, s := range []string{d.Name, d.Provider, d.BaseURL, d.Model, string(opts)} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// modelVersion fingerprints a model that is not in the configuration (the
// installed default model) by its deployments' names and types.
func modelVersion(m *routing.Model) string {
	h := sha256.New()
	for _, d := range m.Deployments {
		h.Write([]byte(d.Name + "\x00" + d.Type + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
