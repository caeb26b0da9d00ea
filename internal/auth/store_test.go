package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestStore is the auth store's conformance suite, run on SQLite and
// PostgreSQL.
func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st, err := auth.NewStore(db, testKey)
		if err != nil {
			t.Fatal(err)
		}
		gen := func() int64 {
			g, err := st.Generation(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return g
		}
		g0 := gen()
		for _, n := range []string{"bob", "alice"} {
			if err := st.AddPrincipal(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		if gen() != g0+2 {
			t.Errorf("generation did not move with each change")
		}
		if err := st.AddPrincipal(ctx, "alice"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate principal: %v, want ErrConflict", err)
		}
		for _, bad := range []string{"", "has space", "semi;colon", string(make([]byte, 65))} {
			if err := st.AddPrincipal(ctx, bad); !errors.Is(err, auth.ErrInvalid) {
				t.Errorf("AddPrincipal(%q) = %v, want ErrInvalid", bad, err)
			}
		}
		ps, err := st.Principals(ctx)
		if err != nil || len(ps) != 2 || ps[0].Name != "alice" || ps[1].Name != "bob" {
			t.Errorf("Principals = %+v, %v", ps, err)
		}

		k1, err := st.CreateAccessKey(ctx, "alice", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateAccessKey(ctx, "alice", time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateAccessKey(ctx, "nobody", 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("key for unknown principal: %v, want ErrNotFound", err)
		}
		ks, err := st.ListAccessKeys(ctx, "alice")
		if err != nil || len(ks) != 2 || ks[0].Status != auth.StatusActive {
			t.Fatalf("ListAccessKeys = %+v, %v", ks, err)
		}
		if ks[0].Expires.IsZero() == ks[1].Expires.IsZero() {
			t.Errorf("exactly one key should expire: %+v", ks)
		}
		if err := st.DeleteAccessKey(ctx, "bob", k1.AccessKeyID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleting alice's key as bob: %v, want ErrNotFound", err)
		}
		if err := st.SetAccessKeyStatus(ctx, "alice", k1.AccessKeyID, "Sleeping"); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("bad status: %v", err)
		}

		info, key, err := st.CreateAPIKey(ctx, "alice", 0)
		if err != nil || len(key) < 60 {
			t.Fatalf("CreateAPIKey = %v, %d chars", err, len(key))
		}
		if err := st.RevokeAPIKey(ctx, "alice", info.APIKeyID); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeAPIKey(ctx, "alice", info.APIKeyID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second revoke: %v, want ErrNotFound", err)
		}

		doc := []byte(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
		if err := st.AttachPolicy(ctx, "alice", "all", doc); err != nil {
			t.Fatal(err)
		}
		doc2 := []byte(`{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)
		if err := st.AttachPolicy(ctx, "alice", "all", doc2); err != nil {
			t.Fatalf("replacing a policy: %v", err)
		}
		pols, err := st.Policies(ctx, "alice")
		if err != nil || len(pols) != 1 || pols[0].Document != string(doc2) {
			t.Errorf("Policies = %+v, %v", pols, err)
		}
		if err := st.AttachPolicy(ctx, "alice", "bad", []byte(`{}`)); !errors.Is(err, auth.ErrInvalid) {
			t.Errorf("invalid policy: %v, want ErrInvalid", err)
		}

		if err := st.DeletePrincipal(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ListAccessKeys(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("keys of a deleted principal: %v", err)
		}
		// Re-creating the name does not resurrect old keys or policies.
		if err := st.AddPrincipal(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		ks, _ = st.ListAccessKeys(ctx, "alice")
		pols, _ = st.Policies(ctx, "alice")
		if len(ks) != 0 || len(pols) != 0 {
			t.Errorf("re-created principal has %d keys, %d policies", len(ks), len(pols))
		}
		if n, err := st.CountPrincipals(ctx); err != nil || n != 2 {
			t.Errorf("CountPrincipals = %d, %v", n, err)
		}
	})
}
