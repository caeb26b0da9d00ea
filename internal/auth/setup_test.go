package auth_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/store"
)

// TestSetup builds the security subsystems from configuration files the
// way internal/app does.
func TestSetup(t *testing.T) {
	ctx := context.Background()
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	parse := func(y string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(y))
		if err != nil {
			t.Fatalf("config: %v", err)
		}
		cfg.Home = t.TempDir()
		return cfg
	}
	open := func(cfg *config.Config) *store.DB {
		so, err := store.OptionsFrom(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		db, err := store.Open(ctx, so)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}

	// No principals on a public address: refuse to start.
	cfg := parse("listen: 0.0.0.0:8080\n")
	if _, err := auth.Setup(ctx, cfg, open(cfg), log, auth.Options{}); err == nil {
		t.Errorf("open server on 0.0.0.0 started without permission")
	}

	// Allowed explicitly: starts open and says so loudly.
	cfg = parse("listen: 0.0.0.0:8080\nauth:\n  allow_open_non_loopback: true\n  clock_skew: 2m\n")
	a, err := auth.Setup(ctx, cfg, open(cfg), log, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if !strings.Contains(logs.String(), "AUTHENTICATION IS OFF") {
		t.Errorf("no loud warning in the log: %s", logs.String())
	}

	// Unknown keys and bad values are configuration errors.
	for _, bad := range []string{
		"auth:\n  open: sometimes\n",
		"auth:\n  colck_skew: 5m\n",
		"auth:\n  encryption_key: not-32-bytes\n",
	} {
		cfg = parse(bad)
		if _, err := auth.Setup(ctx, cfg, open(cfg), log, auth.Options{}); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}

}
