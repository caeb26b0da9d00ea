package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/gguf/ggufgen"
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
