package audit

import (
	"fmt"
	"time"

	"github.com/outcrop/outcrop/internal/config"
)

// Config is the audit section of the configuration file:
//
//	audit:
//	  enabled: true        # default true
//	  retention: 720h      # entries older than this are deleted (default 30 days)
//	  prompt_chars: 1000   # masked prompt excerpt kept per entry; -1 keeps none
type Config struct {
	// Enabled turns the audit log on. Default true.
	Enabled *bool `yaml:"enabled"`
	// Retention is how long entries are kept; older ones are deleted
	// hourly. Default 720h (30 days).
	Retention config.Duration `yaml:"retention"`
	// PromptChars is how many characters of each request's text are kept,
	// after PII masking. Default 1000; -1 keeps no prompt text.
	PromptChars int `yaml:"prompt_chars"`
}

// ParseConfig decodes the audit section and returns whether the log is
// enabled and its Options (Logger and Now left for the caller).
func ParseConfig(cfg *config.Config) (bool, Options, error) {
	var c Config
	if err := config.Decode(cfg.Audit, &c); err != nil {
		return false, Options{}, fmt.Errorf("audit: %w", err)
	}
	if c.PromptChars < -1 {
		return false, Options{}, fmt.Errorf("audit.prompt_chars: %d is below -1", c.PromptChars)
	}
	on := c.Enabled == nil || *c.Enabled
	o := Options{Retention: c.Retention.D(), PromptChars: c.PromptChars}
	if o.Retention == 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	return on, o, nil
}
