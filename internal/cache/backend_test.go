package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outcrop/outcrop/internal/cache"
	"github.com/outcrop/outcrop/internal/cache/cachetest"
	"github.com/outcrop/outcrop/internal/testenv"
	"github.com/outcrop/outcrop/internal/vector"
)

func TestMemoryConformance(t *testing.T) {
	cachetest.Run(t, func(*testing.T) cache.Backend { return cache.NewMemory(0, nil) })
}

func TestRedisConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Backend { return newRedis(t) })
}

// newRedis returns a backend on the test Redis under a prefix of its own.
func newRedis(t *testing.T) *cache.Redis {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
	return cache.NewRedis(c, "outcrop-test:cache:")
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(30, nil) // room for three 10-byte items (1-byte key + 9-byte value)
	val := []byte("123456789")
	for _, k := range []string{"a", "b", "c"} {
		m.Set(ctx, k, val, 60e9)
	}
	m.Get(ctx, "a") // a is now the most recent; b is the oldest
	m.Set(ctx, "d", val, 60e9)
	if _, err := m.Get(ctx, "b"); err != cache.ErrMiss {
		t.Errorf("b survived eviction: %v", err)
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, err := m.Get(ctx, k); err != nil {
			t.Errorf("Get(%s) = %v after evicting b", k, err)
		}
	}
	m.Set(ctx, "huge", make([]byte, 100), 60e9)
	if m.Len() != 3 {
		t.Errorf("a value above the budget changed the cache: %d entries", m.Len())
	}
}

func TestVectorIndexConformance(t *testing.T) {
	cachetest.RunSemantic(t, func(t *testing.T, max int, now func() time.Time) cache.SemanticIndex {
		vi, err := vector.OpenEmbedded(":memory:", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { vi.Close() })
		return cache.NewVectorIndex(vi, max, now)
	})
}

func TestRedisIndexConformance(t *testing.T) {
	cachetest.RunSemantic(t, func(t *testing.T, max int, now func() time.Time) cache.SemanticIndex {
		opt, err := redis.ParseURL(testenv.RedisURL(t))
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		t.Cleanup(func() { c.Close() })
		return cache.NewRedisIndex(c, "outcrop-test:semcache:", max, now)
	})
}
