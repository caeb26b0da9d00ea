package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(s string) ([]Event, error) {
	r := NewReader(strings.NewReader(s))
	var out []Event
	for {
		ev, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return out, err
		}
		out = append(out, ev)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string // name|data
		wantErr error
	}{
		{name: "anthropic", in: "event: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
			want: []string{`message_start|{"a":1}`, `ping|{"type": "ping"}`}},
		{name: "crlf and comments", in: ": keep-alive\r\nevent: x\r\ndata: 1\r\n\r\n", want: []string{"x|1"}},
		{name: "multi-line data", in: "data: a\ndata: b\n\n", want: []string{"|a\nb"}},
		{name: "no space after colon", in: "data:x\n\n", want: []string{"|x"}},
		{name: "event without data is skipped", in: "event: e\n\ndata: y\n\n", want: []string{"|y"}},
		{name: "id and retry ignored", in: "id: 3\nretry: 10\ndata: z\n\n", want: []string{"|z"}},
		{name: "cut short", in: "event: e\ndata: partial", wantErr: io.ErrUnexpectedEOF},
		{name: "empty", in: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := readAll(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, ev.Name+"|"+string(ev.Data))
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("events = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLongLine(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	evs, err := readAll("data: " + big + "\n\n")
	if err != nil || len(evs) != 1 || string(evs[0].Data) != big {
		t.Fatalf("long line: %d events, err %v", len(evs), err)
	}
	_, err = readAll("data: " + strings.Repeat("y", MaxLine+10))
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("too long: err = %v, want ErrLineTooLong", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add("event: message_start\ndata: {}\n\n")
	f.Add("data: a\r\ndata: b\r\n\r\n: c\n")
	f.Add("data")
	f.Add("event:\n\n\n\ndata:\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		r := NewReader(strings.NewReader(in))
		for i := 0; i < len(in)+2; i++ {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if len(ev.Data) > len(in) {
				t.Fatalf("data longer than input")
			}
		}
		t.Fatalf("reader did not end")
	})
}
