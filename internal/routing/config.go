package routing

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/outcrop/outcrop/internal/config"
)

// Config is the `routing:` section of the configuration file: the settings
// that apply to every model. internal/app decodes it with config.Decode and
// passes it to New with WithConfig. Zero fields take the defaults below.
type Config struct {
	// MaxAttempts bounds the provider attempts of one request, counting
	// retries, attempts on other deployments and on fallback models, but not
	// hedges. Default 0 means twice the number of candidate deployments
	// (primary model and fallbacks), at least 3 and at most 10.
	MaxAttempts int `yaml:"max_attempts"`
	// BackoffBase is the first retry delay when a request is retried on a
	// deployment that already failed it; each further retry doubles it, and
	// the delay actually slept is drawn uniformly from [0, delay] ("full
	// jitter"). Moving to a deployment that has not failed yet is immediate.
	// Default 50ms.
	BackoffBase Duration `yaml:"backoff_base"`
	// BackoffMax caps the retry delay, including a delay asked for by the
	// upstream's Retry-After. Default 2s.
	BackoffMax Duration `yaml:"backoff_max"`
	// Deadline is the hard limit on a whole request, from routing to the
	// last event. A stream still running at the deadline ends with a
	// ModelTimeoutException event. Default 10m.
	Deadline Duration `yaml:"deadline"`
	// QueueTimeout bounds how long a request waits in a deployment's queue
	// for a free slot (max_concurrency) before the router tries another
	// deployment. Default 30s.
	QueueTimeout Duration `yaml:"queue_timeout"`
	// MaxQueue bounds the requests waiting for a slot on one deployment;
	// beyond it the deployment counts as throttled and the next one is
	// tried. Default 1024.
	MaxQueue int `yaml:"max_queue"`
	// StarvationLimit is how many optimized requests may be admitted in a
	// row, ahead of waiting standard ones, before one standard request is
	// admitted. Default 4 (standard gets at least 1 slot in 5 under
	// contention).
	StarvationLimit int `yaml:"starvation_limit"`
	// Hedge configures hedged first tokens for the optimized profile.
	Hedge Hedge `yaml:"hedge"`
	// Breaker configures the per-deployment circuit breaker.
	Breaker Breaker `yaml:"breaker"`
	// EWMAAlpha is the weight of the newest sample in the moving averages of
	// TTFT and OTPS, in (0, 1]. Default 0.3.
	EWMAAlpha float64 `yaml:"ewma_alpha"`
	// AffinityEntries bounds the prefix-cache affinity table per model
	// (oldest entries are evicted first). 0 means the default 4096; a
	// negative value disables cache affinity.
	AffinityEntries int `yaml:"affinity_entries"`
}

// Hedge configures hedging: when an optimized request's first token has not
// arrived by its deployment's recent P90 TTFT, a second attempt starts on
// another deployment; whichever streams first is kept and the other is
// cancelled.
type Hedge struct {
	// Disabled turns hedging off.
	Disabled bool `yaml:"disabled"`
	// Budget is the largest share of optimized requests that may be hedged,
	// in [0, 1]. Default 0.1 (at most ~10% extra attempts).
	Budget float64 `yaml:"budget"`
	// MinSamples is how many TTFT samples a deployment needs before its P90
	// is trusted as a hedge delay. Default 10.
	MinSamples int `yaml:"min_samples"`
	// MinDelay is the shortest hedge delay, so that a very fast deployment
	// is not hedged on noise. Default 20ms.
	MinDelay Duration `yaml:"min_delay"`
}

// Breaker configures the circuit breaker of each deployment: after Failures
// consecutive failures (retryable errors, TTFT timeouts, stalls) the
// deployment is skipped for Cooldown; then one probe request is let through
// (half-open) and its outcome closes the breaker or opens it again for twice
// as long (at most MaxCooldown).
type Breaker struct {
	// Failures is the number of consecutive failures that opens the
	// breaker. Default 5; negative disables the breaker.
	Failures int `yaml:"failures"`
	// Cooldown is how long an opened breaker skips the deployment before
	// probing it. Default 5s.
	Cooldown Duration `yaml:"cooldown"`
	// MaxCooldown caps the cooldown after repeated failed probes.
	// Default 1m.
	MaxCooldown Duration `yaml:"max_cooldown"`
}

// Duration is the configuration file's duration type ("250ms", "5s"), so
// that the routing section parses durations exactly as the rest of the file.
type Duration = config.Duration

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.BackoffBase == 0 {
		c.BackoffBase = Duration(50 * time.Millisecond)
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = Duration(2 * time.Second)
	}
	if c.Deadline == 0 {
		c.Deadline = Duration(10 * time.Minute)
	}
	if c.QueueTimeout == 0 {
		c.QueueTimeout = Duration(30 * time.Second)
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = 1024
	}
	if c.StarvationLimit == 0 {
		c.StarvationLimit = 4
	}
	if c.Hedge.Budget == 0 {
		c.Hedge.Budget = 0.1
	}
	if c.Hedge.MinSamples == 0 {
		c.Hedge.MinSamples = 10
	}
	if c.Hedge.MinDelay == 0 {
		c.Hedge.MinDelay = Duration(20 * time.Millisecond)
	}
	if c.Breaker.Failures == 0 {
		c.Breaker.Failures = 5
	}
	if c.Breaker.Cooldown == 0 {
		c.Breaker.Cooldown = Duration(5 * time.Second)
	}
	if c.Breaker.MaxCooldown == 0 {
		c.Breaker.MaxCooldown = Duration(time.Minute)
	}
	if c.EWMAAlpha == 0 {
		c.EWMAAlpha = 0.3
	}
	if c.AffinityEntries == 0 {
		c.AffinityEntries = 4096
	}
	return c
}

// Validate reports settings out of range, naming the field.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("routing."+format, args...)) }
	if c.MaxAttempts < 0 {
		add("max_attempts: %d is negative", c.MaxAttempts)
	}
	if c.MaxQueue < 0 {
		add("max_queue: %d is negative", c.MaxQueue)
	}
	if c.StarvationLimit < 0 {
		add("starvation_limit: %d is negative", c.StarvationLimit)
	}
	if c.Hedge.Budget < 0 || c.Hedge.Budget > 1 {
		add("hedge.budget: %v is not between 0 and 1", c.Hedge.Budget)
	}
	if c.Hedge.MinSamples < 0 {
		add("hedge.min_samples: %d is negative", c.Hedge.MinSamples)
	}
	if c.EWMAAlpha < 0 || c.EWMAAlpha > 1 {
		add("ewma_alpha: %v is not in (0, 1]", c.EWMAAlpha)
	}
	if c.BackoffMax != 0 && c.BackoffBase > c.BackoffMax {
		add("backoff_base: %v is above backoff_max %v", time.Duration(c.BackoffBase), time.Duration(c.BackoffMax))
	}
	return errors.Join(errs...)
}

// Option configures a Router.
type Option func(*Router)

// WithConfig applies the routing section of the configuration file.
func WithConfig(c Config) Option { return func(r *Router) { r.cfg = c.withDefaults() } }

// WithLogger sets the logger for breaker transitions and hedges.
func WithLogger(l *slog.Logger) Option { return func(r *Router) { r.log = l } }

// WithClock replaces time.Now, for tests of the breaker.
func WithClock(now func() time.Time) Option { return func(r *Router) { r.now = now } }
