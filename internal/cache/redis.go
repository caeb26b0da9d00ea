package cache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Backend on a Redis server shared by every replica. Keys are
// stored under Prefix; expiry is Redis's own (SET … PX).
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis returns a backend on c with keys under prefix (default
// "outcrop:cache:").
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = "outcrop:cache:"
	}
	return &Redis{c: c, prefix: prefix}
}

var _ Backend = (*Redis)(nil)

// Get implements Backend.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := r.c.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrMiss
	}
	return b, err
}

// Set implements Backend.
func (r *Redis) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("cache: ttl must be positive")
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	return r.c.Set(ctx, r.prefix+key, val, ttl).Err()
}

// Delete implements Backend.
func (r *Redis) Delete(ctx context.Context, key string) error {
	return r.c.Del(ctx, r.prefix+key).Err()
}
