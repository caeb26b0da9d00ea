package cli

import (
	"context"
	"fmt"
	"net"

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
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(ctx, nil)
}
