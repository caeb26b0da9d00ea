package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

func init() {
	register("health", "probe a server's /healthz (exit 0 when healthy; the container image's health check)", runHealth)
}

// runHealth asks a running server whether it is healthy. It exists so that
// an image without a shell or curl can still declare a health check.
func runHealth(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "health", "health [--url URL] [--timeout D]")
	url := fs.String("url", "http://127.0.0.1:8080/healthz", "health endpoint to probe")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if _, err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("health: %v: %w", err, ErrUsage)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s: %s", resp.Status, body)
	}
	fmt.Fprintf(env.Stdout, "%s\n", body)
	return nil
}
