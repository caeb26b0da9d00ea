package semantictest

import (
	"context"
	"testing"

	"github.com/outcrop/outcrop/internal/cache"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/embed"
)

// TestSetupSemantic builds the stage from configuration as the server does:
// the embedding model comes from the embeddings registry (missing: startup
// fails), the embedded index serves, and verify: lexical is wired.
func TestSetupSemantic(t *testing.T) {
	reg, err := embed.NewRegistry(&embed.Model{ID: cache.DefaultEmbeddingModel, Embedder: minilm(t)})
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(m string) (string, string, bool) { return m, "v1", true }
	setup := func(src string, emb *embed.Registry) (*cache.Stage, error) {
		cfg, err := config.Parse([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		st, closeFn, err := cache.Setup(context.Background(), cfg, nil, nil, resolve, emb)
		if err == nil {
			t.Cleanup(func() { closeFn() })
		}
		return st, err
	}
	st, err := setup("cache:\n  semantic:\n    models: {acme.chat-v1: 0}\n    verify: lexical\n", reg)
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{}
	h := st.Wrap(u.handle)
	do(t, h, call("alice", "What is 7 times 8?", nil))
	do(t, h, call("alice", "what is 7 times 8", nil))
	do(t, h, call("alice", "What is 7 times 9?", nil))
	if n := u.calls.Load(); n != 2 {
		t.Errorf("upstream calls = %d, want 2 (a rewording served, another number verified away)", n)
	}
	if _, err := setup("cache:\n  semantic:\n    models: {acme.chat-v1: 0}\n    embedding_model: no-such-model\n", reg); err == nil {
		t.Error("Setup with an embedding model that is not served succeeded")
	}
	if _, err := setup("cache:\n  semantic:\n    models: {acme.chat-v1: 0}\n", nil); err == nil {
		t.Error("Setup with no embeddings succeeded")
	}
}
