package vector_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outcrop/outcrop/internal/testenv"
	"github.com/outcrop/outcrop/internal/vector"
	"github.com/outcrop/outcrop/internal/vector/vectortest"
)

// pgvectorSchema returns a fresh schema name for one test index, dropped
// when the test ends.
func pgvectorSchema(t testing.TB, dsn string) string {
	t.Helper()
	schema := fmt.Sprintf("vt_%d_%d", time.Now().UnixNano(), rand.IntN(1_000_000))
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

func openPgvector(t testing.TB, dsn, schema string) *vector.Pgvector {
	t.Helper()
	idx, err := vector.OpenPgvector(context.Background(), vector.PgvectorOptions{DSN: dsn, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	return idx
}

// TestPgvectorConformance runs the conformance suite (the same as the
// embedded index's) against PostgreSQL with pgvector.
func TestPgvectorConformance(t *testing.T) {
	dsn := testenv.PgvectorDSN(t)
	var schema string
	vectortest.Run(t, vectortest.Factory{
		Open: func(t *testing.T) vector.Index {
			schema = pgvectorSchema(t, dsn)
			return openPgvector(t, dsn, schema)
		},
		Reopen: func(t *testing.T, idx vector.Index) vector.Index {
			idx.Close()
			return openPgvector(t, dsn, schema)
		},
	})
}
