package store

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Migration is one schema change of one domain.
type Migration struct {
	// Version orders a domain's migrations; 1, 2, 3, … Never reuse one.
	Version int
	// Name says what the migration does, for logs and store_migrations.
	Name string
	// SQL is run on both dialects unless the dialect's own field is set.
	// It may hold several statements separated by ";" at line ends.
	SQL string
	// SQLite and Postgres replace SQL on that dialect.
	SQLite   string
	Postgres string
	// Func, if set, runs after the SQL in the same transaction.
	Func func(ctx context.Context, tx *Tx) error
}

// Domain is the migrations of one domain package.
type Domain struct {
	Name       string
	Migrations []Migration
}

// registry holds the migrations registered by domain packages at init.
var registry struct {
	mu      sync.Mutex // guards domains
	domains map[string][]Migration
}

// Register adds a domain's migrations to the set Open applies. Domain
// packages call it from init. Registering the same domain twice or a
// duplicate version panics: it is a programming error found by any test.
func Register(domain string, ms ...Migration) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.domains == nil {
		registry.domains = map[string][]Migration{}
	}
	if _, dup := registry.domains[domain]; dup {
		panic("store: domain " + domain + " registered twice")
	}
	seen := map[int]bool{}
	for _, m := range ms {
		if m.Version < 1 || seen[m.Version] {
			panic(fmt.Sprintf("store: domain %s: bad or duplicate migration version %d", domain, m.Version))
		}
		seen[m.Version] = true
	}
	registry.domains[domain] = append([]Migration(nil), ms...)
}

// Registered returns every registered domain, sorted by name.
func Registered() []Domain {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	out := make([]Domain, 0, len(registry.domains))
	for name, ms := range registry.domains {
		out = append(out, Domain{Name: name, Migrations: ms})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS store_migrations (
	domain TEXT NOT NULL,
	version BIGINT NOT NULL,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL,
	PRIMARY KEY (domain, version)
)`

// Migrate applies the migrations of domains that the database has not
// recorded yet, in version order per domain. Open calls it with Registered();
// tests may call it with their own domains.
func (db *DB) Migrate(ctx context.Context, domains []Domain) error {
	err := db.Tx(ctx, func(tx *Tx) error {
		if err := db.lock(ctx, tx); err != nil {
			return err
		}
		_, err := tx.SQL.ExecContext(ctx, migrationsTable)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: create store_migrations: %w", err)
	}
	for _, d := range domains {
		ms := append([]Migration(nil), d.Migrations...)
		sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
		for _, m := range ms {
			if err := db.apply(ctx, d.Name, m); err != nil {
				return fmt.Errorf("migrate %s v%d (%s): %w", d.Name, m.Version, m.Name, err)
			}
		}
	}
	return nil
}

// apply runs one migration unless already recorded. The check and the work
// happen in one transaction that holds a lock (SQLite: the immediate write
// lock; PostgreSQL: a transaction-scoped advisory lock), so concurrent
// openers apply each migration once.
func (db *DB) apply(ctx context.Context, domain string, m Migration) error {
	return db.Tx(ctx, func(tx *Tx) error {
		if err := db.lock(ctx, tx); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM store_migrations WHERE domain = ? AND version = ?`,
			[]any{domain, m.Version}, &n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		q := m.SQL
		if db.Dialect == SQLite && m.SQLite != "" {
			q = m.SQLite
		}
		if db.Dialect == Postgres && m.Postgres != "" {
			q = m.Postgres
		}
		for _, stmt := range splitStatements(q) {
			if _, err := tx.SQL.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		if m.Func != nil {
			if err := m.Func(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO store_migrations (domain, version, name, applied_at) VALUES (?, ?, ?, ?)`,
			domain, m.Version, m.Name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return err
		}
		db.log.Info("migration applied", "domain", domain, "version", m.Version, "name", m.Name)
		return nil
	})
}

// splitStatements splits a script on semicolons that end a line, which is
// enough for DDL without procedural bodies.
func splitStatements(s string) []string {
	var out []string
	var cur []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ';' {
			j := i + 1
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r') {
				j++
			}
			if j == len(s) || s[j] == '\n' {
				if st := trimSpace(string(cur)); st != "" {
					out = append(out, st)
				}
				cur = cur[:0]
				continue
			}
		}
		cur = append(cur, c)
	}
	if st := trimSpace(string(cur)); st != "" {
		out = append(out, st)
	}
	return out
}

func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\n' || s[j-1] == '\t' || s[j-1] == '\r') {
		j--
	}
	return s[i:j]
}

// lock serialises migrations across processes for the rest of tx. SQLite
// transactions already hold the write lock (immediate mode).
func (db *DB) lock(ctx context.Context, tx *Tx) error {
	if db.Dialect != Postgres {
		return nil
	}
	_, err := tx.SQL.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7239001)`)
	return err
}
