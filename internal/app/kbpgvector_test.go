package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outcrop/outcrop/internal/testenv"
)

// TestKnowledgeBasesOnPgvector: with knowledge_bases.vector_store.backend
// pgvector, a knowledge base's vectors live in PostgreSQL: a direct
// ingestion lands in the configured schema and Retrieve finds it.
func TestKnowledgeBasesOnPgvector(t *testing.T) {
	dsn := testenv.PgvectorDSN(t)
	base := testenv.OllamaURL(t)
	ctx := context.Background()
	schema := fmt.Sprintf("appkb_%d", time.Now().UnixNano())
	t.Setenv("OUTCROP_TEST_KB_DSN", dsn)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	})
	addr, cancel, _ := startApp(t, fmt.Sprintf(`
listen: 127.0.0.1:0
models:
  - id: chat
    deployments:
      - {provider: openai, base_url: %[1]s/v1, model: %[2]s}
embeddings:
  models:
    - {id: emb, provider: openai, base_url: %[1]s/v1, model: %[2]s, dimensions: 576}
knowledge_bases:
  vector_store: {backend: pgvector, dsn: "env:OUTCROP_TEST_KB_DSN", schema: %[3]s}
`, base, testenv.OllamaModel, schema))
	defer cancel()
	call := func(method, path, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return string(b)
	}
	field := func(body, name string) string {
		i := strings.Index(body, `"`+name+`":"`)
		if i < 0 {
			t.Fatalf("no %s in %s", name, body)
		}
		rest := body[i+len(name)+4:]
		return rest[:strings.IndexByte(rest, '"')]
	}
	kbID := field(call("PUT", "/knowledgebases/", `{"name":"pg","roleArn":"arn:aws:iam::000000000000:role/kb","knowledgeBaseConfiguration":{"type":"VECTOR","vectorKnowledgeBaseConfiguration":{"embeddingModelArn":"emb"}}}`), "knowledgeBaseId")
	dsID := field(call("PUT", "/knowledgebases/"+kbID+"/datasources/", `{"name":"c","dataSourceConfiguration":{"type":"CUSTOM"}}`), "dataSourceId")
	ing := call("PUT", "/knowledgebases/"+kbID+"/datasources/"+dsID+"/documents", `{"documents":[{"content":{"dataSourceType":"CUSTOM","custom":{"customDocumentIdentifier":{"id":"memo"},"sourceType":"IN_LINE","inlineContent":{"type":"TEXT","textContent":{"data":"The north garage has free parking."}}}}}]}`)
	if !strings.Contains(ing, `"INDEXED"`) {
		t.Fatalf("ingestion: %s", ing)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tbl string
	if err := conn.QueryRow(ctx, "SELECT tbl FROM "+pgx.Identifier{schema, "vector_collections"}.Sanitize()+" WHERE name LIKE '%/'||$1", kbID).Scan(&tbl); err != nil {
		t.Fatalf("the knowledge base's collection is not in pgvector: %v", err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, tbl}.Sanitize()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("records in %s: %d, %v", tbl, n, err)
	}
	got := call("POST", "/knowledgebases/"+kbID+"/retrieve", `{"retrievalQuery":{"text":"where is parking free?"}}`)
	if !strings.Contains(got, "north garage") || !strings.Contains(got, `"CUSTOM"`) {
		t.Errorf("Retrieve = %s", got)
	}
}
