// Package store is Outcrop's embedded resource store: one SQL database shared
// by every domain package (auth, guardrails, prompts, flows, …), SQLite by
// default and PostgreSQL when configured.
//
// # Opening
//
// Open takes Options. With Driver "sqlite" (the default) the database is the
// file DSN, or <Home>/outcrop.db when DSN is empty; it is opened in WAL mode
// with a busy timeout and immediate transactions, so the CLI can write while
// a server reads and writes the same file. With Driver "postgres" DSN is a
// postgres:// URL or key=value string handed to pgx. Open applies every
// registered migration before it returns.
//
// # Writing queries
//
// Write SQL once with "?" placeholders and portable syntax; DB.Exec, DB.Query,
// DB.QueryRow and the same methods on Tx rewrite placeholders to $1, $2, …
// for PostgreSQL (see Dialect.Rebind). Portable rules that keep one query
// valid on both engines:
//   - types: TEXT, BIGINT (integers, booleans as 0/1, times as Unix
//     milliseconds or RFC 3339 text), DOUBLE PRECISION; for bytes use a
//     dialect-specific migration (BLOB vs BYTEA) or base64 in TEXT;
//   - upserts: INSERT … ON CONFLICT (key) DO UPDATE SET c = excluded.c works
//     on both; Dialect.Upsert builds one;
//   - no AUTOINCREMENT/SERIAL: generate IDs in Go (both engines agree on
//     TEXT primary keys);
//   - LIMIT ? OFFSET ? is fine on both; avoid RETURNING on old SQLite
//     (ours is recent, it works, but keep it simple).
//
// Errors come back mapped: no row → ErrNotFound, a unique or primary-key
// violation → ErrConflict, both wrapped so errors.Is works and the driver's
// message stays in the chain for logs.
//
// # Migrations
//
// Each domain package owns its tables. It declares its migrations and
// registers them under its own domain name, usually from init:
//
//	func init() {
//		store.Register("auth",
//			store.Migration{Version: 1, Name: "principals", SQL: `CREATE TABLE auth_principals (…)`},
//			store.Migration{Version: 2, Name: "api keys", SQL: `…`},
//		)
//	}
//
// Versions are per domain, start at 1 and never change once released; add a
// new version rather than editing an old one. Prefix table names with the
// domain ("auth_", "guardrail_") so domains cannot collide. A migration may
// carry SQLite- or Postgres-specific SQL instead of (or as well as) the
// portable SQL, or a Func for data changes. Each migration runs in its own
// transaction together with its row in store_migrations; concurrent Opens
// (two replicas, server and CLI) serialise on a lock, so each migration runs
// exactly once.
//
// # Tests
//
// Package storetest opens a fresh database per test: storetest.Each runs a
// test body against SQLite (always, in t.TempDir) and against PostgreSQL
// when OUTCROP_TEST_POSTGRES_DSN is set (each test in its own schema), so
// every store-backed package gets one conformance suite for both backends.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/outcrop/outcrop/internal/config"
)

// Sentinel errors returned (wrapped) by DB and Tx methods.
var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a row with the same unique key already exists.
	ErrConflict = errors.New("already exists")
)

// Options select and configure the database.
type Options struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string
	// DSN is the SQLite file path or the PostgreSQL connection string.
	// For SQLite, empty means <Home>/outcrop.db and ":memory:" is refused
	// (each pooled connection would see its own empty database).
	DSN string
	// Home is the data directory used when DSN is empty for SQLite.
	Home string
	// Logger receives migration messages; nil discards them.
	Logger *slog.Logger
	// MaxOpenConns bounds the connection pool; 0 means the default (8 for
	// SQLite, 16 for PostgreSQL).
	MaxOpenConns int
}

// DB is an open store. It is safe for concurrent use.
type DB struct {
	// SQL is the underlying pool, for code that needs database/sql directly.
	// Queries through it are not rebound or error-mapped.
	SQL *sql.DB
	// Dialect is the SQL dialect of the database.
	Dialect Dialect
	// Path is the SQLite file, empty for PostgreSQL.
	Path string

	log *slog.Logger
}

// Open opens the database, creating the SQLite file and its directory if
// needed, and applies the registered migrations.
func Open(ctx context.Context, o Options) (*DB, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "store")
	var db *DB
	var err error
	switch o.Driver {
	case "", "sqlite":
		db, err = openSQLite(o)
	case "postgres", "postgresql", "pgx":
		db, err = openPostgres(o)
	default:
		return nil, fmt.Errorf("open store: unknown driver %q (want sqlite or postgres)", o.Driver)
	}
	if err != nil {
		return nil, err
	}
	db.log = log
	if err := db.SQL.PingContext(ctx); err != nil {
		db.SQL.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := db.Migrate(ctx, Registered()); err != nil {
		db.SQL.Close()
		return nil, err
	}
	return db, nil
}

func openSQLite(o Options) (*DB, error) {
	path := o.DSN
	if path == "" {
		if o.Home == "" {
			return nil, errors.New("open store: sqlite needs a DSN or a home directory")
		}
		path = filepath.Join(o.Home, "outcrop.db")
	}
	path = strings.TrimPrefix(path, "file:")
	if q := strings.IndexByte(path, '?'); q >= 0 {
		return nil, errors.New("open store: give the sqlite DSN as a plain file path (Outcrop sets the connection options)")
	}
	if path == "" || path == ":memory:" {
		return nil, errors.New("open store: sqlite needs a file path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// The file holds secrets (sealed access-key secrets, hashed API keys,
	// audit records): create it private to the owner before SQLite does,
	// since SQLite gives the -wal and -shm files the database's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Chmod(p, 0o600)
	}
	// WAL lets readers run beside one writer; the busy timeout makes a
	// second writer (the CLI beside the server) wait instead of failing;
	// immediate transactions take the write lock up front so two
	// transactions never deadlock upgrading read locks.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	sdb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := o.MaxOpenConns
	if n <= 0 {
		n = 8
	}
	sdb.SetMaxOpenConns(n)
	sdb.SetMaxIdleConns(n)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{SQL: sdb, Dialect: SQLite, Path: path}, nil
}

func openPostgres(o Options) (*DB, error) {
	if o.DSN == "" {
		return nil, errors.New("open store: postgres needs a DSN")
	}
	sdb, err := sql.Open("pgx", o.DSN)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := o.MaxOpenConns
	if n <= 0 {
		n = 16
	}
	sdb.SetMaxOpenConns(n)
	sdb.SetMaxIdleConns(n)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{SQL: sdb, Dialect: Postgres}, nil
}

// Close closes the pool.
func (db *DB) Close() error { return db.SQL.Close() }

// Exec runs a statement written with "?" placeholders.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	r, err := db.SQL.ExecContext(ctx, db.Dialect.Rebind(query), args...)
	return r, mapError(err)
}

// Query runs a query written with "?" placeholders. Errors from rows.Err are
// not mapped; use MapError if needed.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := db.SQL.QueryContext(ctx, db.Dialect.Rebind(query), args...)
	return rows, mapError(err)
}

// QueryRow runs a query expected to return one row and scans it into dest.
// No row is ErrNotFound.
func (db *DB) QueryRow(ctx context.Context, query string, args []any, dest ...any) error {
	return mapError(db.SQL.QueryRowContext(ctx, db.Dialect.Rebind(query), args...).Scan(dest...))
}

// Tx runs fn in a transaction, committing if it returns nil and rolling back
// otherwise. fn must not keep tx after it returns.
func (db *DB) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	stx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return mapError(err)
	}
	tx := &Tx{SQL: stx, Dialect: db.Dialect}
	if err := fn(tx); err != nil {
		_ = stx.Rollback()
		return err
	}
	return mapError(stx.Commit())
}

// Tx is a transaction with the same helpers as DB.
type Tx struct {
	// SQL is the underlying transaction.
	SQL *sql.Tx
	// Dialect is the SQL dialect of the database.
	Dialect Dialect
}

// Exec runs a statement written with "?" placeholders.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	r, err := tx.SQL.ExecContext(ctx, tx.Dialect.Rebind(query), args...)
	return r, mapError(err)
}

// Prepare compiles a statement written with "?" placeholders for repeated
// use within the transaction; it is closed with the transaction. Batched
// writers use it so that the statement is parsed once per batch, not once
// per row.
func (tx *Tx) Prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	st, err := tx.SQL.PrepareContext(ctx, tx.Dialect.Rebind(query))
	return st, mapError(err)
}

// Query runs a query written with "?" placeholders.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := tx.SQL.QueryContext(ctx, tx.Dialect.Rebind(query), args...)
	return rows, mapError(err)
}

// QueryRow runs a one-row query and scans it into dest; no row is ErrNotFound.
func (tx *Tx) QueryRow(ctx context.Context, query string, args []any, dest ...any) error {
	return mapError(tx.SQL.QueryRowContext(ctx, tx.Dialect.Rebind(query), args...).Scan(dest...))
}

// MapError maps driver errors to the package's sentinels: sql.ErrNoRows to
// ErrNotFound, unique and primary-key violations to ErrConflict. Other errors
// are returned unchanged.
func MapError(err error) error { return mapError(err) }

func mapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// RowsAffected returns ErrNotFound when res reports no affected row, for
// updates and deletes of one row by key.
func RowsAffected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// OptionsFrom returns the Options of the store configured in cfg,
// resolving a DSN given as a secret reference.
func OptionsFrom(cfg *config.Config, log *slog.Logger) (Options, error) {
	o := Options{Driver: cfg.Store.Driver, Home: cfg.Home, Logger: log}
	if cfg.Store.DSN != "" {
		dsn, err := cfg.Store.DSN.Resolve()
		if err != nil {
			return o, fmt.Errorf("store.dsn: %w", err)
		}
		o.DSN = dsn
	}
	return o, nil
}
