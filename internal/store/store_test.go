package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

func init() {
	store.Register("storetest",
		store.Migration{Version: 1, Name: "items", SQL: `
CREATE TABLE storetest_items (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	n BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX storetest_items_n ON storetest_items (n);`},
		store.Migration{Version: 2, Name: "bytes",
			SQLite:   `CREATE TABLE storetest_blobs (id TEXT PRIMARY KEY, b BLOB NOT NULL)`,
			Postgres: `CREATE TABLE storetest_blobs (id TEXT PRIMARY KEY, b BYTEA NOT NULL)`},
		store.Migration{Version: 3, Name: "seed", Func: func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO storetest_items (id, name, n) VALUES (?, ?, ?)`, "seed", "seed", 1)
			return err
		}},
	)
}

func TestConformance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var n int64
		if err := db.QueryRow(ctx, `SELECT n FROM storetest_items WHERE id = ?`, []any{"seed"}, &n); err != nil || n != 1 {
			t.Fatalf("seed row: n=%d err=%v", n, err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO storetest_items (id, name, n) VALUES (?, ?, ?)`, "a", "alpha", 2); err != nil {
			t.Fatal(err)
		}
		_, err := db.Exec(ctx, `INSERT INTO storetest_items (id, name, n) VALUES (?, ?, ?)`, "a", "other", 2)
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate primary key: err = %v, want ErrConflict", err)
		}
		_, err = db.Exec(ctx, `INSERT INTO storetest_items (id, name, n) VALUES (?, ?, ?)`, "b", "alpha", 2)
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate unique: err = %v, want ErrConflict", err)
		}
		err = db.QueryRow(ctx, `SELECT n FROM storetest_items WHERE id = ?`, []any{"missing"}, &n)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing row: err = %v, want ErrNotFound", err)
		}
		res, err := db.Exec(ctx, `DELETE FROM storetest_items WHERE id = ?`, "missing")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.RowsAffected(res); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RowsAffected on no row = %v, want ErrNotFound", err)
		}

		up := db.Dialect.Upsert("storetest_items", []string{"id", "name", "n"}, []string{"id"})
		for _, v := range []int64{5, 6} {
			if _, err := db.Exec(ctx, up, "u", "upserted", v); err != nil {
				t.Fatalf("upsert: %v", err)
			}
		}
		if err := db.QueryRow(ctx, `SELECT n FROM storetest_items WHERE id = ?`, []any{"u"}, &n); err != nil || n != 6 {
			t.Errorf("after upserts n = %d (err %v), want 6", n, err)
		}
		// Literal question marks survive rebinding.
		var s string
		if err := db.QueryRow(ctx, `SELECT 'why?' || name FROM storetest_items WHERE id = ?`, []any{"u"}, &s); err != nil || s != "why?upserted" {
			t.Errorf("literal ?: got %q err %v", s, err)
		}

		blob := []byte{0, 1, 2, 255}
		if _, err := db.Exec(ctx, `INSERT INTO storetest_blobs (id, b) VALUES (?, ?)`, "x", blob); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if err := db.QueryRow(ctx, `SELECT b FROM storetest_blobs WHERE id = ?`, []any{"x"}, &got); err != nil || string(got) != string(blob) {
			t.Errorf("blob = %v err %v", got, err)
		}

		// A failed transaction leaves nothing behind.
		txErr := errors.New("abort")
		err = db.Tx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO storetest_items (id, name) VALUES (?, ?)`, "t", "tx"); err != nil {
				return err
			}
			return txErr
		})
		if !errors.Is(err, txErr) {
			t.Fatalf("Tx err = %v", err)
		}
		if err := db.QueryRow(ctx, `SELECT n FROM storetest_items WHERE id = ?`, []any{"t"}, &n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rolled-back row visible: err = %v", err)
		}

		// Migrating again is a no-op.
		if err := db.Migrate(ctx, store.Registered()); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
	})
}

// TestConcurrentOpen opens the same SQLite file from several goroutines, as
// a server and the CLI do; each migration must run exactly once.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outcrop.db")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(context.Background(), store.Options{DSN: path})
			if err != nil {
				errs <- err
				return
			}
			_, err = db.Exec(context.Background(), `UPDATE storetest_items SET n = n + 1 WHERE id = ?`, "seed")
			db.Close()
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db, err := store.Open(context.Background(), store.Options{Home: filepath.Dir(path)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(context.Background(), `SELECT n FROM storetest_items WHERE id = ?`, []any{"seed"}, &n); err != nil || n != 5 {
		t.Errorf("seed n = %d (err %v), want 5 (seeded once, incremented 4 times)", n, err)
	}
}

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{`"q?" = ? -- why?` + "\n?", `"q?" = $1 -- why?` + "\n$2"},
		{"unterminated '?", "unterminated '?"},
	}
	for _, tc := range tests {
		if got := store.Postgres.Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := store.SQLite.Rebind(tc.in); got != tc.in {
			t.Errorf("SQLite.Rebind(%q) = %q, want unchanged", tc.in, got)
		}
	}
}

func FuzzRebind(f *testing.F) {
	for _, s := range []string{"a=?", "'?'", `"?"`, "--?\n?", "'", "?-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := store.Postgres.Rebind(s)
		if len(got) < len(s) {
			t.Errorf("Rebind(%q) = %q shrank", s, got)
		}
	})
}

func TestSQLiteFileMode(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(context.Background(), store.Options{Home: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(context.Background(), `INSERT INTO storetest_items (id, name) VALUES (?, ?)`, "m", "mode"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"outcrop.db", "outcrop.db-wal", "outcrop.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}
