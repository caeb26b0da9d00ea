package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/gguf"
	"github.com/outcrop/outcrop/internal/gguf/ggufgen"
	"github.com/outcrop/outcrop/internal/llm"
)

// TestQuantize converts the tiny model with F32 weights, checks the file
// type the result declares, and generates from it.
func TestQuantize(t *testing.T) {
	in := tinyModel(t, ggufgen.Options{Quant: "f32"})
	for typ, ftype := range map[string]uint64{"q8_0": 7, "Q4_0": 2} {
		out := filepath.Join(t.TempDir(), "tiny-"+typ+".gguf")
		if err := Quantize(in, out, typ, 1); err != nil {
			t.Fatal(err)
		}
		g, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := g.Uint("general.file_type"); got != ftype {
			t.Errorf("%s: general.file_type = %d, want %d", typ, got, ftype)
		}
		if a, b := fileSize(t, in), fileSize(t, out); b >= a {
			t.Errorf("%s: %d bytes, not smaller than the F32 input's %d", typ, b, a)
		}
		e := newTiny(t, Config{Path: out, ignoreEOG: true})
		r := userRequest("hello")
		r.Inference.MaxTokens = ptr(4)
		resp := converse(t, e, r)
		if resp.Usage.OutputTokens != 4 || resp.StopReason != llm.StopMaxTokens {
			t.Errorf("%s: %d tokens, stop %s", typ, resp.Usage.OutputTokens, resp.StopReason)
		}
	}
}

func TestQuantizeErrors(t *testing.T) {
	in := tinyModel(t, ggufgen.Options{})
	dir := t.TempDir()
	notGGUF := filepath.Join(dir, "notes.gguf")
	os.WriteFile(notGGUF, []byte("not a model"), 0o644)
	for _, tc := range []struct {
		in, out, typ, want string
	}{
		{in, filepath.Join(dir, "a.gguf"), "q3_banana", `unknown type "q3_banana"`},
		{filepath.Join(dir, "missing.gguf"), filepath.Join(dir, "b.gguf"), "q8_0", "missing.gguf"},
		{notGGUF, filepath.Join(dir, "c.gguf"), "q8_0", "notes.gguf"},
		{in, in, "q8_0", "another file"},
	} {
		err := Quantize(tc.in, tc.out, tc.typ, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Quantize(%s, %s, %s) = %v, want an error containing %q", filepath.Base(tc.in), filepath.Base(tc.out), tc.typ, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a.gguf")); err == nil {
		t.Errorf("a failed quantization left its output")
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}
