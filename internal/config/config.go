// Package config defines Outcrop's configuration file: its typed tree,
// defaults, loading with strict field checking and validation.
//
// Precedence is defaults, then the file, then environment references in
// secrets (env:NAME), then command-line flags applied by main. Subsystems that
// own their own settings (auth, guardrails, quotas, …) receive a raw YAML node
// here and decode it strictly into their own type, so that each package owns
// its configuration.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the address the HTTP server listens on. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Home is the data directory: the embedded database, models, artifacts.
	// Default $OUTCROP_HOME, else ~/.outcrop.
	Home string `yaml:"home"`
	// Log configures the process log.
	Log Log `yaml:"log"`
	// Server holds HTTP server limits and timeouts.
	Server Server `yaml:"server"`
	// Models are the models clients can call. With no models configured,
	// Outcrop serves the installed default model (smollm2-135m-instruct)
	// from the built-in engine.
	Models []Model `yaml:"models"`
	// Store selects where resources are kept.
	Store Store `yaml:"store"`
	// Redis, when URL is set, holds shared counters and caches so that
	// several replicas behave as one.
	Redis Redis `yaml:"redis"`

	// Subsystem sections, decoded by their owners.
	Auth       yaml.Node `yaml:"auth"`
	Quotas     yaml.Node `yaml:"quotas"`
	Limits     yaml.Node `yaml:"limits"`
	Audit      yaml.Node `yaml:"audit"`
	Guardrails yaml.Node `yaml:"guardrails"`
	Routing    yaml.Node `yaml:"routing"`
	Engine     yaml.Node `yaml:"engine"`
	// Egress is the allow-list of hosts Outcrop may connect to (decoded by
	// internal/egress; see docs/PROVIDERS.md). Empty allows every host.
	Egress yaml.Node `yaml:"egress"`
	// Cache configures the response cache (internal/cache; docs/CACHING.md).
	Cache yaml.Node `yaml:"cache"`
	// PromptRouters configures default prompt routers and learned router
	// artefacts (internal/promptrouter, docs/ROUTING.md).
	PromptRouters yaml.Node `yaml:"prompt_routers"`
	// Agents configures the agent runtime (internal/agent.Config).
	Agents yaml.Node `yaml:"agents"`
	// Embeddings configures embedding models (docs/KNOWLEDGE_BASES.md).
	Embeddings yaml.Node `yaml:"embeddings"`
	// KnowledgeBases configures knowledge bases (docs/KNOWLEDGE_BASES.md).
	KnowledgeBases yaml.Node `yaml:"knowledge_bases"`
	// Console configures the web console (internal/console; docs/CONSOLE.md).
	Console yaml.Node `yaml:"console"`
	// Evaluations configures evaluation jobs (docs/EVALUATIONS.md).
	Evaluations yaml.Node `yaml:"evaluations"`

	// path is the file the config was loaded from, for messages.
	path string
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json or text. Default json.
	Format string `yaml:"format"`
}

// Server holds HTTP server settings.
type Server struct {
	// MaxBodyBytes bounds request bodies; larger bodies get a 400
	// ValidationException. Default 25 MiB (Bedrock's InvokeModel limit).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// WriteTimeout bounds a whole non-streaming response; streams extend
	// their deadline per event. Default 10m.
	WriteTimeout Duration `yaml:"write_timeout"`
	// ShutdownGrace is how long in-flight requests and streams may run
	// after a shutdown signal before they are cut. Default 15s.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// Region is the AWS region Outcrop reports in ARNs. Default us-east-1.
	Region string `yaml:"region"`
	// AccountID is the account number used in ARNs. Default 000000000000.
	AccountID string `yaml:"account_id"`
}

// Store selects the resource store.
type Store struct {
	// Driver is sqlite (default) or postgres.
	Driver string `yaml:"driver"`
	// DSN is the database: a file path for sqlite (default
	// <home>/outcrop.db), a postgres:// URL for postgres. May be a secret
	// reference (env:NAME).
	DSN Secret `yaml:"dsn"`
}

// Redis configures the shared Redis server.
type Redis struct {
	// URL is a redis:// URL; empty disables Redis. May be env:NAME.
	URL Secret `yaml:"url"`
}

// Model is one model clients can address by ID.
type Model struct {
	// ID is what clients send as modelId (Bedrock) or model (OpenAI).
	ID string `yaml:"id"`
	// Aliases are other names for the model.
	Aliases []string `yaml:"aliases"`
	// Description is shown in model listings.
	Description string `yaml:"description"`
	// Profiles lists the performance profiles the model offers: standard
	// and optionally optimized. Default [standard]. Asking for a profile
	// the model does not offer is a ValidationException, as on Bedrock.
	Profiles []string `yaml:"profiles"`
	// Fallbacks are model IDs tried, in order, when every deployment of
	// this model has failed with a retryable error.
	Fallbacks []string `yaml:"fallbacks"`
	// Deployments are the replicas that can serve the model. At least one.
	Deployments []Deployment `yaml:"deployments"`
}

// Deployment is one replica of a model behind one provider.
type Deployment struct {
	// Name identifies the deployment in logs and metrics. Default
	// "<provider>-<index>".
	Name string `yaml:"name"`
	// Provider is the provider type: openai (any OpenAI-compatible server),
	// local (the built-in engine), and others as they are registered.
	Provider string `yaml:"provider"`
	// BaseURL is the upstream's API root, e.g. http://127.0.0.1:11434/v1.
	BaseURL string `yaml:"base_url"`
	// Model is the upstream's model name (or, for local, the model ID in the
	// model store or a .gguf path).
	Model string `yaml:"model"`
	// APIKey authenticates to the upstream. A secret reference: env:NAME,
	// file:/path, or a literal. Never logged.
	APIKey Secret `yaml:"api_key"`
	// Weight is the deployment's share of traffic relative to the others.
	// Default 1; must be ≥ 0 and at least one deployment must be > 0.
	Weight *int `yaml:"weight"`
	// MaxConcurrency caps requests in flight on this deployment; 0 means
	// unlimited. Extra requests wait in the gateway's queue.
	MaxConcurrency int `yaml:"max_concurrency"`
	// ReservedOptimized is how many of the max_concurrency slots standard
	// requests may never take, so that latency-optimized requests find a
	// slot without queueing behind standard ones. Default 0; must be below
	// max_concurrency, which it requires.
	ReservedOptimized int `yaml:"reserved_optimized"`
	// MaxRPS caps how many attempts per second start on this deployment
	// (a token bucket with one second of burst); 0 means unlimited. Requests
	// over the rate wait up to routing.queue_timeout, then try another
	// deployment. Must be ≥ 0.
	MaxRPS float64 `yaml:"max_rps"`
	// Profiles restricts which profiles this deployment serves; empty
	// means all the model offers.
	Profiles []string `yaml:"profiles"`
	// Timeout bounds one attempt from start to last token. Default 10m.
	Timeout Duration `yaml:"timeout"`
	// TTFTTimeout bounds the wait for the first token of an attempt;
	// 0 disables. Default 0.
	TTFTTimeout Duration `yaml:"ttft_timeout"`
	// StallTimeout ends a stream that produces no event for this long;
	// 0 disables.
	StallTimeout Duration `yaml:"stall_timeout"`
	// Options are provider-specific settings (for local: slots,
	// context_size, threads, …), decoded by the provider.
	Options yaml.Node `yaml:"options"`
}

// Duration is a time.Duration written as "1.5s", "250ms", "10m".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q (use e.g. 30s, 250ms, 5m)", n.Line, s)
	}
	if v < 0 {
		return fmt.Errorf("line %d: duration %q is negative", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Secret is a reference to a secret value: "env:NAME" reads the environment,
// "file:/path" reads a file (trimmed), anything else is the literal value.
type Secret string

// Resolve returns the secret's value.
func (s Secret) Resolve() (string, error) {
	v := string(s)
	switch {
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		val, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		return val, nil
	case strings.HasPrefix(v, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(v, "file:"))
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return v, nil
}

// Redacted returns the reference without a literal value, safe for logs.
func (s Secret) Redacted() string {
	v := string(s)
	if v == "" || strings.HasPrefix(v, "env:") || strings.HasPrefix(v, "file:") {
		return v
	}
	return "REDACTED"
}

// String implements fmt.Stringer so that secrets never print by accident.
func (s Secret) String() string { return s.Redacted() }

// Default returns the configuration used when no file is given.
func Default() *Config {
	c := &Config{}
	c.applyDefaults()
	return c
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.path = path
	return c, nil
}

// Parse decodes YAML, rejecting unknown fields, applies defaults and validates.
func Parse(b []byte) (*Config, error) {
	c := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Path returns the file the configuration was loaded from, if any.
func (c *Config) Path() string { return c.path }

func (c *Config) applyDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Home == "" {
		c.Home = DefaultHome()
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	s := &c.Server
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 25 << 20
	}
	if s.ReadHeaderTimeout == 0 {
		s.ReadHeaderTimeout = Duration(10 * time.Second)
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = Duration(120 * time.Second)
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = Duration(10 * time.Minute)
	}
	if s.ShutdownGrace == 0 {
		s.ShutdownGrace = Duration(15 * time.Second)
	}
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	if s.AccountID == "" {
		s.AccountID = "000000000000"
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	for i := range c.Models {
		m := &c.Models[i]
		if len(m.Profiles) == 0 {
			m.Profiles = []string{"standard"}
		}
		for j := range m.Deployments {
			d := &m.Deployments[j]
			if d.Name == "" {
				d.Name = fmt.Sprintf("%s-%d", d.Provider, j)
			}
			if d.Weight == nil {
				one := 1
				d.Weight = &one
			}
			if d.Timeout == 0 {
				d.Timeout = Duration(10 * time.Minute)
			}
		}
	}
}

// DefaultHome returns $OUTCROP_HOME, else ~/.outcrop.
func DefaultHome() string {
	if h := os.Getenv("OUTCROP_HOME"); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".outcrop")
	}
	return ".outcrop"
}

var modelIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.:/-]{0,255}$`)

// Validate checks the configuration for mistakes, naming the field at fault.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen: %q is not host:port", c.Listen)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		add("log.format: %q is not json or text", c.Log.Format)
	}
	switch c.Store.Driver {
	case "sqlite", "postgres":
	default:
		add("store.driver: %q is not sqlite or postgres", c.Store.Driver)
	}
	if c.Server.MaxBodyBytes < 0 {
		add("server.max_body_bytes: must be positive")
	}
	ids := map[string]bool{}
	for i, m := range c.Models {
		where := fmt.Sprintf("models[%d]", i)
		if m.ID == "" {
			add("%s.id: required", where)
		} else if !modelIDPattern.MatchString(m.ID) {
			add("%s.id: %q has characters other than letters, digits and _.:/-", where, m.ID)
		}
		for _, name := range append([]string{m.ID}, m.Aliases...) {
			if ids[name] {
				add("%s: model id or alias %q is used twice", where, name)
			}
			ids[name] = true
		}
		for _, p := range m.Profiles {
			if p != "standard" && p != "optimized" {
				add("%s.profiles: %q is not standard or optimized", where, p)
			}
		}
		if len(m.Deployments) == 0 {
			add("%s.deployments: a model needs at least one deployment", where)
		}
		total := 0
		names := map[string]bool{}
		for j, d := range m.Deployments {
			dw := fmt.Sprintf("%s.deployments[%d]", where, j)
			if d.Provider == "" {
				add("%s.provider: required", dw)
			}
			if names[d.Name] {
				add("%s.name: %q is used twice in this model", dw, d.Name)
			}
			names[d.Name] = true
			if d.Weight != nil {
				if *d.Weight < 0 {
					add("%s.weight: %d is negative", dw, *d.Weight)
				}
				total += *d.Weight
			}
			if d.MaxConcurrency < 0 {
				add("%s.max_concurrency: %d is negative", dw, d.MaxConcurrency)
			}
			if d.ReservedOptimized < 0 || (d.ReservedOptimized > 0 && d.ReservedOptimized >= d.MaxConcurrency) {
				add("%s.reserved_optimized: %d must be ≥ 0 and below max_concurrency (%d)", dw, d.ReservedOptimized, d.MaxConcurrency)
			}
			if d.MaxRPS < 0 {
				add("%s.max_rps: %v is negative", dw, d.MaxRPS)
			}
			for _, p := range d.Profiles {
				if p != "standard" && p != "optimized" {
					add("%s.profiles: %q is not standard or optimized", dw, p)
				}
			}
		}
		if len(m.Deployments) > 0 && total == 0 {
			add("%s.deployments: weights sum to zero; at least one deployment needs weight > 0", where)
		}
		// Every offered profile needs a deployment that serves it, so that
		// asking for it never fails for want of a replica.
		for _, p := range m.Profiles {
			served := false
			for _, d := range m.Deployments {
				if len(d.Profiles) == 0 || slices.Contains(d.Profiles, p) {
					served = true
				}
			}
			if len(m.Deployments) > 0 && !served {
				add("%s.profiles: %q is offered but no deployment serves it", where, p)
			}
		}
	}
	for i, m := range c.Models {
		for _, f := range m.Fallbacks {
			if !ids[f] {
				add("models[%d].fallbacks: unknown model %q", i, f)
			}
			if f == m.ID {
				add("models[%d].fallbacks: a model cannot fall back to itself", i)
			}
		}
	}
	return errors.Join(errs...)
}

// Decode decodes a subsystem's raw section strictly into v. An empty node
// leaves v unchanged (its defaults).
func Decode(n yaml.Node, v any) error {
	if n.Kind == 0 {
		return nil
	}
	b, err := yaml.Marshal(&n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}
