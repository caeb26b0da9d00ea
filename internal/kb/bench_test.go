package kb_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/kb"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/vector"
)

// BenchmarkIngest measures ingestion throughput in chunks per second through
// IngestKnowledgeBaseDocuments' path: parse, FIXED_SIZE chunking (the
// default 300 tokens), embedding with the built-in all-MiniLM-L6-v2 and
// indexing, for 10 documents of about 1,200 words (5 chunks each) per
// iteration.
func BenchmarkIngest(b *testing.B) {
	t := &testing.T{}
	eng := minilm(t)
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{Name: "bench", ARN: "arn:aws:iam::000000000000:user/bench"})
	home := b.TempDir()
	db, err := store.Open(ctx, store.Options{DSN: filepath.Join(home, "outcrop.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	idx, _ := vector.OpenEmbedded(filepath.Join(home, "vectors.db"), nil)
	defer idx.Close()
	reg, _ := embed.NewRegistry(&embed.Model{ID: "m", Embedder: eng})
	svc := &kb.Service{Store: resource.NewStore(db, resource.Scope{}, nil), Index: idx, Embeddings: reg}
	k, err := svc.CreateKnowledgeBase(ctx, &kb.KnowledgeBaseInput{Name: "b", RoleArn: "r", KnowledgeBaseConfiguration: json.RawMessage(`{"type":"VECTOR","vectorKnowledgeBaseConfiguration":{"embeddingModelArn":"m"}}`)})
	if err != nil {
		b.Fatal(err)
	}
	ds, err := svc.CreateDataSource(ctx, k.KnowledgeBaseID, &kb.DataSourceInput{Name: "d", DataSourceConfiguration: &kb.DataSourceConfiguration{Type: "CUSTOM"}})
	if err != nil {
		b.Fatal(err)
	}
	words := "knowledge bases split documents into chunks embed every chunk and store the vectors with their metadata so that a query can find passages "
	text := ""
	for len(text) < 7000 {
		text += words
	}
	chunks := 0
	start := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var docs []kb.Document
		for j := 0; j < 10; j++ {
			raw := fmt.Sprintf(`{"content":{"dataSourceType":"CUSTOM","custom":{"customDocumentIdentifier":{"id":"d%d-%d"},"sourceType":"IN_LINE","inlineContent":{"type":"TEXT","textContent":{"data":%q}}}}}`, i, j, text)
			var d kb.Document
			json.Unmarshal([]byte(raw), &d)
			docs = append(docs, d)
		}
		det, err := svc.IngestDocuments(ctx, k.KnowledgeBaseID, ds.DataSourceID, docs)
		if err != nil || det[0].Status != "INDEXED" {
			b.Fatalf("%v %+v", err, det)
		}
		chunks += 10 * len(kb.ChunkFixed(text, kb.FixedSizeChunkingConfiguration{MaxTokens: 300, OverlapPercentage: 20}))
	}
	b.ReportMetric(float64(chunks)/time.Since(start).Seconds(), "chunks/s")
}
