package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// KV is one metadata entry of a file to write. Value is a uint32, an int32,
// a float32, a bool, a string, a []string or a []int32.
type KV struct {
	Key   string
	Value any
}

// Tensor is one tensor of a file to write: its name, its dimensions in ggml
// order (fastest-varying first, the reverse of PyTorch's), its ggml type
// and the size of its data in bytes.
type Tensor struct {
	Name string
	Dims []uint64
	Type uint32
	Size int64
}

// Alignment is the alignment of the data section and of each tensor's data
// in the files Write writes (GGUF's default, general.alignment unset).
const Alignment = 32

// Write writes a GGUF v3 file to w: the header, the metadata, the tensor
// descriptors, then each tensor's data, every one padded to Alignment.
// data(i) returns tensor i's bytes (exactly ts[i].Size of them); it is
// called once per tensor, in order, so a converter can produce one tensor
// at a time. Output is buffered; Write flushes it before returning.
func Write(w io.Writer, meta []KV, ts []Tensor, data func(i int) ([]byte, error)) error {
	cw := &countingWriter{w: bufio.NewWriterSize(w, 1<<20)}
	e := encoder{w: cw}
	e.bytes([]byte("GGUF"))
	e.u32(3)
	e.u64(uint64(len(ts)))
	e.u64(uint64(len(meta)))
	for _, kv := range meta {
		e.str(kv.Key)
		if err := e.value(kv.Value); err != nil {
			return fmt.Errorf("gguf: metadata %s: %w", kv.Key, err)
		}
	}
	off := int64(0)
	for _, t := range ts {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(t.Type)
		e.u64(uint64(off))
		off += t.Size + pad(t.Size)
	}
	e.bytes(make([]byte, pad(cw.n)))
	for i, t := range ts {
		if e.err != nil {
			break
		}
		b, err := data(i)
		if err != nil {
			return fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		if int64(len(b)) != t.Size {
			return fmt.Errorf("gguf: tensor %s has %d bytes of data, its descriptor says %d", t.Name, len(b), t.Size)
		}
		e.bytes(b)
		e.bytes(make([]byte, pad(t.Size)))
	}
	if e.err != nil {
		return e.err
	}
	return cw.w.Flush()
}

// pad is the padding after n bytes to the next multiple of Alignment.
func pad(n int64) int64 { return (Alignment - n%Alignment) % Alignment }

// countingWriter counts the bytes written through it, so that Write knows
// the header's length without seeking.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian GGUF fields, keeping the first error.
type encoder struct {
	w   io.Writer
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:4], v)
	e.bytes(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.bytes(e.buf[:])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		_, e.err = io.WriteString(e.w, s)
	}
}

// value writes a metadata value's type and the value.
func (e *encoder) value(v any) error {
	switch v := v.(type) {
	case uint32:
		e.u32(TypeUint32)
		e.u32(v)
	case int32:
		e.u32(TypeInt32)
		e.u32(uint32(v))
	case float32:
		e.u32(TypeFloat32)
		e.u32(math.Float32bits(v))
	case bool:
		e.u32(TypeBool)
		if v {
			e.bytes([]byte{1})
		} else {
			e.bytes([]byte{0})
		}
	case string:
		e.u32(TypeString)
		e.str(v)
	case []string:
		e.u32(TypeArray)
		e.u32(TypeString)
		e.u64(uint64(len(v)))
		for _, s := range v {
			e.str(s)
		}
	case []int32:
		e.u32(TypeArray)
		e.u32(TypeInt32)
		e.u64(uint64(len(v)))
		for _, x := range v {
			e.u32(uint32(x))
		}
	default:
		return fmt.Errorf("no GGUF encoding for %T", v)
	}
	return nil
}
