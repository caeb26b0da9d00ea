package gguf_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/outcrop/outcrop/internal/gguf"
)

// TestWriteRoundTrip writes a file of every supported metadata type and
// tensors of awkward sizes, then reads it back with the reader and checks
// every value, descriptor, offset, alignment and byte of data.
func TestWriteRoundTrip(t *testing.T) {
	meta := []gguf.KV{
		{"general.architecture", "llama"},
		{"llama.block_count", uint32(3)},
		{"test.neg", int32(-7)},
		{"test.eps", float32(1e-5)},
		{"test.flag", true},
		{"test.off", false},
		{"tokenizer.ggml.tokens", []string{"<s>", "a", "", "é✓"}},
		{"tokenizer.ggml.token_type", []int32{3, 1, -1, 1}},
	}
	data := [][]byte{make([]byte, 4*5), make([]byte, 4*32), make([]byte, 34)}
	for i, d := range data {
		for j := range d {
			d[j] = byte(i*31 + j)
		}
	}
	ts := []gguf.Tensor{
		{Name: "a.weight", Dims: []uint64{5}, Type: 0, Size: int64(len(data[0]))},
		{Name: "b.weight", Dims: []uint64{8, 4}, Type: 0, Size: int64(len(data[1]))},
		{Name: "c.weight", Dims: []uint64{32, 1}, Type: 8, Size: int64(len(data[2]))}, // one Q8_0 block
	}
	var b bytes.Buffer
	calls := 0
	if err := gguf.Write(&b, meta, ts, func(i int) ([]byte, error) {
		if i != calls {
			t.Fatalf("data(%d) called out of order (want %d)", i, calls)
		}
		calls++
		return data[i], nil
	}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatalf("Parse of written file: %v", err)
	}
	if f.Version != 3 || len(f.Keys) != len(meta) {
		t.Fatalf("version %d, %d keys", f.Version, len(f.Keys))
	}
	for i, kv := range meta {
		if f.Keys[i] != kv.Key || !reflect.DeepEqual(f.KV[kv.Key], kv.Value) {
			t.Errorf("key %d: %s = %#v, want %s = %#v", i, f.Keys[i], f.KV[f.Keys[i]], kv.Key, kv.Value)
		}
	}
	if f.DataOffset%gguf.Alignment != 0 {
		t.Errorf("data section at %d, not aligned", f.DataOffset)
	}
	for i, ti := range f.Tensors {
		if ti.Name != ts[i].Name || !reflect.DeepEqual(ti.Dims, ts[i].Dims) || ti.Type != ts[i].Type || ti.Offset%gguf.Alignment != 0 {
			t.Errorf("tensor %d = %+v, want %+v aligned", i, ti, ts[i])
		}
		at := f.DataOffset + int64(ti.Offset)
		if got := b.Bytes()[at : at+ts[i].Size]; !bytes.Equal(got, data[i]) {
			t.Errorf("tensor %s data differs", ti.Name)
		}
	}
	if want := f.DataOffset + int64(f.Tensors[2].Offset) + 64; int64(b.Len()) != want { // 34 bytes padded to 64
		t.Errorf("file is %d bytes, want %d", b.Len(), want)
	}
}

func TestWriteRefuses(t *testing.T) {
	ts := []gguf.Tensor{{Name: "t", Dims: []uint64{4}, Type: 0, Size: 16}}
	if err := gguf.Write(&bytes.Buffer{}, []gguf.KV{{"k", 1.5}}, nil, nil); err == nil {
		t.Error("a float64 value was written")
	}
	if err := gguf.Write(&bytes.Buffer{}, nil, ts, func(int) ([]byte, error) { return make([]byte, 12), nil }); err == nil {
		t.Error("12 bytes written for a 16-byte tensor")
	}
	boom := errors.New("boom")
	if err := gguf.Write(&bytes.Buffer{}, nil, ts, func(int) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("data error = %v, want it wrapped", err)
	}
}
