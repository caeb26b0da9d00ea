package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/outcrop/outcrop/internal/app"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/eval"
	"github.com/outcrop/outcrop/internal/eval/llamalp"
)

func init() {
	register("eval", "evaluate models with FMEval's algorithms and log to MLflow (CONFIG)", runEval)
}

const evalSynopsis = `eval [--config outcrop.yaml] [--out DIR] CONFIG
       outcrop eval --relog DIR CONFIG   (log a finished run's results to MLflow)`

// evalFile is the eval config file: eval.Config plus the Outcrop config
// that serves "outcrop" models in process.
type evalFile struct {
	eval.Config `yaml:",inline"`
	// OutcropConfig is the outcrop.yaml whose models "outcrop" entries
	// without an endpoint use; they are served in this process on a
	// loopback port and called through the whole request pipeline.
	OutcropConfig string `yaml:"outcrop_config"`
}

func runEval(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "eval", evalSynopsis)
	outcropCfg := fs.String("config", "", "outcrop.yaml serving the \"outcrop\" models in process (overrides outcrop_config)")
	out := fs.String("out", "", "output directory (overrides output_dir)")
	relog := fs.String("relog", "", "log the results saved in `DIR` to the config's MLflow experiment, invoking no model")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("eval needs exactly one CONFIG file: %w", ErrUsage)
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	var f evalFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	base := filepath.Dir(pos[0])
	for i := range f.Datasets {
		if u := f.Datasets[i].URI; u != "" && !filepath.IsAbs(u) {
			f.Datasets[i].URI = filepath.Join(base, u)
		}
	}
	if *out != "" {
		f.OutputDir = *out
	}
	if *outcropCfg != "" {
		f.OutcropConfig = *outcropCfg
	} else if f.OutcropConfig != "" && !filepath.IsAbs(f.OutcropConfig) {
		f.OutcropConfig = filepath.Join(base, f.OutcropConfig)
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := eval.RunOptions{Getenv: env.Getenv, Logger: log, Progress: env.Stderr}
	var scorers []*llamalp.Scorer
	defer func() {
		for _, s := range scorers {
			s.Close()
		}
	}()
	opts.NewRunner = func(_ context.Context, m eval.ModelConfig) (eval.ModelRunner, error) {
		p := m.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(pos[0]), p)
		}
		s, err := llamalp.Open(p, 0)
		if err != nil {
			return nil, err
		}
		scorers = append(scorers, s)
		return &llamalp.Runner{Scorer: s}, nil
	}
	if *relog != "" {
		runs, err := eval.Relog(ctx, *relog, f.MLflow, opts)
		printRuns(env, f.MLflow, runs)
		return err
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	needServer := false
	for _, m := range f.Models {
		needServer = needServer || (m.Type == "outcrop" && m.Endpoint == "")
	}
	if needServer {
		url, stop, err := serveInProcess(ctx, env, f.OutcropConfig)
		if err != nil {
			return err
		}
		defer stop()
		opts.OutcropURL = url
	}
	rep, err := eval.Run(ctx, &f.Config, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "results in %s (summary.md, per-record JSONL, radar charts)\n", rep.OutputDir)
	printRuns(env, f.MLflow, rep.MLflowRuns)
	if rep.MLflowError != nil {
		fmt.Fprintf(env.Stderr, "MLflow logging failed: %v\nThe results are kept in %s; log them later with:\n  outcrop eval --relog %s %s\n",
			rep.MLflowError, rep.OutputDir, rep.OutputDir, pos[0])
		return fmt.Errorf("mlflow: %w", rep.MLflowError)
	}
	return nil
}

func printRuns(env *Env, mc *eval.MLflowConfig, runs map[string]*eval.ModelRun) {
	names := make([]string, 0, len(runs))
	for n := range runs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := runs[n]
		fmt.Fprintf(env.Stdout, "mlflow: %s → %s/#/experiments/%s/runs/%s\n", n, mc.TrackingURI, r.ExperimentID, r.RunID)
	}
}

// serveInProcess starts Outcrop from the config at path (defaults when
// empty) on a loopback port and returns its URL and a stop function.
func serveInProcess(ctx context.Context, env *Env, path string) (string, func(), error) {
	cfg, err := loadConfig(env, path)
	if err != nil {
		return "", nil, err
	}
	if path == "" && cfg.Home == "" {
		cfg.Home = config.Default().Home
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Close()
		return "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ln) }() // ends when stop cancels sctx
	stop := func() {
		cancel()
		<-done
		a.Close()
	}
	return "http://" + ln.Addr().String(), stop, nil
}
