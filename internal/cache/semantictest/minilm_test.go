package semantictest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/embed/bertgguf"
	"github.com/outcrop/outcrop/internal/embed/llamaembed"
	"github.com/outcrop/outcrop/internal/testenv"
)

var (
	minilmOnce sync.Once
	minilmEng  *llamaembed.Engine
	minilmErr  error
)

// minilm returns the built-in embedding model (all-MiniLM-L6-v2, converted
// to GGUF once per test binary), the semantic cache's default embedder.
func minilm(t testing.TB) *llamaembed.Engine {
	t.Helper()
	dir := testenv.EmbedModelDir(t)
	minilmOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "cache-test-*")
		if err != nil {
			minilmErr = err
			return
		}
		p := filepath.Join(tmp, "minilm.gguf")
		if _, minilmErr = bertgguf.Convert(dir, p, "all-MiniLM-L6-v2"); minilmErr != nil {
			return
		}
		minilmEng, minilmErr = llamaembed.New(llamaembed.Config{Path: p, Threads: 1}, nil)
	})
	if minilmErr != nil {
		t.Fatal(minilmErr)
	}
	return minilmEng
}
