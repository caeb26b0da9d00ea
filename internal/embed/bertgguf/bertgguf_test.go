package bertgguf

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/outcrop/outcrop/internal/gguf"
	"github.com/outcrop/outcrop/internal/testenv"
)

func TestConvert(t *testing.T) {
	dir := testenv.EmbedModelDir(t)
	out := filepath.Join(t.TempDir(), "m.gguf")
	info, err := Convert(dir, out, "all-MiniLM-L6-v2")
	if err != nil {
		t.Fatal(err)
	}
	if info.Dimensions != 384 || info.Layers != 6 || info.MaxTokens != 256 || info.Pooling != PoolingMean || !info.Normalize || info.VocabSize != 30522 || info.TensorCount != 5+16*6 {
		t.Errorf("Convert = %+v", info)
	}
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatalf("gguf.Open of the output: %v", err)
	}
	if g.Architecture() != "bert" || g.ContextLength() != 512 {
		t.Errorf("arch %q, context %d", g.Architecture(), g.ContextLength())
	}
	if tok := g.Token(2023); tok != "\u2581this" {
		t.Errorf("token 2023 = %q, want phantom-space \"this\"", tok)
	}
	if id, _ := g.Uint("tokenizer.ggml.seperator_token_id"); id != 102 {
		t.Errorf("sep id %d", id)
	}
	for _, ti := range g.Tensors {
		if ti.Name == "blk.0.ffn_up.weight" && (len(ti.Dims) != 2 || ti.Dims[0] != 384 || ti.Dims[1] != 1536) {
			t.Errorf("ffn_up dims %v, want [384 1536] (ggml order)", ti.Dims)
		}
	}
}

func TestConvertRejects(t *testing.T) {
	dir := t.TempDir()
	if _, err := Convert(dir, filepath.Join(dir, "x.gguf"), "x"); err == nil {
		t.Error("empty directory converted")
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type":"llama"}`), 0o644)
	if _, err := Convert(dir, filepath.Join(dir, "x.gguf"), "x"); err == nil {
		t.Error("llama config converted")
	}
}

// FuzzSafetensorsHeader: any header either parses into tensors whose byte
// ranges fit the data, or fails; it never panics.
func FuzzSafetensorsHeader(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}}`), int64(16))
	f.Add([]byte(`{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,6]}}`), int64(5))
	f.Add([]byte(`{"a":{"dtype":"X","shape":[1099511627776,1099511627776],"data_offsets":[0,-1]}}`), int64(0))
	f.Add([]byte(`[]`), int64(0))
	f.Fuzz(func(t *testing.T, hdr []byte, size int64) {
		h, err := decodeHeader(hdr, size)
		if err != nil {
			return
		}
		for name, ts := range h {
			if ts.Offsets[1] > size || ts.Offsets[0] < 0 || ts.Offsets[0] > ts.Offsets[1] {
				t.Fatalf("tensor %s range %v outside %d", name, ts.Offsets, size)
			}
		}
	})
}

func TestOpenSafetensorsTruncated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.safetensors")
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, 1000)
	b = append(b, `{"a":1}`...)
	os.WriteFile(p, b, 0o644)
	if _, err := openSafetensors(p); err == nil {
		t.Error("truncated file opened")
	}
}

func TestHalfToFloat(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want float32
	}{{0x3c00, 1}, {0xc000, -2}, {0x0000, 0}, {0x3800, 0.5}, {0x0001, 5.9604645e-08}} {
		if got := halfToFloat(tc.h); got != tc.want {
			t.Errorf("halfToFloat(%#x) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
