package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/config"
	fmeval "github.com/outcrop/outcrop/internal/eval"
	"github.com/outcrop/outcrop/internal/eval/evaljob"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
)

// evaluationsConfig is the evaluations section (docs/EVALUATIONS.md,
// "Evaluation jobs").
type evaluationsConfig struct {
	// S3Root is the folder s3:// URIs of evaluation jobs map into:
	// <s3_root>/<account>/<bucket>/<key>. Default $OUTCROP_HOME/s3.
	S3Root string `yaml:"s3_root"`
	// WordNet is the WordNet 3.0 dict folder for METEOR (default
	// $OUTCROP_WORDNET, then ~/.cache/outcrop/wordnet/dict).
	WordNet string `yaml:"wordnet"`
	// Concurrency is the number of records in flight per job (default 4).
	Concurrency int `yaml:"concurrency"`
	// MLflow, when set, receives every finished job's runs.
	MLflow *struct {
		TrackingURI string `yaml:"tracking_uri"`
		Experiment  string `yaml:"experiment"`
		// Layout is simple or nested (default nested).
		Layout string `yaml:"layout"`
	} `yaml:"mlflow"`
}

// buildEvaluationJobs builds the evaluation-job service and registers its
// handler for the job queue buildFlows creates; the caller sets its Queue.
func (a *App) buildEvaluationJobs(db *store.DB, sec *security) (*evaljob.Service, error) {
	var ec evaluationsConfig
	if err := config.Decode(a.cfg.Evaluations, &ec); err != nil {
		return nil, fmt.Errorf("evaluations: %w", err)
	}
	svc := &evaljob.Service{
		Store:       resource.NewStore(db, resource.ScopeFrom(a.cfg), nil),
		Models:      a.gateway,
		Lookup:      a.canonicalModel,
		S3Root:      ec.S3Root,
		WordNet:     ec.WordNet,
		Concurrency: ec.Concurrency,
		Log:         a.log.With("component", "evaljob"),
		RecoverContext: func(ctx context.Context, principal string) (context.Context, error) {
			p, err := sec.auth.Named(ctx, principal)
			if err != nil {
				return nil, err
			}
			return auth.WithPrincipal(ctx, p), nil
		},
	}
	if svc.S3Root == "" {
		svc.S3Root = filepath.Join(a.cfg.Home, "s3")
	}
	if m := ec.MLflow; m != nil {
		svc.MLflow = &fmeval.MLflowConfig{TrackingURI: m.TrackingURI, Experiment: m.Experiment, Layout: m.Layout}
		if svc.MLflow.Layout == "" {
			svc.MLflow.Layout = "nested"
		}
		if m.TrackingURI == "" || m.Experiment == "" {
			return nil, fmt.Errorf("evaluations.mlflow: tracking_uri and experiment are required")
		}
	}
	a.addJobHandler(evaljob.JobKind, svc.RunJob)
	return svc, nil
}
