// Package app builds an Outcrop server from its configuration: it creates
// each subsystem in dependency order, registers a closer for each as it goes,
// and runs the closers in reverse on shutdown. Only cmd/outcrop (through
// internal/cli) imports it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/cache"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/guardrail"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/telemetry"
)

// App is a built server.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	router  *routing.Router
	gateway *gateway.Gateway
	metrics *telemetry.Metrics
	// agentRuntime runs agents, also for flow Agent nodes (flowAgents);
	// set by buildAgents before the server starts.
	agentRuntime *agent.Service
	handler      http.Handler

	// mu guards closers and closed.
	mu      sync.Mutex
	closers []func() error
	closed  bool

	// jobHandlers are added to the job queue's handlers by buildFlows,
	// which creates the queue and keeps it in jobQueue.
	jobHandlers map[string]jobs.Handler
	jobQueue    jobs.Queue
}

// New builds the server described by cfg. On error, everything built so far
// is closed.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	a := &App{cfg: cfg, log: log}
	if err := a.build(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// build creates the subsystems, registering a closer for each.
func (a *App) build(ctx context.Context) error {
	cfg, log := a.cfg, a.log
	a.metrics = telemetry.New()
	if _, err := a.egressPolicy(); err != nil { // a bad allow-list stops startup
		return err
	}

	// The store comes first: security and guardrails keep their state in it.
	sopts, err := store.OptionsFrom(cfg, log)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, sopts)
	if err != nil {
		return err
	}
	a.onClose(db.Close)

	models, err := a.buildModels(ctx)
	if err != nil {
		return err
	}
	var rc routing.Config
	if err := config.Decode(cfg.Routing, &rc); err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	if err := rc.Validate(); err != nil {
		return fmt.Errorf("routing: %w", err)
	}
	a.router = routing.New(models, routing.WithConfig(rc), routing.WithLogger(log.With("component", "routing")))

	// srv is created last, but authentication failures are written in its
	// error shapes; the indirection lets the authenticator be built first.
	// Quota and limit keys name models by their canonical ID, as calls do.
	var srv *httpapi.Server
	sec, err := a.buildSecurity(ctx, db,
		func(w http.ResponseWriter, r *http.Request, err error) { srv.WriteError(w, r, err) },
		a.canonicalModel)
	if err != nil {
		return err
	}

	// Guardrails may call models (entity detection, Llama Guard) straight
	// through the router, below the pipeline, so they are not guarded or
	// counted against the caller's quota twice.
	guard, err := guardrail.New(ctx, cfg, guardrail.SubsystemOptions{DB: db, Metrics: a.metrics.Registry(), Models: a.router.Route,
		Upstream: a.upstreamGuardrails()})
	if err != nil {
		return err
	}

	routers, err := a.buildPromptRouters(db, log)
	if err != nil {
		return err
	}
	// Embeddings come before the cache: its semantic side embeds questions.
	embeddings, err := a.buildEmbeddings(ctx)
	if err != nil {
		return err
	}
	// The response cache answers after the input guardrail, so the
	// guardrail's output side also sees answers served from the cache.
	cacheStage, err := a.buildCache(ctx, log, embeddings)
	if err != nil {
		return err
	}
	// The console's request recorder keeps each call's measurements for
	// the dashboards and the request log (nil when turned off).
	calls, recorder, err := a.buildRecorder(db)
	if err != nil {
		return err
	}
	a.gateway = gateway.New(gateway.Options{
		Logger:   log.With("component", "gateway"),
		Stages:   pipeline(sec, guard.Stage, cacheStage),
		Final:    a.router.Route,
		Recorder: recorder,
		// Calls built inside Outcrop (agents, flows, knowledge bases) name
		// their model as the user wrote it; Do resolves it as the edge does.
		Models:   a.router,
		Resource: func(id string) string { return httpapi.ModelARN(cfg.Server.Region, id) },
	})
	apps, err := a.buildAgents(db)
	if err != nil {
		return err
	}
	// Knowledge bases register their ingestion handler on the job queue
	// that buildFlows creates (one queue per database: a queue claims jobs
	// of every kind).
	kbs, err := a.buildKnowledgeBases(ctx, db, embeddings)
	if err != nil {
		return err
	}
	evals, err := a.buildEvaluationJobs(db, sec)
	if err != nil {
		return err
	}
	flows, err := a.buildFlows(ctx, db, sopts, sec, models, apps, kbs.Service)
	if err != nil {
		return err
	}
	kbs.Service.Queue = a.jobQueue
	evals.Queue = a.jobQueue
	kbs.Service.Models = a.gateway
	consoleUI, consoleAdmin, err := a.buildConsole(db, sec, calls)
	if err != nil {
		return err
	}
	// Embedding calls have a pipeline of their own (the stages that apply
	// to them, then the embedding model), measured like model calls.
	embedGateway := gateway.New(gateway.Options{
		Logger:   log.With("component", "gateway"),
		Stages:   embeddingPipeline(sec),
		Final:    embed.Final,
		Recorder: recorders{a.metrics, calls},
	})
	srv = httpapi.New(httpapi.Deps{
		Embeddings:       embeddings,
		EmbeddingGateway: embedGateway,
		Logger:           log,
		Gateway:          a.gateway,
		Router:           a.router,
		Metrics:          a.metrics.Handler(),
		MaxBodyBytes:     cfg.Server.MaxBodyBytes,
		Region:           cfg.Server.Region,
		AccountID:        cfg.Server.AccountID,
		Middleware: append(sec.middleware(), cache.Middleware,
			httpapi.PromptRouting(routers, cfg.Server.MaxBodyBytes, func(w http.ResponseWriter, r *http.Request, err error) { srv.WriteError(w, r, err) })),
		Authorize: func(ctx context.Context, action, resource string) error {
			return auth.Check(ctx, action, resource, nil)
		},
		Groups: append([]httpapi.RouteGroup{
			&httpapi.Guardrails{Registry: guard.Registry, Engine: guard.Engine, Recorder: guard.Metrics},
			adminRoutes{router: a.router},
			flows,
			httpapi.PromptRouters{Service: routers},
			kbs,
			&httpapi.VectorStores{Service: kbs.Service},
			consoleAdmin,
			&httpapi.EvaluationJobs{Service: evals},
		}, apps.groups...),
		Console: consoleUI,
		Prompts: apps.prompts,
	})
	a.handler = srv.Handler()
	return nil
}

// canonicalModel returns the ID of the served model name refers to (an ID,
// alias, ARN or inference-profile ID), as the API edge resolves requests.
func (a *App) canonicalModel(name string) (string, bool) {
	m, ok := a.router.Lookup(name)
	if !ok {
		return "", false
	}
	return m.ID, true
}

// Handler returns the HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Router returns the router.
func (a *App) Router() *routing.Router { return a.router }

// onClose registers f to run when the app closes, before the closers
// registered earlier.
func (a *App) onClose(f func() error) {
	a.mu.Lock()
	a.closers = append(a.closers, f)
	a.mu.Unlock()
}

// Close releases every subsystem in reverse order of creation. It is safe to
// call more than once.
func (a *App) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	cs := a.closers
	a.closers = nil
	a.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// buildModels creates the providers of every configured model. A deployment
// whose provider cannot be created (a missing model file, a bad option) is
// logged and skipped so that the server still starts with the others; a
// model left with no deployment is dropped.
func (a *App) buildModels(ctx context.Context) ([]*routing.Model, error) {
	cfgModels := a.cfg.Models
	if len(cfgModels) == 0 {
		m, ok := a.defaultModel()
		if !ok {
			a.log.Warn("no models configured and no default model installed; run `make model` (or `outcrop models pull …`) and restart",
				"component", "app", "home", a.cfg.Home)
			return nil, nil
		}
		cfgModels = []config.Model{m}
	}
	var out []*routing.Model
	for _, cm := range cfgModels {
		m := &routing.Model{ID: cm.ID, Aliases: cm.Aliases, Description: cm.Description, Fallbacks: cm.Fallbacks, Created: time.Now()}
		for _, p := range cm.Profiles {
			m.Profiles = append(m.Profiles, llm.Latency(p))
		}
		for _, cd := range cm.Deployments {
			p, err := a.newProvider(ctx, cd)
			if err != nil {
				a.log.Error("deployment not started", "component", "app", "model", cm.ID, "deployment", cd.Name, "provider", cd.Provider, "error", err)
				continue
			}
			d := &routing.Deployment{
				Name:              cd.Name,
				Provider:          p,
				Type:              cd.Provider,
				Weight:            *cd.Weight,
				Timeout:           cd.Timeout.D(),
				TTFTTimeout:       cd.TTFTTimeout.D(),
				StallTimeout:      cd.StallTimeout.D(),
				MaxConcurrency:    cd.MaxConcurrency,
				MaxRPS:            cd.MaxRPS,
				ReservedOptimized: cd.ReservedOptimized,
			}
			for _, p := range cd.Profiles {
				d.Profiles = append(d.Profiles, llm.Latency(p))
			}
			m.Deployments = append(m.Deployments, d)
		}
		if len(m.Deployments) == 0 {
			a.log.Error("model has no working deployment; not served", "component", "app", "model", cm.ID)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// Serve listens on cfg.Listen (or ln when given) and serves until ctx is
// cancelled, then drains: new connections are refused, in-flight requests
// and streams get ShutdownGrace to finish, and whatever is left is cut.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", a.cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	// baseCtx is the parent of every request context; cancelling it after
	// the grace period ends streams that are still running.
	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true) // the AWS JS SDK v3 speaks h2c by default
	s := a.cfg.Server
	hs := &http.Server{
		Handler:           a.handler,
		Protocols:         &protos,
		ReadHeaderTimeout: s.ReadHeaderTimeout.D(),
		IdleTimeout:       s.IdleTimeout.D(),
		WriteTimeout:      s.WriteTimeout.D(),
		ErrorLog:          slog.NewLogLogger(a.log.With("component", "http").Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
	}
	a.log.Info("listening", "component", "app", "addr", ln.Addr().String(), "models", len(a.router.Models()))
	errc := make(chan error, 1)
	go func() { // ends when hs.Serve returns after Shutdown or Close
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "component", "app", "grace", s.ShutdownGrace.D().String())
	sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownGrace.D())
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		a.log.Warn("grace period over; cutting remaining streams", "component", "app")
		cancelBase()
		hs.Close()
		err = nil
	}
	<-errc
	return err
}

// Logger builds the process logger from cfg.
func Logger(cfg config.Log) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// adminRoutes mounts operator endpoints behind authentication and policy.
type adminRoutes struct{ router *routing.Router }

// Routes implements httpapi.RouteGroup.
func (g adminRoutes) Routes(mux *http.ServeMux, a *httpapi.Adapter) {
	stats := g.router.StatsHandler()
	mux.Handle("GET /admin/routing", a.Bedrock(func(w http.ResponseWriter, r *http.Request) error {
		if err := a.Authorize(r, "outcrop:GetRoutingStats", "*"); err != nil {
			return err
		}
		stats.ServeHTTP(w, r)
		return nil
	}))
}
