package quota

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcrop/outcrop/internal/config"
)

// Setup builds the quota stage from the configuration: it parses the
// quotas and limits sections and connects to Redis when redis.url is set
// (backend auto) or required (backend redis). The returned close function
// releases the Redis client. resolve gives the canonical ID of a model
// named in the configuration (Options.ResolveModel); nil keeps names.
func Setup(ctx context.Context, cfg *config.Config, log *slog.Logger, resolve func(string) (string, bool)) (*Quotas, func() error, error) {
	q, l, err := ParseConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	closeFn := func() error { return nil }
	var b Backend = NewMemory()
	useRedis := q.Backend == "redis" || (q.Backend == "auto" && cfg.Redis.URL != "")
	if useRedis {
		if cfg.Redis.URL == "" {
			return nil, nil, fmt.Errorf("quotas.backend is redis but redis.url is not set")
		}
		u, err := cfg.Redis.URL.Resolve()
		if err != nil {
			return nil, nil, fmt.Errorf("redis.url: %w", err)
		}
		opt, err := redis.ParseURL(u)
		if err != nil {
			// The URL may hold a password: do not echo it.
			return nil, nil, fmt.Errorf("redis.url: not a valid redis:// URL")
		}
		c := redis.NewClient(opt)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := c.Ping(pctx).Err(); err != nil {
			log.Warn("redis not reachable at startup; quotas follow on_backend_error until it is", "component", "quota", "error", err)
		}
		b = NewRedis(c, "")
		closeFn = c.Close
	}
	return New(q, l, Options{Logger: log, Backend: b, ResolveModel: resolve}), closeFn, nil
}
