package gguf_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/outcrop/outcrop/internal/gguf"
	"github.com/outcrop/outcrop/internal/gguf/ggufgen"
)

func tiny(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ggufgen.Write(&b, ggufgen.Options{Layers: 1, Embd: 32, FF: 64, Heads: 2, KVHeads: 1}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestOpenGenerated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := os.WriteFile(path, tiny(t), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := g.Architecture(); got != "llama" {
		t.Errorf("Architecture() = %q, want llama", got)
	}
	if got := g.ContextLength(); got != 2048 {
		t.Errorf("ContextLength() = %d, want 2048", got)
	}
	if got := g.String("tokenizer.chat_template"); got != ggufgen.ChatMLTemplate {
		t.Errorf("chat template = %q", got)
	}
	if got := g.Token(ggufgen.TokenImEnd); got != "<|im_end|>" {
		t.Errorf("Token(eos) = %q", got)
	}
	if n := len(g.Tensors); n != 2+9 {
		t.Errorf("%d tensors, want 11", n)
	}
}

func TestOpenBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := tiny(t)
	tests := []struct {
		name string
		data []byte // nil: file absent
		want error
	}{
		{name: "missing", want: os.ErrNotExist},
		{name: "empty", data: []byte{}, want: gguf.ErrNotGGUF},
		{name: "text", data: []byte("this is not a model at all, just text"), want: gguf.ErrNotGGUF},
		{name: "header cut", data: good[:100], want: gguf.ErrTruncated},
		{name: "data cut", data: good[:len(good)-40], want: gguf.ErrTruncated},
		{name: "bad version", data: append([]byte("GGUF\x09\x00\x00\x00"), good[8:]...), want: gguf.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".gguf")
			if tc.data != nil {
				if err := os.WriteFile(path, tc.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := gguf.Open(path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open(%s) = %v, want %v", tc.name, err, tc.want)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(path)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	good := tiny(f)
	f.Add(good[:2000])
	f.Add(good)
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := gguf.Parse(bytes.NewReader(data), int64(len(data)))
		if err == nil && g == nil {
			t.Fatal("nil file without error")
		}
	})
}
