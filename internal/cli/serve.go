package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/outcrop/outcrop/internal/app"
	"github.com/outcrop/outcrop/internal/config"
)

func init() {
	register("serve", "run the server (Bedrock and OpenAI APIs)", runServe)
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve", "serve [--config FILE] [--addr HOST:PORT]")
	cfgPath := fs.String("config", env.Getenv("OUTCROP_CONFIG"), "configuration file (YAML); default: none, serve the installed default model")
	addr := fs.String("addr", "", "listen address, overriding the config's listen")
	pprofAddr := fs.String("pprof", env.Getenv("OUTCROP_PPROF"), "serve Go's /debug/pprof/ profiles on this separate HOST:PORT (diagnostics; keep it on loopback)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	if *addr != "" {
		if _, _, err := net.SplitHostPort(*addr); err != nil {
			return fmt.Errorf("--addr %q is not host:port: %w", *addr, ErrUsage)
		}
		cfg.Listen = *addr
	}
	log := app.Logger(cfg.Log)
	if *pprofAddr != "" {
		ln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return fmt.Errorf("--pprof: %w", err)
		}
		srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln) // ends when the deferred Close runs
		defer srv.Close()
		log.Info("pprof listening", "addr", ln.Addr().String())
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(ctx, nil)
}

// pprofMux serves the runtime profiles on a mux of their own, so that they are
// never reachable through the API listener.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
