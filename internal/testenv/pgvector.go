package testenv

import "testing"

// PgvectorDSN returns a DSN of a scratch PostgreSQL database whose server
// has the pgvector extension (scripts/test-services.sh: the pgvector peer,
// PostgreSQL 16 and pgvector 0.6 from the PyPI wheel pgserver).
func PgvectorDSN(t testing.TB) string { t.Helper(); return Lookup(t, "OUTCROP_TEST_PGVECTOR_DSN") }
