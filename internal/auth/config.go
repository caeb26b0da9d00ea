package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/store"
)

// Config is the auth section of the configuration file:
//
//	auth:
//	  open: auto                  # auto | never
//	  allow_open_non_loopback: false
//	  encryption_key: env:OUTCROP_AUTH_KEY
//	  clock_skew: 5m
//	  regions: [us-east-1]
//	  deny_unsigned_payload: false
//	  refresh_interval: 1s
type Config struct {
	// Open is "auto" (default): with no principals in the store the
	// server runs open (development mode) on a loopback listener; or
	// "never": authentication is always required.
	Open string `yaml:"open"`
	// AllowOpenNonLoopback lets a server with no principals run open on a
	// non-loopback address. Default false: such a server refuses to start.
	AllowOpenNonLoopback bool `yaml:"allow_open_non_loopback"`
	// EncryptionKey seals access-key secrets at rest: a secret reference
	// (env:NAME, file:/path or literal) to 32 bytes in base64 or hex.
	// Default: the file <home>/auth.key, created on first use. Replicas
	// sharing one PostgreSQL store must share the key.
	EncryptionKey config.Secret `yaml:"encryption_key"`
	// ClockSkew is how far a SigV4 request's X-Amz-Date may be from the
	// server's clock. Default 5m.
	ClockSkew config.Duration `yaml:"clock_skew"`
	// Regions are the SigV4 regions accepted; empty accepts any.
	Regions []string `yaml:"regions"`
	// DenyUnsignedPayload refuses SigV4 requests that send
	// x-amz-content-sha256: UNSIGNED-PAYLOAD. Default false.
	DenyUnsignedPayload bool `yaml:"deny_unsigned_payload"`
	// RefreshInterval is how often each server checks the store for
	// credential and policy changes (revocations take effect within it).
	// Default 1s.
	RefreshInterval config.Duration `yaml:"refresh_interval"`
}

// ParseConfig decodes the auth section strictly and validates it.
func ParseConfig(cfg *config.Config) (Config, error) {
	var c Config
	if err := config.Decode(cfg.Auth, &c); err != nil {
		return c, fmt.Errorf("auth: %w", err)
	}
	switch c.Open {
	case "":
		c.Open = "auto"
	case "auto", "never":
	default:
		return c, fmt.Errorf("auth.open: %q is not auto or never", c.Open)
	}
	return c, nil
}

// EncryptionKeyFor returns the key sealing access-key secrets: the
// configured one, or <home>/auth.key (created if missing).
func EncryptionKeyFor(c Config, home string) ([]byte, error) {
	if c.EncryptionKey != "" {
		v, err := c.EncryptionKey.Resolve()
		if err != nil {
			return nil, fmt.Errorf("auth.encryption_key: %w", err)
		}
		k, err := ParseEncryptionKey(v)
		if err != nil {
			return nil, fmt.Errorf("auth.encryption_key: %w", err)
		}
		return k, nil
	}
	return LoadKeyFile(filepath.Join(home, "auth.key"))
}

// OpenStore returns the auth Store of an open database, using the
// configured encryption key. The CLI and the server both use it.
func OpenStore(cfg *config.Config, db *store.DB) (*Store, Config, error) {
	c, err := ParseConfig(cfg)
	if err != nil {
		return nil, c, err
	}
	key, err := EncryptionKeyFor(c, cfg.Home)
	if err != nil {
		return nil, c, err
	}
	st, err := NewStore(db, key)
	return st, c, err
}

// IsLoopback reports whether a listen address (host:port) only accepts
// connections from this machine.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		host = listen
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// OpenDecision decides whether a server may run open (development mode):
// only when no principal exists, open is "auto", and the listener is on
// loopback or non-loopback open access is explicitly allowed. With no
// principals on a non-loopback address and no such permission it returns
// an error and the server must not start.
func OpenDecision(c Config, listen string, principals int) (open bool, err error) {
	if principals > 0 || c.Open == "never" {
		return false, nil
	}
	if IsLoopback(listen) || c.AllowOpenNonLoopback {
		return true, nil
	}
	return false, fmt.Errorf("refusing to serve %s without authentication: no principals exist; "+
		"create one (outcrop auth add-principal NAME; outcrop auth create-access-key NAME), "+
		"listen on a loopback address, or set auth.allow_open_non_loopback: true", listen)
}

// Setup builds the server's Authenticator from the configuration: it opens
// the auth store on db, counts principals, applies OpenDecision (logging
// loudly when the server runs open) and returns the authenticator, which
// the caller closes. opts supplies the HTTP-side hooks (WriteError,
// OnResult); the fields derived from the configuration are overwritten.
func Setup(ctx context.Context, cfg *config.Config, db *store.DB, log *slog.Logger, opts Options) (*Authenticator, error) {
	st, c, err := OpenStore(cfg, db)
	if err != nil {
		return nil, err
	}
	if db.Dialect == store.Postgres && c.EncryptionKey == "" {
		log.Warn("auth.encryption_key is not set: access-key secrets are sealed with "+cfg.Home+"/auth.key; "+
			"every replica and CLI sharing this PostgreSQL store needs the same key", "component", "auth")
	}
	n, err := st.CountPrincipals(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: count principals: %w", err)
	}
	open, err := OpenDecision(c, cfg.Listen, n)
	if err != nil {
		return nil, err
	}
	if open {
		log.Warn("!!! AUTHENTICATION IS OFF: no principals exist, so every request is served as 'anonymous' with full access. "+
			"Create a principal (outcrop auth add-principal NAME) to turn authentication on.",
			"component", "auth", "listen", cfg.Listen, "loopback", IsLoopback(cfg.Listen))
	}
	opts.Logger = log
	opts.AccountID = cfg.Server.AccountID
	opts.Regions = c.Regions
	opts.ClockSkew = c.ClockSkew.D()
	opts.DenyUnsignedPayload = c.DenyUnsignedPayload
	opts.MaxBodyBytes = cfg.Server.MaxBodyBytes
	opts.Open = open
	opts.RefreshInterval = c.RefreshInterval.D()
	return New(st, opts), nil
}
