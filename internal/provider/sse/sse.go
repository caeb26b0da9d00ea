// Package sse reads server-sent events (the text/event-stream format of the
// WHATWG HTML standard) from an upstream's response body, for the providers
// whose streaming APIs use it with named events (Anthropic's Messages API,
// Gemini's streamGenerateContent?alt=sse). It is a parser of untrusted input:
// lines are bounded, malformed lines are ignored as the standard says, and
// it never panics (FuzzReader).
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// MaxLine bounds one line of the stream; an upstream that sends a longer
// line gets ErrLineTooLong.
const MaxLine = 8 << 20

// ErrLineTooLong is returned for a line longer than MaxLine.
var ErrLineTooLong = errors.New("sse: line too long")

// Event is one dispatched event.
type Event struct {
	// Name is the "event:" field, empty when the event had none.
	Name string
	// Data is the "data:" lines joined with newlines.
	Data []byte
}

// Reader reads events from a stream. It is used by one goroutine at a time.
type Reader struct {
	r    *bufio.Reader
	name string
	data []byte
	has  bool // a data line was seen for the pending event
	long []byte
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 4<<10)}
}

// Next returns the next event that has data. Comments, "id:" and "retry:"
// fields and events without data are skipped. At the end of the input it
// returns io.EOF, or io.ErrUnexpectedEOF when an event was cut short (data
// seen but no blank line ended it).
func (r *Reader) Next() (Event, error) {
	for {
		line, err := r.line()
		if err != nil {
			if errors.Is(err, io.EOF) && r.has {
				r.reset()
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if !r.has {
				r.name = ""
				continue
			}
			ev := Event{Name: r.name, Data: bytes.Clone(r.data)}
			r.reset()
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			r.name = string(value)
		case "data":
			if r.has {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			r.has = true
		}
	}
}

func (r *Reader) reset() {
	r.name, r.data, r.has = "", r.data[:0], false
}

// line returns the next line without its end (LF, CRLF or a lone CR
// before LF is not special-cased beyond CRLF). The slice is valid until the
// next call.
func (r *Reader) line() ([]byte, error) {
	b, err := r.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.long = append(r.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = r.r.ReadSlice('\n')
			r.long = append(r.long, b...)
			if len(r.long) > MaxLine {
				return nil, ErrLineTooLong
			}
		}
		b = r.long
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(b) > 0 {
			// A last line without its newline still counts.
			return trimEOL(b), nil
		}
		return nil, err
	}
	return trimEOL(b), nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}
