// Package cachetest holds the conformance suites of the response cache's
// interchangeable parts. Run is the suite every cache.Backend passes:
// misses, round trips, overwrites, expiry, deletion, key isolation, large
// values and concurrent use. RunSemantic is the suite every
// cache.SemanticIndex passes.
package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/cache"
)

// Run runs the suite. newBackend returns an empty backend; keys written by
// one subtest are unique to it, so a shared Redis database may be reused.
func Run(t *testing.T, newBackend func(t *testing.T) cache.Backend) {
	ctx := context.Background()
	uniq := fmt.Sprintf("%d-", time.Now().UnixNano())
	k := func(t *testing.T, s string) string { return uniq + t.Name() + "/" + s }

	t.Run("Miss", func(t *testing.T) {
		b := newBackend(t)
		if _, err := b.Get(ctx, k(t, "absent")); !errors.Is(err, cache.ErrMiss) {
			t.Fatalf("Get(absent) error = %v, want ErrMiss", err)
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		b := newBackend(t)
		want := []byte("{\"v\":1,\x00binary\xff}")
		if err := b.Set(ctx, k(t, "a"), want, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get(ctx, k(t, "a"))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Get = %q, %v; want %q", got, err, want)
		}
		got[0] = 'X' // the caller owns the returned slice
		again, _ := b.Get(ctx, k(t, "a"))
		if !bytes.Equal(again, want) {
			t.Fatalf("stored value changed through a returned slice: %q", again)
		}
	})
	t.Run("Overwrite", func(t *testing.T) {
		b := newBackend(t)
		_ = b.Set(ctx, k(t, "a"), []byte("one"), time.Minute)
		_ = b.Set(ctx, k(t, "a"), []byte("two"), time.Minute)
		got, err := b.Get(ctx, k(t, "a"))
		if err != nil || string(got) != "two" {
			t.Fatalf("Get = %q, %v; want two", got, err)
		}
	})
	t.Run("KeysIsolated", func(t *testing.T) {
		b := newBackend(t)
		_ = b.Set(ctx, k(t, "ab"), []byte("1"), time.Minute)
		for _, other := range []string{"a", "abc", "AB", "ab "} {
			if _, err := b.Get(ctx, k(t, other)); !errors.Is(err, cache.ErrMiss) {
				t.Errorf("Get(%q) after Set(ab) error = %v, want ErrMiss", other, err)
			}
		}
	})
	t.Run("Delete", func(t *testing.T) {
		b := newBackend(t)
		_ = b.Set(ctx, k(t, "a"), []byte("1"), time.Minute)
		if err := b.Delete(ctx, k(t, "a")); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get(ctx, k(t, "a")); !errors.Is(err, cache.ErrMiss) {
			t.Fatalf("Get after Delete error = %v, want ErrMiss", err)
		}
		if err := b.Delete(ctx, k(t, "never")); err != nil {
			t.Fatalf("Delete(absent) = %v, want nil", err)
		}
	})
	t.Run("BadTTL", func(t *testing.T) {
		b := newBackend(t)
		if err := b.Set(ctx, k(t, "a"), []byte("1"), 0); err == nil {
			t.Fatal("Set with ttl 0 succeeded, want an error")
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		b := newBackend(t)
		if err := b.Set(ctx, k(t, "short"), []byte("1"), 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := b.Set(ctx, k(t, "long"), []byte("2"), time.Minute); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := b.Get(ctx, k(t, "short"))
			if errors.Is(err, cache.ErrMiss) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("entry with a 50ms TTL still served after 5s")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got, err := b.Get(ctx, k(t, "long")); err != nil || string(got) != "2" {
			t.Fatalf("entry with a 1m TTL: Get = %q, %v", got, err)
		}
	})
	t.Run("LargeValue", func(t *testing.T) {
		b := newBackend(t)
		want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
		if err := b.Set(ctx, k(t, "big"), want, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get(ctx, k(t, "big"))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Get(big): %d bytes, %v; want %d bytes", len(got), err, len(want))
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		b := newBackend(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() { // ends after its 50 iterations
				defer wg.Done()
				for i := range 50 {
					key := k(t, fmt.Sprintf("g%d-%d", g, i%5))
					val := []byte(fmt.Sprintf("g%d", g))
					if err := b.Set(ctx, key, val, time.Minute); err != nil {
						errs <- err
						return
					}
					got, err := b.Get(ctx, key)
					if err != nil && !errors.Is(err, cache.ErrMiss) {
						errs <- err
						return
					}
					if err == nil && !bytes.Equal(got, val) {
						errs <- fmt.Errorf("goroutine %d read %q from its own key", g, got)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
