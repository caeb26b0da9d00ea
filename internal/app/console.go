package app

import (
	"context"
	"os"
	"path/filepath"

	"github.com/outcrop/outcrop/internal/console"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/modelstore"
	"github.com/outcrop/outcrop/internal/store"
)

// recorders hands every finished request to each recorder in turn: the
// Prometheus histograms and the console's request recorder.
type recorders []gateway.Recorder

// Record implements gateway.Recorder.
func (rs recorders) Record(r gateway.Record) {
	for _, x := range rs {
		x.Record(r)
	}
}

// buildRecorder returns the console's request recorder (nil when
// console.request_recorder is false) and the gateway's recorder: the
// Prometheus histograms, and the console's recorder beside them.
func (a *App) buildRecorder(db *store.DB) (*console.Calls, gateway.Recorder, error) {
	cc, err := console.ParseConfig(a.cfg)
	if err != nil {
		return nil, nil, err
	}
	if !cc.Recording() {
		return nil, a.metrics, nil
	}
	calls := console.NewCalls(db, a.log, cc.RecorderRetention.D())
	a.onClose(calls.Close)
	return calls, recorders{a.metrics, calls}, nil
}

// buildConsole returns the web console's handler (/console/) and its admin
// API (/admin/v1/), on the sessions the authenticator accepts.
func (a *App) buildConsole(db *store.DB, sec *security, calls *console.Calls) (*console.Console, *console.Admin, error) {
	models, err := modelstore.Open(a.cfg.Home)
	if err != nil {
		return nil, nil, err
	}
	c := console.New(console.Options{Logger: a.log, Auth: sec.auth, Sessions: sec.sessions})
	adm := &console.Admin{
		Auth: sec.auth, Sessions: sec.sessions, DB: db, Calls: calls, Router: a.router, Models: models,
		AccountID: a.cfg.Server.AccountID, Logger: a.log, BenchDir: filepath.Join(a.cfg.Home, "bench"),
		Pull: func(ctx context.Context, ref string, o modelstore.PullOptions) (modelstore.Model, error) {
			client, err := a.httpClient(httpOptions{}) // under the egress allow-list
			if err != nil {
				return modelstore.Model{}, err
			}
			o.Client, o.Endpoint = client, os.Getenv("OUTCROP_HF_ENDPOINT")
			return models.Pull(ctx, ref, o)
		},
	}
	return c, adm, nil
}
