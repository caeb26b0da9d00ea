package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/outcrop/outcrop/internal/embed/bertgguf"
	"github.com/outcrop/outcrop/internal/modelstore"
)

func init() {
	register("embeddings", "install sentence-embedding models (import)", runEmbeddings)
}

const embeddingsUsage = `embeddings <command>

Commands:
  import <dir> [--id ID] [--source S]
                           convert a sentence-transformers BERT model directory
                           (config.json, model.safetensors, vocab.txt, 1_Pooling/)
                           to GGUF and install it in the model store
                           (default id: all-minilm-l6-v2)

Installed embedding models are listed by ` + "`outcrop models ls`" + ` and served on
POST /v1/embeddings and InvokeModel (docs/KNOWLEDGE_BASES.md).`

func runEmbeddings(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.Stdout, "Usage: outcrop "+embeddingsUsage)
		return nil
	}
	if args[0] != "import" {
		fmt.Fprintln(env.Stderr, "Usage: outcrop "+embeddingsUsage)
		return fmt.Errorf("unknown embeddings command %q: %w", args[0], ErrUsage)
	}
	fs := newFlagSet(env, "embeddings import", "embeddings import <dir> [--id ID] [--source S]")
	id := fs.String("id", "all-minilm-l6-v2", "install under this id")
	source := fs.String("source", "", "record this as where the model came from (default: the directory)")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("embeddings import needs one directory: %w", ErrUsage)
	}
	store, err := modelstore.Open(modelstore.Home(env.Getenv))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "outcrop-embed-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, *id+".gguf")
	info, err := bertgguf.Convert(pos[0], out, *id)
	if err != nil {
		return err
	}
	m, err := store.ImportConverted(out, pos[0], *id, *source, "f32")
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "imported %s (%s; %s, sha256 %s) to %s\n", m.ID, info, humanBytes(m.Size), m.SHA256, m.Path)
	return nil
}
