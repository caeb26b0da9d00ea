package httpapi

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// fastChat decodes the common shape of a chat completion body into w
// without reflection: the members model, messages (role, name,
// tool_call_id and string content), max_tokens, max_completion_tokens,
// temperature, top_p, top_k, seed, n, stream, stream_options and user, each
// at most once. It reports false as soon as it meets anything else (another
// member, content parts, tool calls, an escape it does not decode, a number
// encoding/json would refuse for its field, invalid UTF-8, a syntax error),
// and the caller then decodes the body with encoding/json from the start: so
// every body gets exactly encoding/json's result or error, and the fast path
// is only a shortcut for the requests SDKs send most (FuzzFastChat checks
// both against each other).
//
// It makes one pass over the body, where encoding/json makes two (it
// validates the whole body before decoding it) and then a third over each
// message's content (decoded into json.RawMessage, then into a string);
// a message's decoded text is kept in chatMessageWire.text.
func fastChat(body []byte, w *chatWire) bool {
	p := fastParser{b: body}
	p.ws()
	if !p.byte('{') {
		return false
	}
	var seen uint32
	ok := p.members(func(key []byte) bool {
		bit, known := chatMembers[string(key)]
		if !known || seen&bit != 0 {
			return false
		}
		seen |= bit
		switch string(key) {
		case "model":
			return p.optString(&w.Model)
		case "user":
			return p.optString(&w.User)
		case "messages":
			return p.messages(&w.Messages)
		case "max_tokens":
			return p.optInt(&w.MaxTokens)
		case "max_completion_tokens":
			return p.optInt(&w.MaxCompletionTokens)
		case "top_k":
			return p.optInt(&w.TopK)
		case "n":
			return p.optInt(&w.N)
		case "seed":
			return p.optInt64(&w.Seed)
		case "temperature":
			return p.optFloat(&w.Temperature)
		case "top_p":
			return p.optFloat(&w.TopP)
		case "stream":
			return p.optBool(&w.Stream)
		case "stream_options":
			return p.streamOptions(w)
		}
		return false
	})
	if !ok {
		return false
	}
	p.ws()
	return p.i == len(p.b)
}

// chatMembers are the top-level members fastChat decodes, each with its bit
// in the set of members seen (a repeated member sends the body to
// encoding/json).
var chatMembers = map[string]uint32{
	"model": 1 << 0, "user": 1 << 1, "messages": 1 << 2, "max_tokens": 1 << 3, "max_completion_tokens": 1 << 4,
	"top_k": 1 << 5, "n": 1 << 6, "seed": 1 << 7, "temperature": 1 << 8, "top_p": 1 << 9, "stream": 1 << 10,
	"stream_options": 1 << 11,
}

// fastParser reads JSON from b at i. Its methods return false when the
// input is outside what fastChat handles; the parser is then abandoned.
type fastParser struct {
	b   []byte
	i   int
	buf []byte // scratch for strings with escapes
}

// ws skips JSON whitespace.
func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c after optional whitespace.
func (p *fastParser) byte(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// peek returns the next byte after whitespace, or 0 at the end.
func (p *fastParser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// literal consumes the keyword s ("null", "true", "false").
func (p *fastParser) literal(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// members reads the members of an object whose "{" was consumed, calling
// member with each key (valid until the next read) positioned before its
// value, through the closing "}".
func (p *fastParser) members(member func(key []byte) bool) bool {
	if p.byte('}') {
		return true
	}
	for {
		key, ok := p.rawString()
		if !ok || !p.byte(':') || !member(key) {
			return false
		}
		if p.byte(',') {
			continue
		}
		return p.byte('}')
	}
}

// rawString reads a string and returns its decoded bytes: a slice of the
// input when it has no escapes, otherwise the scratch buffer (valid until
// the next string).
func (p *fastParser) rawString() ([]byte, bool) {
	if p.peek() != '"' {
		return nil, false
	}
	p.i++
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c == '\\':
			return p.escapedString(start)
		case c < 0x20:
			return nil, false // encoding/json's syntax error
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, false // encoding/json would substitute U+FFFD
			}
			p.i += n
		}
	}
	return nil, false
}

// escapedString continues a string from its first backslash, decoding
// into the scratch buffer. Surrogate escapes (\ud800–\udfff) are left to
// encoding/json, which pairs or replaces them.
func (p *fastParser) escapedString(start int) ([]byte, bool) {
	p.buf = append(p.buf[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.buf, true
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return nil, false
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				p.buf = append(p.buf, e)
			case 'b':
				p.buf = append(p.buf, '\b')
			case 'f':
				p.buf = append(p.buf, '\f')
			case 'n':
				p.buf = append(p.buf, '\n')
			case 'r':
				p.buf = append(p.buf, '\r')
			case 't':
				p.buf = append(p.buf, '\t')
			case 'u':
				if p.i+4 > len(p.b) {
					return nil, false
				}
				r, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 16)
				if err != nil || r >= 0xd800 && r <= 0xdfff {
					return nil, false
				}
				p.i += 4
				p.buf = utf8.AppendRune(p.buf, rune(r))
			default:
				return nil, false
			}
		case c < 0x20:
			return nil, false
		case c < utf8.RuneSelf:
			p.buf = append(p.buf, c)
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n == 1 {
				return nil, false
			}
			p.buf = append(p.buf, p.b[p.i:p.i+n]...)
			p.i += n
		}
	}
	return nil, false
}

// optString reads a string into *dst; null leaves *dst as it is, as
// encoding/json does.
func (p *fastParser) optString(dst *string) bool {
	if p.peek() == 'n' {
		return p.literal("null")
	}
	s, ok := p.rawString()
	if ok {
		*dst = string(s)
	}
	return ok
}

// number reads a JSON number and returns its text and whether it is an
// integer (no fraction, no exponent).
func (p *fastParser) number() (lit string, integer bool, ok bool) {
	p.ws()
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		p.digits()
	default:
		return "", false, false
	}
	integer = true
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return "", false, false
		}
		integer = false
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return "", false, false
		}
		integer = false
	}
	return string(p.b[start:p.i]), integer, true
}

func (p *fastParser) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// optInt reads an integer or null into *dst (null sets it to nil). A
// number with a fraction or exponent, or out of range, is encoding/json's
// UnmarshalTypeError: left to it.
func (p *fastParser) optInt(dst **int) bool {
	if p.peek() == 'n' {
		*dst = nil
		return p.literal("null")
	}
	lit, integer, ok := p.number()
	if !ok || !integer {
		return false
	}
	n, err := strconv.ParseInt(lit, 10, strconv.IntSize)
	if err != nil {
		return false
	}
	v := int(n)
	*dst = &v
	return true
}

// optInt64 is optInt for an int64.
func (p *fastParser) optInt64(dst **int64) bool {
	if p.peek() == 'n' {
		*dst = nil
		return p.literal("null")
	}
	lit, integer, ok := p.number()
	if !ok || !integer {
		return false
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		return false
	}
	*dst = &n
	return true
}

// optFloat reads a number or null into *dst (null sets it to nil).
func (p *fastParser) optFloat(dst **float64) bool {
	if p.peek() == 'n' {
		*dst = nil
		return p.literal("null")
	}
	lit, _, ok := p.number()
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return false // out of range: encoding/json's UnmarshalTypeError
	}
	*dst = &f
	return true
}

// optBool reads true, false or null (which leaves *dst as it is).
func (p *fastParser) optBool(dst *bool) bool {
	switch p.peek() {
	case 't':
		*dst = true
		return p.literal("true")
	case 'f':
		*dst = false
		return p.literal("false")
	case 'n':
		return p.literal("null")
	}
	return false
}

// streamOptions reads {"include_usage": bool} or null.
func (p *fastParser) streamOptions(w *chatWire) bool {
	if p.peek() == 'n' {
		w.StreamOptions = nil
		return p.literal("null")
	}
	if !p.byte('{') {
		return false
	}
	w.StreamOptions = &struct {
		IncludeUsage bool `json:"include_usage"`
	}{}
	seen := false
	return p.members(func(key []byte) bool {
		if string(key) != "include_usage" || seen {
			return false
		}
		seen = true
		return p.optBool(&w.StreamOptions.IncludeUsage)
	})
}

// messages reads the messages array (null sets it to nil).
func (p *fastParser) messages(dst *[]chatMessageWire) bool {
	if p.peek() == 'n' {
		*dst = nil
		return p.literal("null")
	}
	if !p.byte('[') {
		return false
	}
	out := make([]chatMessageWire, 0, 4)
	if p.byte(']') {
		*dst = out
		return true
	}
	for {
		if !p.byte('{') {
			return false
		}
		out = append(out, chatMessageWire{})
		if !p.message(&out[len(out)-1]) {
			return false
		}
		if p.byte(',') {
			continue
		}
		if !p.byte(']') {
			return false
		}
		*dst = out
		return true
	}
}

// message reads one message whose "{" was consumed. Its content must be a
// string: Content gets the string's JSON text (as encoding/json would
// store it) and text its decoded value.
func (p *fastParser) message(m *chatMessageWire) bool {
	var seen uint8
	return p.members(func(key []byte) bool {
		var bit uint8
		switch string(key) {
		case "role":
			bit = 1
		case "content":
			bit = 2
		case "name":
			bit = 4
		case "tool_call_id":
			bit = 8
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		switch bit {
		case 1:
			return p.optString(&m.Role)
		case 4:
			return p.optString(&m.Name)
		case 8:
			return p.optString(&m.ToolCallID)
		}
		if p.peek() != '"' {
			return false
		}
		start := p.i
		s, ok := p.rawString()
		if !ok {
			return false
		}
		m.Content = json.RawMessage(p.b[start:p.i])
		m.text, m.decoded = string(s), true
		return true
	})
}
