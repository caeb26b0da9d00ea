// Package storetest opens fresh store databases for tests, so that every
// store-backed package runs one suite against each backend.
//
// Each runs a test body twice, as subtests "sqlite" and "postgres": SQLite
// always (a file in t.TempDir), PostgreSQL when OUTCROP_TEST_POSTGRES_DSN is
// set (skipped otherwise, failing under OUTCROP_TEST_REQUIRE=1). Every
// PostgreSQL test gets its own schema, dropped at cleanup, so tests never see
// each other's rows and may run in parallel.
//
//	func TestPrincipals(t *testing.T) {
//		storetest.Each(t, func(t *testing.T, db *store.DB) {
//			s := auth.NewStore(db)
//			…
//		})
//	}
//
// The domain package's migrations are applied because Open applies every
// migration registered by the packages linked into the test binary.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/testenv"
)

// Each runs fn against every available backend, as subtests.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite opens a fresh SQLite store in t.TempDir, closed at cleanup.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "outcrop.db")})
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Postgres opens a store in a new schema of the database named by
// OUTCROP_TEST_POSTGRES_DSN, skipping the test when it is unset. The schema
// is dropped at cleanup.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	db, _ := PostgresSchema(t, dsn)
	return db
}

// PostgresSchema is Postgres with the DSN given; it also returns the DSN of
// the new schema, so a test can open a second store (a second replica, the
// CLI) on the same data.
func PostgresSchema(t testing.TB, dsn string) (*store.DB, string) {
	t.Helper()
	ctx := context.Background()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer a.Close()
		a.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	sdsn := withSearchPath(t, dsn, schema)
	db, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: sdsn})
	if err != nil {
		t.Fatalf("open postgres store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, sdsn
}

// withSearchPath sets search_path in a URL or key=value DSN.
func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse postgres dsn: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
