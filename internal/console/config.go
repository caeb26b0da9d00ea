package console

import (
	"fmt"
	"time"

	"github.com/outcrop/outcrop/internal/config"
)

// Config is the console section of the configuration:
//
//	console:
//	  session_ttl: 12h
//	  request_recorder: true
//	  recorder_retention: 720h
type Config struct {
	// SessionTTL is how long a console session lasts from sign-in (it
	// ends sooner when revoked, or when the key it was made from is
	// revoked or expires). Default 12h; at most 30 days.
	SessionTTL config.Duration `yaml:"session_ttl"`
	// RequestRecorder keeps each inference call's measurements (TTFT,
	// OTPS, E2E, tokens, attempts, trace) in the store for the dashboards
	// and the request log's detail. Default true; false turns the metrics
	// route off and saves the store writes (batched, off the request path).
	RequestRecorder *bool `yaml:"request_recorder"`
	// RecorderRetention is how long recorded calls are kept. Default 720h.
	RecorderRetention config.Duration `yaml:"recorder_retention"`
}

// Recording reports whether the request recorder runs.
func (c Config) Recording() bool { return c.RequestRecorder == nil || *c.RequestRecorder }

// ParseConfig decodes and validates the console section of cfg.
func ParseConfig(cfg *config.Config) (Config, error) {
	var c Config
	if err := config.Decode(cfg.Console, &c); err != nil {
		return c, fmt.Errorf("console: %w", err)
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = config.Duration(12 * time.Hour)
	}
	if d := c.SessionTTL.D(); d < time.Minute || d > 30*24*time.Hour {
		return c, fmt.Errorf("console.session_ttl: %s is outside 1m to 720h", d)
	}
	if c.RecorderRetention == 0 {
		c.RecorderRetention = config.Duration(30 * 24 * time.Hour)
	}
	if d := c.RecorderRetention.D(); d < time.Hour {
		return c, fmt.Errorf("console.recorder_retention: %s is shorter than 1h", d)
	}
	return c, nil
}
