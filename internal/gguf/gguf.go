// Package gguf reads the header of GGUF model files: metadata key/values and
// tensor descriptors. It validates that the file is complete (every tensor's
// data lies inside the file) so that callers can reject a missing, truncated
// or foreign file with a clear error before handing it to llama.cpp, which
// may abort the process on malformed input.
//
// Only the header is read; tensor data is never loaded.
package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Errors returned by Open and Parse, wrapped with the file name and detail.
var (
	// ErrNotGGUF means the file does not start with the GGUF magic.
	ErrNotGGUF = errors.New("not a GGUF file")
	// ErrTruncated means the file ends before its header or tensor data does.
	ErrTruncated = errors.New("truncated GGUF file")
	// ErrMalformed means the header is inconsistent (bad type, absurd count).
	ErrMalformed = errors.New("malformed GGUF file")
)

// Value types of metadata, as numbered by the GGUF specification.
const (
	TypeUint8   uint32 = 0
	TypeInt8    uint32 = 1
	TypeUint16  uint32 = 2
	TypeInt16   uint32 = 3
	TypeUint32  uint32 = 4
	TypeInt32   uint32 = 5
	TypeFloat32 uint32 = 6
	TypeBool    uint32 = 7
	TypeString  uint32 = 8
	TypeArray   uint32 = 9
	TypeUint64  uint32 = 10
	TypeInt64   uint32 = 11
	TypeFloat64 uint32 = 12
)

// Limits that keep a hostile header from making the reader allocate without
// bound. Real models stay far below them (SmolLM2 has 49,152 vocabulary
// entries; the largest vocabularies are around 260k).
const (
	maxString  = 64 << 20 // bytes in one string (chat templates can be large)
	maxArray   = 16 << 20 // elements in one array
	maxKV      = 1 << 16  // metadata entries
	maxTensors = 1 << 20  // tensor descriptors
	maxDims    = 8
)

// TensorInfo describes one tensor of the file.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   uint32 // ggml type id
	Offset uint64 // relative to File.DataOffset
}

// Elements returns the number of elements of the tensor.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Size returns the tensor's data size in bytes, and false if the ggml type
// is unknown to this package.
func (t TensorInfo) Size() (uint64, bool) {
	bt, ok := blockTypes[t.Type]
	if !ok {
		return 0, false
	}
	return t.Elements() / bt.block * bt.bytes, true
}

type blockType struct{ block, bytes uint64 }

// blockTypes gives elements per block and bytes per block for the ggml types
// found in published GGUF files.
var blockTypes = map[uint32]blockType{
	0: {1, 4}, 1: {1, 2}, 2: {32, 18}, 3: {32, 20}, 6: {32, 22}, 7: {32, 24},
	8: {32, 34}, 9: {32, 36}, 10: {256, 84}, 11: {256, 110}, 12: {256, 144},
	13: {256, 176}, 14: {256, 210}, 15: {256, 292}, 16: {256, 66}, 17: {256, 74},
	18: {256, 98}, 19: {256, 50}, 20: {32, 18}, 21: {256, 110}, 22: {256, 82},
	23: {256, 136}, 24: {1, 1}, 25: {1, 2}, 26: {1, 4}, 27: {1, 8}, 28: {1, 8},
	29: {256, 56}, 30: {1, 2}, 34: {256, 54}, 35: {256, 66}, 39: {32, 17},
}

// File is the parsed header of a GGUF file.
type File struct {
	Version uint32
	// Keys lists the metadata keys in file order.
	Keys []string
	// KV maps each key to its value: uint8…int64 and float32/float64 as the
	// matching Go type, bool, string, or []any for arrays (with []string for
	// string arrays and []int32 / []uint32 / []float32 for those element types).
	KV      map[string]any
	Tensors []TensorInfo
	// DataOffset is where tensor data starts, from the beginning of the file.
	DataOffset int64
	// Size is the file size in bytes, or -1 if unknown (Parse on a stream).
	Size int64
}

// Open reads and validates the header of the GGUF file at path. Every error
// names the file.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("model file %s: is a directory: %w", path, ErrNotGGUF)
	}
	g, err := parse(bufio.NewReaderSize(f, 1<<16), st.Size())
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", path, err)
	}
	return g, nil
}

// Parse reads a GGUF header from r. size is the total size of the file r
// reads, used to check that tensor data is complete; pass -1 to skip that
// check.
func Parse(r io.Reader, size int64) (*File, error) {
	return parse(bufio.NewReader(r), size)
}

type reader struct {
	r   *bufio.Reader
	n   int64 // bytes consumed
	err error
}

func (r *reader) read(p []byte) bool {
	if r.err != nil {
		return false
	}
	k, err := io.ReadFull(r.r, p)
	r.n += int64(k)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("header ends at byte %d: %w", r.n, ErrTruncated)
		}
		r.err = err
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	var b [1]byte
	r.read(b[:])
	return b[0]
}

func (r *reader) u16() uint16 {
	var b [2]byte
	r.read(b[:])
	return binary.LittleEndian.Uint16(b[:])
}

func (r *reader) u32() uint32 {
	var b [4]byte
	r.read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}

func (r *reader) u64() uint64 {
	var b [8]byte
	r.read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format+": %w", append(args, ErrMalformed)...)
	}
}

func (r *reader) str() string {
	n := r.u64()
	if r.err != nil {
		return ""
	}
	if n > maxString {
		r.fail("string of %d bytes at byte %d", n, r.n)
		return ""
	}
	// Read in pieces so that a lying length on a short file fails at EOF
	// instead of allocating the whole claimed size up front.
	var buf []byte
	for n > 0 && r.err == nil {
		k := min(n, 1<<16)
		chunk := make([]byte, k)
		if !r.read(chunk) {
			return ""
		}
		buf = append(buf, chunk...)
		n -= k
	}
	return string(buf)
}

func parse(br *bufio.Reader, size int64) (*File, error) {
	r := &reader{r: br}
	var magic [4]byte
	if !r.read(magic[:]) {
		if errors.Is(r.err, ErrTruncated) {
			return nil, fmt.Errorf("file is %d bytes, too short for a GGUF header: %w", r.n, ErrNotGGUF)
		}
		return nil, r.err
	}
	if string(magic[:]) != "GGUF" {
		return nil, fmt.Errorf("magic %q, want \"GGUF\": %w", magic[:], ErrNotGGUF)
	}
	g := &File{Version: r.u32(), KV: map[string]any{}, Size: size}
	if r.err == nil && (g.Version < 2 || g.Version > 3) {
		return nil, fmt.Errorf("unsupported GGUF version %d: %w", g.Version, ErrMalformed)
	}
	nt, nkv := r.u64(), r.u64()
	if r.err != nil {
		return nil, r.err
	}
	if nt > maxTensors || nkv > maxKV {
		return nil, fmt.Errorf("%d tensors, %d metadata entries: %w", nt, nkv, ErrMalformed)
	}
	for i := uint64(0); i < nkv && r.err == nil; i++ {
		k := r.str()
		t := r.u32()
		v := r.value(t, 0)
		if r.err == nil {
			if _, dup := g.KV[k]; !dup {
				g.Keys = append(g.Keys, k)
			}
			g.KV[k] = v
		}
	}
	for i := uint64(0); i < nt && r.err == nil; i++ {
		var ti TensorInfo
		ti.Name = r.str()
		nd := r.u32()
		if r.err == nil && nd > maxDims {
			r.fail("tensor %q has %d dimensions", ti.Name, nd)
		}
		for j := uint32(0); j < nd && r.err == nil; j++ {
			ti.Dims = append(ti.Dims, r.u64())
		}
		ti.Type = r.u32()
		ti.Offset = r.u64()
		g.Tensors = append(g.Tensors, ti)
	}
	if r.err != nil {
		return nil, r.err
	}
	align := int64(32)
	if a, ok := g.KV["general.alignment"].(uint32); ok {
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("alignment %d is not a power of two: %w", a, ErrMalformed)
		}
		align = int64(a)
	}
	g.DataOffset = (r.n + align - 1) / align * align
	if size >= 0 {
		if err := g.checkExtents(); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// checkExtents verifies that every tensor's data lies inside the file.
func (g *File) checkExtents() error {
	var end uint64
	for _, t := range g.Tensors {
		sz, ok := t.Size()
		if !ok {
			sz = 0
		}
		if t.Offset > math.MaxInt64 || sz > math.MaxInt64-t.Offset {
			return fmt.Errorf("tensor %q extends past any file: %w", t.Name, ErrMalformed)
		}
		if e := t.Offset + sz; e > end {
			end = e
		}
	}
	if uint64(g.DataOffset) > math.MaxInt64-end {
		return fmt.Errorf("tensor data extends past any file: %w", ErrMalformed)
	}
	need := g.DataOffset + int64(end)
	if len(g.Tensors) > 0 && need > g.Size {
		return fmt.Errorf("file is %d bytes but its tensors need %d: %w", g.Size, need, ErrTruncated)
	}
	return nil
}

func (r *reader) value(t uint32, depth int) any {
	switch t {
	case TypeUint8:
		return r.u8()
	case TypeInt8:
		return int8(r.u8())
	case TypeUint16:
		return r.u16()
	case TypeInt16:
		return int16(r.u16())
	case TypeUint32:
		return r.u32()
	case TypeInt32:
		return int32(r.u32())
	case TypeFloat32:
		return math.Float32frombits(r.u32())
	case TypeBool:
		return r.u8() != 0
	case TypeString:
		return r.str()
	case TypeUint64:
		return r.u64()
	case TypeInt64:
		return int64(r.u64())
	case TypeFloat64:
		return math.Float64frombits(r.u64())
	case TypeArray:
		if depth > 2 {
			r.fail("arrays nested too deep")
			return nil
		}
		et := r.u32()
		n := r.u64()
		if r.err != nil {
			return nil
		}
		if n > maxArray {
			r.fail("array of %d elements", n)
			return nil
		}
		// Grow as elements arrive rather than trusting n for the allocation.
		capHint := int(min(n, 4096))
		switch et {
		case TypeString:
			out := make([]string, 0, capHint)
			for i := uint64(0); i < n && r.err == nil; i++ {
				out = append(out, r.str())
			}
			return out
		case TypeInt32:
			out := make([]int32, 0, capHint)
			for i := uint64(0); i < n && r.err == nil; i++ {
				out = append(out, int32(r.u32()))
			}
			return out
		case TypeUint32:
			out := make([]uint32, 0, capHint)
			for i := uint64(0); i < n && r.err == nil; i++ {
				out = append(out, r.u32())
			}
			return out
		case TypeFloat32:
			out := make([]float32, 0, capHint)
			for i := uint64(0); i < n && r.err == nil; i++ {
				out = append(out, math.Float32frombits(r.u32()))
			}
			return out
		}
		out := make([]any, 0, capHint)
		for i := uint64(0); i < n && r.err == nil; i++ {
			out = append(out, r.value(et, depth+1))
		}
		return out
	}
	r.fail("unknown value type %d", t)
	return nil
}

// String returns the string value of key, or "" if it is absent or not a
// string.
func (g *File) String(key string) string {
	s, _ := g.KV[key].(string)
	return s
}

// Uint returns the value of key as an unsigned integer, accepting any integer
// type, and false if it is absent, negative or not an integer.
func (g *File) Uint(key string) (uint64, bool) {
	switch v := g.KV[key].(type) {
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	case int8:
		return uint64(v), v >= 0
	case int16:
		return uint64(v), v >= 0
	case int32:
		return uint64(v), v >= 0
	case int64:
		return uint64(v), v >= 0
	}
	return 0, false
}

// Architecture returns general.architecture.
func (g *File) Architecture() string { return g.String("general.architecture") }

// ContextLength returns <arch>.context_length, or 0 if absent.
func (g *File) ContextLength() int {
	n, _ := g.Uint(g.Architecture() + ".context_length")
	return int(n)
}

// Token returns the vocabulary entry for id, or "" if there is none.
func (g *File) Token(id uint64) string {
	toks, _ := g.KV["tokenizer.ggml.tokens"].([]string)
	if id < uint64(len(toks)) {
		return toks[id]
	}
	return ""
}
