package eventstream

import (
	"bytes"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	awses "github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// workedExample is the messageStart message of bedrock-api.md §2.3.
const workedExample = "00000076" + "00000052" + "96d5fade" +
	"0b" + "3a6576656e742d74797065" + "07" + "000c" + "6d65737361676553746172" + "74" +
	"0d" + "3a636f6e74656e742d74797065" + "07" + "0010" + "6170706c69636174696f6e2f6a736f6e" +
	"0d" + "3a6d6573736167652d74797065" + "07" + "0005" + "6576656e74" +
	"7b22726f6c65223a22617373697374616e74227d" +
	"6fa8c599"

func eventMessage(typ, payload string) *Message {
	return &Message{
		Headers: Headers{
			{":event-type", String(typ)},
			{":content-type", String("application/json")},
			{":message-type", String("event")},
		},
		Payload: []byte(payload),
	}
}

func TestWorkedExample(t *testing.T) {
	want, err := hex.DecodeString(workedExample)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Append(nil, eventMessage("messageStart", `{"role":"assistant"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Append(messageStart) =\n%x\nwant\n%x", got, want)
	}
	if len(got) != 118 {
		t.Errorf("len = %d, want 118", len(got))
	}
	m, n, err := Parse(want)
	if err != nil || n != len(want) {
		t.Fatalf("Parse = %d, %v", n, err)
	}
	if g := m.Headers.String(":event-type"); g != "messageStart" {
		t.Errorf(":event-type = %q", g)
	}
	if string(m.Payload) != `{"role":"assistant"}` {
		t.Errorf("payload = %q", m.Payload)
	}
}

// allTypes has one header of every type.
func allTypes() *Message {
	return &Message{
		Headers: Headers{
			{"t", Bool(true)},
			{"f", Bool(false)},
			{"b", Int8(-3)},
			{"s", Int16(-300)},
			{"i", Int32(-70000)},
			{"l", Int64(-1 << 40)},
			{"ba", Bytes([]byte{0, 1, 2, 255})},
			{"str", String("héllo")},
			{"ts", Timestamp(time.UnixMilli(1764094220123))},
			{"u", UUID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})},
		},
		Payload: []byte(`{"x":1}`),
	}
}

// toAWS converts our message to the SDK's.
func toAWS(t testing.TB, m *Message) awses.Message {
	var out awses.Message
	for _, h := range m.Headers {
		var v awses.Value
		switch h.Value.Type {
		case TypeTrue, TypeFalse:
			v = awses.BoolValue(h.Value.Bool())
		case TypeByte:
			v = awses.Int8Value(h.Value.Int)
		case TypeShort:
			v = awses.Int16Value(h.Value.Int)
		case TypeInt:
			v = awses.Int32Value(h.Value.Int)
		case TypeLong:
			v = awses.Int64Value(h.Value.Int)
		case TypeBytes:
			v = awses.BytesValue(h.Value.Bytes)
		case TypeString:
			v = awses.StringValue(h.Value.Str)
		case TypeTimestamp:
			v = awses.TimestampValue(h.Value.Time())
		case TypeUUID:
			var u awses.UUIDValue
			copy(u[:], h.Value.Bytes)
			v = u
		default:
			t.Fatalf("unknown type %d", h.Value.Type)
		}
		out.Headers = append(out.Headers, awses.Header{Name: h.Name, Value: v})
	}
	out.Payload = m.Payload
	return out
}

// sameAsAWS reports a difference between our decoded message and the SDK's.
func sameAsAWS(t testing.TB, ours Message, theirs awses.Message) {
	t.Helper()
	if !bytes.Equal(ours.Payload, theirs.Payload) {
		t.Errorf("payload = %q, SDK decoded %q", ours.Payload, theirs.Payload)
	}
	if len(ours.Headers) != len(theirs.Headers) {
		t.Fatalf("%d headers, SDK decoded %d", len(ours.Headers), len(theirs.Headers))
	}
	for i, h := range ours.Headers {
		th := theirs.Headers[i]
		if h.Name != th.Name {
			t.Errorf("header %d name = %q, SDK %q", i, h.Name, th.Name)
		}
		var got any
		switch h.Value.Type {
		case TypeTrue, TypeFalse:
			got = h.Value.Bool()
		case TypeByte:
			got = int8(h.Value.Int)
		case TypeShort:
			got = int16(h.Value.Int)
		case TypeInt:
			got = int32(h.Value.Int)
		case TypeLong:
			got = h.Value.Int
		case TypeBytes:
			got = string(h.Value.Bytes)
		case TypeString:
			got = h.Value.Str
		case TypeTimestamp:
			got = h.Value.Time().UnixMilli()
		case TypeUUID:
			got = string(h.Value.Bytes)
		}
		want := th.Value.Get()
		switch w := want.(type) {
		case []byte:
			want = string(w)
		case time.Time:
			want = w.UnixMilli()
		}
		if u, ok := th.Value.(awses.UUIDValue); ok {
			want = string(u[:])
		}
		if got != want {
			t.Errorf("header %s = %#v, SDK %#v", h.Name, got, want)
		}
	}
}

func TestAgainstSDK(t *testing.T) {
	msgs := []*Message{
		eventMessage("messageStart", `{"role":"assistant"}`),
		eventMessage("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello"}}`),
		{Headers: Headers{{":message-type", String("exception")}, {":exception-type", String("throttlingException")}}, Payload: []byte(`{"message":"slow down"}`)},
		{},
		{Payload: bytes.Repeat([]byte("x"), 70000)},
		{Headers: Headers{{strings.Repeat("n", 255), String(strings.Repeat("v", MaxHeaderValueLen))}}},
		allTypes(),
	}
	for i, m := range msgs {
		// Ours → SDK decoder.
		b, err := Append(nil, m)
		if err != nil {
			t.Fatalf("msg %d: Append: %v", i, err)
		}
		theirs, err := awses.NewDecoder().Decode(bytes.NewReader(b), nil)
		if err != nil {
			t.Fatalf("msg %d: SDK Decode: %v", i, err)
		}
		ours, n, err := Parse(b)
		if err != nil || n != len(b) {
			t.Fatalf("msg %d: Parse = %d, %v", i, n, err)
		}
		sameAsAWS(t, ours, theirs)

		// SDK encoder → ours, byte for byte.
		var buf bytes.Buffer
		if err := awses.NewEncoder().Encode(&buf, toAWS(t, m)); err != nil {
			t.Fatalf("msg %d: SDK Encode: %v", i, err)
		}
		if !bytes.Equal(buf.Bytes(), b) {
			t.Errorf("msg %d: SDK encoding differs from ours", i)
		}
		dm, err := NewDecoder(&buf).Decode()
		if err != nil {
			t.Fatalf("msg %d: Decode: %v", i, err)
		}
		sameAsAWS(t, dm, theirs)
	}
}

func TestDecoderStream(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for _, typ := range []string{"messageStart", "contentBlockDelta", "messageStop"} {
		if err := enc.Encode(eventMessage(typ, `{}`)); err != nil {
			t.Fatal(err)
		}
	}
	full := buf.Bytes()
	dec := NewDecoder(bytes.NewReader(full))
	var got []string
	for {
		m, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Headers.String(":event-type"))
	}
	if g := strings.Join(got, ","); g != "messageStart,contentBlockDelta,messageStop" {
		t.Errorf("events = %s", g)
	}
	// A stream cut inside a message is an unexpected EOF.
	_, err := NewDecoder(bytes.NewReader(full[:len(full)-3])).Decode()
	if err != nil {
		t.Fatal(err) // the first message is whole
	}
	d := NewDecoder(bytes.NewReader(full[:20]))
	if _, err := d.Decode(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated Decode error = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := Append(nil, eventMessage("messageStart", `{"role":"assistant"}`))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"prelude crc", flip(9), ErrChecksum},
		{"length field", flip(2), ErrChecksum},
		{"header byte", flip(20), ErrChecksum},
		{"payload byte", flip(len(good) - 8), ErrChecksum},
		{"message crc", flip(len(good) - 1), ErrChecksum},
		{"short", good[:5], io.ErrUnexpectedEOF},
		{"too short total", withPrelude(8, 0), ErrFormat},
		{"headers beyond total", withPrelude(16, 1), ErrFormat},
		{"bad header type", reframe(t, []byte{1, 'a', 42}), ErrFormat},
		{"empty header name", reframe(t, []byte{0, 7, 0, 0}), ErrFormat},
		{"truncated string", reframe(t, []byte{1, 'a', 7, 0, 9, 'x'}), ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := Parse(tc.in); !errors.Is(err, tc.want) {
				t.Errorf("Parse error = %v, want %v", err, tc.want)
			}
			if _, err := NewDecoder(bytes.NewReader(tc.in)).Decode(); !errors.Is(err, tc.want) {
				t.Errorf("Decode error = %v, want %v", err, tc.want)
			}
		})
	}
	d := NewDecoder(bytes.NewReader(good))
	d.MaxMessageLen = 50
	if _, err := d.Decode(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode over limit = %v, want ErrTooLarge", err)
	}
}

func TestAppendErrors(t *testing.T) {
	bad := []Header{
		{"", String("x")},
		{strings.Repeat("n", 256), String("x")},
		{"v", String(strings.Repeat("v", MaxHeaderValueLen+1))},
		{"b", Bytes(make([]byte, MaxHeaderValueLen+1))},
		{"u", Value{Type: TypeUUID, Bytes: []byte{1}}},
		{"t", Value{Type: 10}},
	}
	for _, h := range bad {
		dst := []byte("keep")
		got, err := Append(dst, &Message{Headers: Headers{h}})
		if !errors.Is(err, ErrFormat) {
			t.Errorf("Append(%.20s) error = %v, want ErrFormat", h.Name, err)
		}
		if string(got) != "keep" {
			t.Errorf("Append(%.20s) left %q, want the input", h.Name, got)
		}
	}
}

// withPrelude returns a message with the given lengths and a correct
// prelude CRC (the message CRC is whatever follows).
func withPrelude(total, headers uint32) []byte {
	b := make([]byte, 16)
	b[3], b[7] = byte(total), byte(headers)
	putCRC(b[8:12], b[:8])
	return b
}

// reframe wraps raw header bytes in a message with valid CRCs.
func reframe(t *testing.T, headers []byte) []byte {
	t.Helper()
	total := 16 + len(headers)
	b := make([]byte, total)
	b[3], b[7] = byte(total), byte(len(headers))
	putCRC(b[8:12], b[:8])
	copy(b[12:], headers)
	putCRC(b[total-4:], b[:total-4])
	return b
}

func FuzzRoundTrip(f *testing.F) {
	f.Add("contentBlockDelta", []byte(`{"contentBlockIndex":0,"delta":{"text":"Hi"}}`), int64(7), []byte{1, 2})
	f.Add("", []byte{}, int64(-1), []byte(nil))
	f.Fuzz(func(t *testing.T, name string, payload []byte, n int64, raw []byte) {
		if len(name) == 0 || len(name) > MaxHeaderNameLen {
			name = "x"
		}
		var u [16]byte
		copy(u[:], raw)
		m := &Message{
			Headers: Headers{
				{name, String(string(payload))},
				{"n", Int64(n)},
				{"i", Int32(int32(n))},
				{"s", Int16(int16(n))},
				{"b", Int8(int8(n))},
				{"raw", Bytes(raw)},
				{"ts", Value{Type: TypeTimestamp, Int: n}},
				{"u", UUID(u)},
				{"ok", Bool(n%2 == 0)},
			},
			Payload: payload,
		}
		b, err := Append(nil, m)
		if len(payload) > MaxHeaderValueLen || len(raw) > MaxHeaderValueLen {
			if err == nil {
				t.Fatal("Append accepted an oversized header value")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got, k, err := Parse(b)
		if err != nil || k != len(b) {
			t.Fatalf("Parse = %d, %v", k, err)
		}
		b2, err := Append(nil, &got)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		if hasDuplicateNames(got.Headers) {
			return // the SDK keeps only the last of duplicate headers
		}
		theirs, err := awses.NewDecoder().Decode(bytes.NewReader(b), nil)
		if err != nil {
			t.Fatalf("SDK Decode: %v", err)
		}
		sameAsAWS(t, got, theirs)
	})
}

func FuzzDecode(f *testing.F) {
	good, _ := Append(nil, eventMessage("messageStart", `{"role":"assistant"}`))
	all, _ := Append(nil, allTypes())
	f.Add(good)
	f.Add(all)
	f.Add(append(bytes.Clone(good), all...))
	f.Add(withPrelude(16, 0))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := Parse(b)
		d := NewDecoder(bytes.NewReader(b))
		dm, derr := d.Decode()
		if (err == nil) != (derr == nil) {
			t.Fatalf("Parse error %v but Decode error %v", err, derr)
		}
		if err != nil {
			return
		}
		if n > len(b) || n < minMessageLen {
			t.Fatalf("Parse consumed %d of %d bytes", n, len(b))
		}
		// Whatever decodes re-encodes to the same bytes, and the SDK's
		// decoder reads the same message.
		again, aerr := Append(nil, &m)
		if aerr != nil || !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs: %v", aerr)
		}
		if !bytes.Equal(dm.Payload, m.Payload) || len(dm.Headers) != len(m.Headers) {
			t.Fatal("Decode and Parse disagree")
		}
		if hasDuplicateNames(m.Headers) {
			return // the SDK keeps only the last of duplicate headers
		}
		theirs, err := awses.NewDecoder().Decode(bytes.NewReader(b), nil)
		if err != nil {
			t.Fatalf("SDK Decode: %v", err)
		}
		sameAsAWS(t, m, theirs)
	})
}

func hasDuplicateNames(hs Headers) bool {
	seen := map[string]bool{}
	for _, h := range hs {
		if seen[h.Name] {
			return true
		}
		seen[h.Name] = true
	}
	return false
}

func BenchmarkAppendEvent(b *testing.B) {
	m := eventMessage("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello, world"}}`)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(m.Payload)))
	for b.Loop() {
		buf, _ = Append(buf[:0], m)
	}
}

func BenchmarkParse(b *testing.B) {
	msg, _ := Append(nil, eventMessage("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hello, world"}}`))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, _, err := Parse(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func putCRC(dst, over []byte) {
	c := crc32ieee(over)
	dst[0], dst[1], dst[2], dst[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
}

func crc32ieee(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
