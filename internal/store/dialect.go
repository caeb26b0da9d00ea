package store

import (
	"strconv"
	"strings"
)

// Dialect is the SQL dialect of an open database.
type Dialect uint8

// Supported dialects.
const (
	SQLite Dialect = iota
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Rebind rewrites "?" placeholders to the dialect's form: unchanged for
// SQLite, $1, $2, … for PostgreSQL. Question marks inside single-quoted
// literals, double-quoted identifiers and comments are left alone.
func (d Dialect) Rebind(query string) string {
	if d != Postgres || strings.IndexByte(query, '?') < 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(query) && query[j] != c {
				j++
			}
			if j >= len(query) {
				j = len(query) - 1
			}
			b.WriteString(query[i : j+1])
			i = j
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i - 1
			}
			b.WriteString(query[i : i+j+1])
			i += j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Upsert returns an INSERT of cols into table that, when a row with the same
// keys exists, updates the non-key columns instead. It is written with "?"
// placeholders (one per column, in order) and is valid on both dialects.
// With update empty the other columns are all updated; with keys only (no
// other columns) the conflict is ignored.
func (d Dialect) Upsert(table string, cols, keys []string, update ...string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(table)
	b.WriteString(" (")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(") VALUES (")
	for i := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
	}
	b.WriteString(") ON CONFLICT (")
	b.WriteString(strings.Join(keys, ", "))
	b.WriteString(") DO ")
	if len(update) == 0 {
		isKey := map[string]bool{}
		for _, k := range keys {
			isKey[k] = true
		}
		for _, c := range cols {
			if !isKey[c] {
				update = append(update, c)
			}
		}
	}
	if len(update) == 0 {
		b.WriteString("NOTHING")
		return b.String()
	}
	b.WriteString("UPDATE SET ")
	for i, c := range update {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c)
		b.WriteString(" = excluded.")
		b.WriteString(c)
	}
	return b.String()
}
