package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/testenv"
)

// TestEmbeddingsImport converts the sentence-transformers model and checks
// that `models ls` lists it.
func TestEmbeddingsImport(t *testing.T) {
	dir := testenv.EmbedModelDir(t)
	home := t.TempDir()
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			if k == "OUTCROP_HOME" {
				return home
			}
			return ""
		}}
		err := Run(context.Background(), env, args)
		return out.String(), err
	}
	if out, err := run("embeddings", "import", dir); err != nil || !strings.Contains(out, "imported all-minilm-l6-v2") {
		t.Fatalf("embeddings import: %q, %v", out, err)
	}
	out, err := run("models", "ls")
	if err != nil || !strings.Contains(out, "all-minilm-l6-v2") {
		t.Fatalf("models ls after import: %q, %v", out, err)
	}
	if _, err := run("embeddings", "import"); !errors.Is(err, ErrUsage) {
		t.Errorf("import without a directory: %v, want ErrUsage", err)
	}
	if _, err := run("embeddings", "import", t.TempDir()); err == nil {
		t.Error("import of an empty directory succeeded")
	}
}
