// Package eventstream encodes and decodes the AWS event stream framing
// (Content-Type application/vnd.amazon.eventstream) that Bedrock uses for
// ConverseStream, InvokeModelWithResponseStream and the agent runtime
// streams.
//
// A message is a prelude (total length, headers length, prelude CRC), a
// block of typed headers, a payload and a CRC32 (IEEE) of everything before
// it. All integers are big-endian. The encoder appends to a caller-owned
// buffer so that a stream writer can frame every event without allocating;
// the decoder checks both CRCs and every length before trusting it.
package eventstream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// ValueType is the wire type of a header value.
type ValueType uint8

// Header value types, numbered as on the wire.
const (
	TypeTrue      ValueType = 0 // bool true, no value bytes
	TypeFalse     ValueType = 1 // bool false, no value bytes
	TypeByte      ValueType = 2 // int8
	TypeShort     ValueType = 3 // int16
	TypeInt       ValueType = 4 // int32
	TypeLong      ValueType = 5 // int64
	TypeBytes     ValueType = 6 // uint16 length + bytes
	TypeString    ValueType = 7 // uint16 length + UTF-8
	TypeTimestamp ValueType = 8 // int64 milliseconds since the Unix epoch
	TypeUUID      ValueType = 9 // 16 bytes
)

// Limits of the format.
const (
	// MaxHeaderNameLen is the longest header name (its length is one byte).
	MaxHeaderNameLen = 255
	// MaxHeaderValueLen is the longest byte-array or string header value.
	MaxHeaderValueLen = 1<<15 - 1
	// DefaultMaxMessageLen bounds the messages a Decoder accepts unless told
	// otherwise: 16 MiB of payload plus 128 KiB of headers, as AWS services
	// allow.
	DefaultMaxMessageLen = 16<<20 + 128<<10 + minMessageLen
)

const (
	preludeLen    = 12 // total length, headers length, prelude CRC
	minMessageLen = preludeLen + 4
)

// Value is a typed header value. Type says which field is meaningful: Int
// for the integer types (and milliseconds for TypeTimestamp), Str for
// TypeString, Bytes for TypeBytes and TypeUUID (16 bytes).
type Value struct {
	Type  ValueType
	Int   int64
	Str   string
	Bytes []byte
}

// String returns a string value.
func String(s string) Value { return Value{Type: TypeString, Str: s} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	if b {
		return Value{Type: TypeTrue}
	}
	return Value{Type: TypeFalse}
}

// Int8 returns a byte value.
func Int8(v int8) Value { return Value{Type: TypeByte, Int: int64(v)} }

// Int16 returns a short value.
func Int16(v int16) Value { return Value{Type: TypeShort, Int: int64(v)} }

// Int32 returns an integer value.
func Int32(v int32) Value { return Value{Type: TypeInt, Int: int64(v)} }

// Int64 returns a long value.
func Int64(v int64) Value { return Value{Type: TypeLong, Int: v} }

// Bytes returns a byte-array value.
func Bytes(b []byte) Value { return Value{Type: TypeBytes, Bytes: b} }

// Timestamp returns a timestamp value, kept to the millisecond.
func Timestamp(t time.Time) Value { return Value{Type: TypeTimestamp, Int: t.UnixMilli()} }

// UUID returns a UUID value.
func UUID(u [16]byte) Value { return Value{Type: TypeUUID, Bytes: u[:]} }

// Bool reports the value of a boolean header.
func (v Value) Bool() bool { return v.Type == TypeTrue }

// Time returns the value of a timestamp header.
func (v Value) Time() time.Time { return time.UnixMilli(v.Int) }

// Header is one named header.
type Header struct {
	Name  string
	Value Value
}

// Headers are a message's headers in wire order.
type Headers []Header

// Get returns the value of the first header called name.
func (h Headers) Get(name string) (Value, bool) {
	for _, x := range h {
		if x.Name == name {
			return x.Value, true
		}
	}
	return Value{}, false
}

// String returns the value of the string header called name, or "" when
// there is none.
func (h Headers) String(name string) string {
	v, ok := h.Get(name)
	if !ok || v.Type != TypeString {
		return ""
	}
	return v.Str
}

// Message is one event stream message.
type Message struct {
	Headers Headers
	Payload []byte
}

// Errors the decoder returns, wrapped with detail.
var (
	// ErrChecksum reports a prelude or message CRC that does not match.
	ErrChecksum = errors.New("eventstream: checksum mismatch")
	// ErrFormat reports a message whose lengths or headers are invalid.
	ErrFormat = errors.New("eventstream: malformed message")
	// ErrTooLarge reports a message longer than the decoder accepts.
	ErrTooLarge = errors.New("eventstream: message too large")
)

// Append appends the encoding of m to dst and returns the extended buffer.
// It fails only when a header does not fit the format (a name longer than
// 255 bytes, a value longer than 32767 bytes, a UUID that is not 16 bytes or
// an unknown type); dst is then returned unchanged.
func Append(dst []byte, m *Message) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, preludeLen)...)
	var err error
	for i := range m.Headers {
		if dst, err = appendHeader(dst, &m.Headers[i]); err != nil {
			return dst[:start], err
		}
	}
	headersLen := len(dst) - start - preludeLen
	dst = append(dst, m.Payload...)
	total := len(dst) - start + 4
	if uint64(total) > 1<<32-1 {
		return dst[:start], fmt.Errorf("%w: %d bytes", ErrTooLarge, total)
	}
	p := dst[start:]
	binary.BigEndian.PutUint32(p[0:4], uint32(total))
	binary.BigEndian.PutUint32(p[4:8], uint32(headersLen))
	binary.BigEndian.PutUint32(p[8:12], crc32.ChecksumIEEE(p[0:8]))
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(p)), nil
}

func appendHeader(dst []byte, h *Header) ([]byte, error) {
	if len(h.Name) == 0 || len(h.Name) > MaxHeaderNameLen {
		return dst, fmt.Errorf("%w: header name of %d bytes", ErrFormat, len(h.Name))
	}
	dst = append(dst, byte(len(h.Name)))
	dst = append(dst, h.Name...)
	v := &h.Value
	dst = append(dst, byte(v.Type))
	switch v.Type {
	case TypeTrue, TypeFalse:
	case TypeByte:
		dst = append(dst, byte(int8(v.Int)))
	case TypeShort:
		dst = binary.BigEndian.AppendUint16(dst, uint16(int16(v.Int)))
	case TypeInt:
		dst = binary.BigEndian.AppendUint32(dst, uint32(int32(v.Int)))
	case TypeLong, TypeTimestamp:
		dst = binary.BigEndian.AppendUint64(dst, uint64(v.Int))
	case TypeBytes:
		if len(v.Bytes) > MaxHeaderValueLen {
			return dst, fmt.Errorf("%w: header %s value of %d bytes", ErrFormat, h.Name, len(v.Bytes))
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v.Bytes)))
		dst = append(dst, v.Bytes...)
	case TypeString:
		if len(v.Str) > MaxHeaderValueLen {
			return dst, fmt.Errorf("%w: header %s value of %d bytes", ErrFormat, h.Name, len(v.Str))
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v.Str)))
		dst = append(dst, v.Str...)
	case TypeUUID:
		if len(v.Bytes) != 16 {
			return dst, fmt.Errorf("%w: header %s UUID of %d bytes", ErrFormat, h.Name, len(v.Bytes))
		}
		dst = append(dst, v.Bytes...)
	default:
		return dst, fmt.Errorf("%w: header %s has unknown type %d", ErrFormat, h.Name, v.Type)
	}
	return dst, nil
}

// Encoder writes messages to a writer, reusing one buffer. It is not safe
// for concurrent use.
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes m as one Write call.
func (e *Encoder) Encode(m *Message) error {
	b, err := Append(e.buf[:0], m)
	if err != nil {
		return err
	}
	e.buf = b
	_, err = e.w.Write(b)
	return err
}

// Parse decodes the message at the start of b and returns it with the number
// of bytes it took. The message's payload and byte values alias b. When b
// holds only part of a message, Parse returns io.ErrUnexpectedEOF (io.EOF
// when b is empty).
func Parse(b []byte) (Message, int, error) {
	if len(b) == 0 {
		return Message{}, 0, io.EOF
	}
	if len(b) < preludeLen {
		return Message{}, 0, io.ErrUnexpectedEOF
	}
	total, headersLen, err := prelude(b[:preludeLen], 1<<32-1)
	if err != nil {
		return Message{}, 0, err
	}
	if uint64(len(b)) < uint64(total) {
		return Message{}, 0, io.ErrUnexpectedEOF
	}
	m, err := body(b[:total], headersLen)
	return m, int(total), err
}

// prelude checks the 12-byte prelude p and returns the lengths it declares.
func prelude(p []byte, maxLen uint32) (total, headersLen uint32, err error) {
	total = binary.BigEndian.Uint32(p[0:4])
	headersLen = binary.BigEndian.Uint32(p[4:8])
	if got, want := crc32.ChecksumIEEE(p[0:8]), binary.BigEndian.Uint32(p[8:12]); got != want {
		return 0, 0, fmt.Errorf("%w: prelude CRC %08x, computed %08x", ErrChecksum, want, got)
	}
	if total < minMessageLen || uint64(headersLen) > uint64(total)-minMessageLen {
		return 0, 0, fmt.Errorf("%w: total length %d, headers length %d", ErrFormat, total, headersLen)
	}
	if total > maxLen {
		return 0, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, total, maxLen)
	}
	return total, headersLen, nil
}

// body decodes a complete message b whose prelude has been checked.
func body(b []byte, headersLen uint32) (Message, error) {
	n := len(b)
	if got, want := crc32.ChecksumIEEE(b[:n-4]), binary.BigEndian.Uint32(b[n-4:]); got != want {
		return Message{}, fmt.Errorf("%w: message CRC %08x, computed %08x", ErrChecksum, want, got)
	}
	hs, err := parseHeaders(b[preludeLen : preludeLen+int(headersLen)])
	if err != nil {
		return Message{}, err
	}
	m := Message{Headers: hs}
	if p := b[preludeLen+int(headersLen) : n-4]; len(p) > 0 {
		m.Payload = p
	}
	return m, nil
}

func parseHeaders(b []byte) (Headers, error) {
	var hs Headers
	for len(b) > 0 {
		nameLen := int(b[0])
		if nameLen == 0 || len(b) < 1+nameLen+1 {
			return nil, fmt.Errorf("%w: truncated or empty header name", ErrFormat)
		}
		h := Header{Name: string(b[1 : 1+nameLen])}
		h.Value.Type = ValueType(b[1+nameLen])
		b = b[2+nameLen:]
		need := 0
		switch h.Value.Type {
		case TypeTrue, TypeFalse:
		case TypeByte:
			need = 1
		case TypeShort:
			need = 2
		case TypeInt:
			need = 4
		case TypeLong, TypeTimestamp:
			need = 8
		case TypeUUID:
			need = 16
		case TypeBytes, TypeString:
			if len(b) < 2 {
				return nil, fmt.Errorf("%w: header %s: truncated length", ErrFormat, h.Name)
			}
			need = 2 + int(binary.BigEndian.Uint16(b))
		default:
			return nil, fmt.Errorf("%w: header %s has unknown type %d", ErrFormat, h.Name, h.Value.Type)
		}
		if len(b) < need {
			return nil, fmt.Errorf("%w: header %s: truncated value", ErrFormat, h.Name)
		}
		v := b[:need]
		b = b[need:]
		switch h.Value.Type {
		case TypeByte:
			h.Value.Int = int64(int8(v[0]))
		case TypeShort:
			h.Value.Int = int64(int16(binary.BigEndian.Uint16(v)))
		case TypeInt:
			h.Value.Int = int64(int32(binary.BigEndian.Uint32(v)))
		case TypeLong, TypeTimestamp:
			h.Value.Int = int64(binary.BigEndian.Uint64(v))
		case TypeUUID:
			h.Value.Bytes = v
		case TypeBytes:
			if len(v) > 2+MaxHeaderValueLen {
				return nil, fmt.Errorf("%w: header %s value longer than %d bytes", ErrFormat, h.Name, MaxHeaderValueLen)
			}
			h.Value.Bytes = v[2:]
		case TypeString:
			if len(v) > 2+MaxHeaderValueLen {
				return nil, fmt.Errorf("%w: header %s value longer than %d bytes", ErrFormat, h.Name, MaxHeaderValueLen)
			}
			h.Value.Str = string(v[2:])
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// Decoder reads messages from a stream.
type Decoder struct {
	r io.Reader
	// MaxMessageLen bounds the total length of a message; messages that
	// declare more fail with ErrTooLarge before their body is read.
	MaxMessageLen uint32
}

// NewDecoder returns a decoder reading from r with DefaultMaxMessageLen.
func NewDecoder(r io.Reader) *Decoder { return &Decoder{r: r, MaxMessageLen: DefaultMaxMessageLen} }

// Decode reads the next message. It returns io.EOF when the stream ends
// cleanly between messages and io.ErrUnexpectedEOF when it ends inside one.
// The returned message owns its memory.
func (d *Decoder) Decode() (Message, error) {
	var p [preludeLen]byte
	if _, err := io.ReadFull(d.r, p[:]); err != nil {
		return Message{}, err
	}
	total, headersLen, err := prelude(p[:], d.MaxMessageLen)
	if err != nil {
		return Message{}, err
	}
	b := make([]byte, total)
	copy(b, p[:])
	if _, err := io.ReadFull(d.r, b[preludeLen:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, err
	}
	return body(b, headersLen)
}
