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
type Config struct {
	// SessionTTL is how long a console session lasts from sign-in (it
	// ends sooner when revoked, or when the key it was made from is
	// revoked or expires). Default 12h; at most 30 days.
	SessionTTL config.Duration `yaml:"session_ttl"`
}

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
	return c, nil
}
