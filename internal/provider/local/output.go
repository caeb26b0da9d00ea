package local

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// piece is one unit of output produced by the filter: text, or a complete
// tool call.
type piece struct {
	text string
	call *parsedCall
}

// parsedCall is a tool call recovered from the model's text.
type parsedCall struct {
	Name  string
	Input json.RawMessage
}

// outputFilter turns the raw bytes of sampled tokens into text that is
// safe to stream: it never splits a UTF-8 sequence across two pieces,
// holds back text that may be the start of a stop sequence, cuts the
// output at the first stop sequence, and lifts tool calls out of the text.
//
// It is used by one goroutine at a time.
type outputFilter struct {
	stops []string
	tools bool // recognise tool calls

	raw    []byte // bytes of an incomplete UTF-8 sequence
	held   string // decoded text that may start a stop sequence or tag
	inCall bool   // inside <tool_call> … </tool_call>
	call   strings.Builder
	// jsonCall: tools are offered and the output began with '{', so the
	// whole output is buffered in call and parsed as a bare JSON call at
	// the end.
	jsonCall bool
	started  bool // some non-space text has been seen
	stopped  bool
}

func newOutputFilter(stops []string, tools bool) *outputFilter {
	var s []string
	for _, x := range stops {
		// The filtered text is valid UTF-8, so a valid stop sequence can
		// only match at character boundaries. An invalid one could match
		// inside a character (a lone continuation byte against the tail
		// of U+FFFD, found by FuzzOutputFilter) and cut it in half.
		if x = validUTF8(x); x != "" {
			s = append(s, x)
		}
	}
	return &outputFilter{stops: s, tools: tools}
}

// push adds the bytes of one token. It reports whether a stop sequence was
// reached; after that, push must not be called again.
func (f *outputFilter) push(b []byte) ([]piece, bool) {
	f.raw = append(f.raw, b...)
	n := completePrefix(f.raw)
	text := strings.ToValidUTF8(string(f.raw[:n]), "\uFFFD")
	f.raw = append(f.raw[:0], f.raw[n:]...)
	return f.text(text)
}

// flush ends the output: held text is released and an unterminated tool
// call is parsed if possible. Bytes still pending are the start of a
// character the generation was cut in (max_tokens reached mid-character):
// they are dropped, never shown as U+FFFD.
func (f *outputFilter) flush() []piece {
	var out []piece
	f.raw = nil
	if f.stopped {
		return out
	}
	switch {
	case f.jsonCall:
		if calls := parseBareCalls(f.call.String()); calls != nil {
			for _, c := range calls {
				out = append(out, piece{call: c})
			}
		} else {
			out = append(out, piece{text: f.call.String()})
		}
		f.call.Reset()
	case f.inCall:
		if c := parseCall(f.call.String()); c != nil {
			out = append(out, piece{call: c})
		} else {
			out = append(out, piece{text: toolCallOpen + f.call.String()})
		}
		f.call.Reset()
	}
	if f.held != "" {
		out = append(out, piece{text: f.held})
		f.held = ""
	}
	return out
}

// completePrefix returns the length of the longest prefix of b that does
// not end inside a UTF-8 sequence that more bytes could still complete.
func completePrefix(b []byte) int {
	// A rune is at most 4 bytes: only the last 3 can be an incomplete start.
	for i := len(b) - 1; i >= 0 && i >= len(b)-3; i-- {
		c := b[i]
		if c < 0x80 {
			return len(b) // ASCII: nothing pending
		}
		if c >= 0xC0 { // a leading byte
			if !utf8.FullRune(b[i:]) {
				return i
			}
			return len(b)
		}
	}
	return len(b)
}

func (f *outputFilter) text(s string) ([]piece, bool) {
	var out []piece
	s = f.held + s
	f.held = ""
	for s != "" {
		if f.jsonCall {
			f.call.WriteString(s)
			return out, false
		}
		if f.inCall {
			i := strings.Index(s, toolCallClose)
			if i < 0 {
				f.call.WriteString(s)
				return out, false
			}
			f.call.WriteString(s[:i])
			if c := parseCall(f.call.String()); c != nil {
				out = append(out, piece{call: c})
			} else {
				out = append(out, piece{text: toolCallOpen + f.call.String() + toolCallClose})
			}
			f.call.Reset()
			f.inCall = false
			s = s[i+len(toolCallClose):]
			continue
		}
		if f.tools && !f.started {
			t := strings.TrimLeft(s, " \t\r\n")
			if t == "" {
				f.held = s
				return out, false
			}
			f.started = true
			if t[0] == '{' || t[0] == '[' {
				f.jsonCall = true
				f.call.WriteString(t)
				return out, false
			}
		}
		f.started = true
		// Earliest stop sequence or tool tag.
		cut, stop := -1, false
		for _, st := range f.stops {
			if i := strings.Index(s, st); i >= 0 && (cut < 0 || i < cut) {
				cut, stop = i, true
			}
		}
		if f.tools {
			if i := strings.Index(s, toolCallOpen); i >= 0 && (cut < 0 || i < cut) {
				cut, stop = i, false
			}
		}
		if cut >= 0 {
			if cut > 0 {
				out = append(out, piece{text: s[:cut]})
			}
			if stop {
				f.stopped = true
				return out, true
			}
			f.inCall = true
			s = s[cut+len(toolCallOpen):]
			continue
		}
		// Hold back the longest tail that could begin a stop or tag.
		h := f.holdLen(s)
		if len(s)-h > 0 {
			out = append(out, piece{text: s[:len(s)-h]})
		}
		f.held = s[len(s)-h:]
		return out, false
	}
	return out, false
}

// holdLen returns the length of the longest suffix of s that is a proper
// prefix of a stop sequence or of the tool-call tag.
func (f *outputFilter) holdLen(s string) int {
	best := 0
	check := func(m string) {
		for k := min(len(m)-1, len(s)); k > best; k-- {
			if strings.HasSuffix(s, m[:k]) {
				best = k
				return
			}
		}
	}
	for _, st := range f.stops {
		check(st)
	}
	if f.tools {
		check(toolCallOpen)
	}
	return best
}

// parseCall reads {"name": …, "arguments": …} (or "parameters").
func parseCall(s string) *parsedCall {
	var v struct {
		Name       string          `json:"name"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(s)), &v) != nil || v.Name == "" {
		return nil
	}
	in := v.Arguments
	if len(in) == 0 {
		in = v.Parameters
	}
	in = bytes.TrimSpace(in)
	if len(in) > 0 && in[0] == '"' {
		// Some models encode the arguments as a JSON string.
		var str string
		if json.Unmarshal(in, &str) == nil && json.Valid([]byte(str)) {
			in = json.RawMessage(str)
		}
	}
	if len(in) == 0 || string(in) == "null" {
		in = json.RawMessage("{}")
	}
	var compact bytes.Buffer
	if json.Compact(&compact, in) == nil {
		in = compact.Bytes()
	}
	return &parsedCall{Name: v.Name, Input: in}
}

// parseBareCalls reads an output that is one JSON call object or an array
// of them, returning nil if it is anything else.
func parseBareCalls(s string) []*parsedCall {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var list []json.RawMessage
		if json.Unmarshal([]byte(s), &list) != nil || len(list) == 0 {
			return nil
		}
		var out []*parsedCall
		for _, item := range list {
			c := parseCall(string(item))
			if c == nil {
				return nil
			}
			out = append(out, c)
		}
		return out
	}
	if c := parseCall(s); c != nil {
		return []*parsedCall{c}
	}
	return nil
}
