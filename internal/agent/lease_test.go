package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

func isConflict(err error) bool {
	var e *llm.Error
	return errors.As(err, &e) && e.Kind == llm.KindConflict
}

// TestSessionLease: one holder at a time; a lease whose holder stopped
// renewing (a replica that died mid-turn) is taken over once it expires,
// and the old holder then finds it lost; a released lease is free at once.
func TestSessionLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		mk := func(holder string) *lease {
			return &lease{db: db, account: "000000000000", key: "AGENT12345/TSTALIASID/s1", session: "s1", holder: holder, ttl: time.Minute, now: clock}
		}
		a, b := mk("replica-a"), mk("replica-b")
		if err := a.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b.acquire(ctx); !isConflict(err) {
			t.Fatalf("second holder: %v, want ConflictException", err)
		}
		now = now.Add(50 * time.Second)
		if err := a.renew(ctx); err != nil {
			t.Fatalf("renew: %v", err)
		}
		now = now.Add(50 * time.Second) // 100 s after acquire, 50 s after the renewal
		if err := b.acquire(ctx); !isConflict(err) {
			t.Fatalf("holder after a renewal: %v, want ConflictException", err)
		}
		now = now.Add(61 * time.Second) // a stopped renewing: its lease expired
		if err := b.acquire(ctx); err != nil {
			t.Fatalf("take over an expired lease: %v", err)
		}
		if err := a.renew(ctx); !isConflict(err) {
			t.Fatalf("old holder renews a lease it lost: %v, want ConflictException", err)
		}
		a.release(ctx) // not held any more: must not free b's lease
		if err := mk("replica-c").acquire(ctx); !isConflict(err) {
			t.Fatalf("after the old holder's release: %v, want b's lease still held", err)
		}
		b.release(ctx)
		if err := mk("replica-c").acquire(ctx); err != nil {
			t.Fatalf("after release: %v", err)
		}
		other := &lease{db: db, account: "000000000000", key: "AGENT12345/TSTALIASID/s2", session: "s2", holder: "replica-a", ttl: time.Minute, now: clock}
		if err := other.acquire(ctx); err != nil {
			t.Fatalf("another session: %v", err)
		}
	})
}
