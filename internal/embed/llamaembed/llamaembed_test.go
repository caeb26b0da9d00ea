package llamaembed

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/outcrop/outcrop/internal/embed"
	"github.com/outcrop/outcrop/internal/embed/bertgguf"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/testenv"
)

// reference is testdata/reference.json, written by testdata/reference.py
// with sentence-transformers.
type reference struct {
	MaxSeqLength int `json:"max_seq_length"`
	Items        []struct {
		Text      string    `json:"text"`
		Tokens    int       `json:"tokens"`
		Embedding []float32 `json:"embedding"`
	} `json:"items"`
}

var (
	modelOnce sync.Once
	modelPath string
	modelErr  error
)

// convertedModel converts the test's sentence-transformers directory once
// per test binary.
func convertedModel(t *testing.T) string {
	t.Helper()
	dir := testenv.EmbedModelDir(t)
	modelOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "llamaembed-test-*")
		if err != nil {
			modelErr = err
			return
		}
		modelPath = filepath.Join(tmp, "minilm.gguf")
		_, modelErr = bertgguf.Convert(dir, modelPath, "all-MiniLM-L6-v2")
	})
	if modelErr != nil {
		t.Fatalf("Convert: %v", modelErr)
	}
	return modelPath
}

func newEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	cfg.Path = convertedModel(t)
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func loadReference(t *testing.T) reference {
	t.Helper()
	b, err := os.ReadFile("testdata/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Items) < 20 {
		t.Fatalf("reference has %d items", len(ref.Items))
	}
	return ref
}

// TestReferenceVectors checks the engine against sentence-transformers on
// every committed sentence, embedded all in one call (several batches, as
// MaxSequences is small) and one at a time: cosine >= 0.999 and the same
// token count (truncation included).
func TestReferenceVectors(t *testing.T) {
	ref := loadReference(t)
	e := newEngine(t, Config{MaxSequences: 7, BatchTokens: 512})
	if e.Dimensions() != 384 || e.MaxTokens() != ref.MaxSeqLength {
		t.Fatalf("Dimensions, MaxTokens = %d, %d; want 384, %d", e.Dimensions(), e.MaxTokens(), ref.MaxSeqLength)
	}
	texts := make([]string, len(ref.Items))
	for i, it := range ref.Items {
		texts[i] = it.Text
	}
	all, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	worst := 1.0
	for i, it := range ref.Items {
		one, err := e.Embed(context.Background(), []string{it.Text})
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []struct {
			how string
			v   []float32
			n   int
		}{{"batched", all.Vectors[i], all.Tokens[i]}, {"alone", one.Vectors[0], one.Tokens[0]}} {
			c := embed.Cosine(got.v, it.Embedding)
			worst = min(worst, c)
			if c < 0.999 {
				t.Errorf("%s %q: cosine with sentence-transformers = %.5f, want >= 0.999", got.how, it.Text, c)
			}
			if got.n != it.Tokens {
				t.Errorf("%s %q: %d tokens, sentence-transformers %d", got.how, it.Text, got.n, it.Tokens)
			}
		}
	}
	t.Logf("worst cosine over %d sentences: %.6f", len(ref.Items), worst)
}

func TestSimilarityOrder(t *testing.T) {
	e := newEngine(t, Config{})
	r, err := e.Embed(context.Background(), []string{"How do I reset my password?", "I forgot my password, how can I change it?", "The weather is sunny today."})
	if err != nil {
		t.Fatal(err)
	}
	near, far := embed.Cosine(r.Vectors[0], r.Vectors[1]), embed.Cosine(r.Vectors[0], r.Vectors[2])
	if near <= far+0.2 {
		t.Errorf("paraphrase cosine %.3f not clearly above unrelated %.3f", near, far)
	}
}

func TestConcurrentAndClosed(t *testing.T) {
	e := newEngine(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.Embed(context.Background(), []string{"concurrent request", "second text"})
			if err == nil && len(r.Vectors) != 2 {
				err = errors.New("wrong vector count")
			}
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
	// Invalid UTF-8 is replaced, not passed to llama.cpp.
	if _, err := e.Embed(context.Background(), []string{"bad \xff\xfe bytes \xf7\xbf\xbf\xbf"}); err != nil {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, []string{"x"}); llm.AsError(err).Kind != llm.KindCanceled {
		t.Errorf("cancelled Embed: %v, want Canceled", err)
	}
	e.Close()
	if _, err := e.Embed(context.Background(), []string{"x"}); llm.AsError(err).Kind != llm.KindUnavailable {
		t.Errorf("Embed after Close: %v, want Unavailable", err)
	}
}

func TestNotBert(t *testing.T) {
	if _, err := New(Config{Path: testenv.GGUF(t)}, nil); err == nil {
		t.Fatal("New on a llama GGUF succeeded")
	}
}
