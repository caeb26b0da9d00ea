package openai

import (
	"strings"

	"github.com/outcrop/outcrop/internal/llm"
)

const (
	openThink  = "<think>"
	closeThink = "</think>"
)

// thinkState is where a thinkSplitter is in the answer text.
type thinkState uint8

const (
	thinkDetect thinkState = iota // at the start: is there a <think> prefix?
	thinkInside                   // inside <think>…</think>
	thinkAfter                    // just after </think>: drop leading blank lines
	thinkText                     // plain answer text
)

// thinkSplitter separates an R1-style "<think>…</think>" prefix of the
// streamed answer text into reasoning. The tags may be split across chunks
// in any way, so text that could still be the start of a tag is held back
// until the next chunk decides it. Only a prefix counts: "<think>" later in
// the answer is answer text.
type thinkSplitter struct {
	state thinkState
	held  string // text held back while undecided
}

// feed processes one content fragment, calling emit with DeltaReasoning or
// DeltaText for each piece that is decided.
func (t *thinkSplitter) feed(s string, emit func(llm.DeltaKind, string)) {
	for s != "" {
		switch t.state {
		case thinkText:
			emit(llm.DeltaText, s)
			return
		case thinkDetect:
			buf := t.held + s
			trimmed := strings.TrimLeft(buf, " \t\r\n")
			switch {
			case strings.HasPrefix(trimmed, openThink):
				t.held = ""
				t.state = thinkInside
				s = trimmed[len(openThink):]
			case len(trimmed) < len(openThink) && strings.HasPrefix(openThink, trimmed):
				t.held = buf // still undecided: "", " ", "<th", …
				return
			default:
				t.held = ""
				t.state = thinkText
				s = buf
			}
		case thinkInside:
			buf := t.held + s
			t.held = ""
			if i := strings.Index(buf, closeThink); i >= 0 {
				if i > 0 {
					emit(llm.DeltaReasoning, buf[:i])
				}
				t.state = thinkAfter
				s = buf[i+len(closeThink):]
				continue
			}
			// Hold back a suffix that may be the start of "</think>".
			keep := partialSuffix(buf, closeThink)
			if out := buf[:len(buf)-keep]; out != "" {
				emit(llm.DeltaReasoning, out)
			}
			t.held = buf[len(buf)-keep:]
			return
		case thinkAfter:
			s = strings.TrimLeft(s, " \t\r\n")
			if s != "" {
				t.state = thinkText
			}
		}
	}
}

// flush emits whatever is held back at the end of the stream.
func (t *thinkSplitter) flush(emit func(llm.DeltaKind, string)) {
	if t.held == "" {
		return
	}
	switch t.state {
	case thinkDetect:
		emit(llm.DeltaText, t.held)
	case thinkInside:
		emit(llm.DeltaReasoning, t.held)
	}
	t.held = ""
}

// partialSuffix returns the length of the longest suffix of s that is a
// proper prefix of tag.
func partialSuffix(s, tag string) int {
	n := len(tag) - 1
	if n > len(s) {
		n = len(s)
	}
	for ; n > 0; n-- {
		if strings.HasSuffix(s, tag[:n]) {
			return n
		}
	}
	return 0
}
