package local

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/outcrop/outcrop/internal/llm"
)

// feed pushes chunks through a filter and returns the text pieces, the
// calls and whether a stop sequence ended it.
func feed(f *outputFilter, chunks [][]byte) (texts []string, calls []parsedCall, stopped bool) {
	collect := func(ps []piece) {
		for _, p := range ps {
			if p.call != nil {
				calls = append(calls, *p.call)
			} else {
				texts = append(texts, p.text)
			}
		}
	}
	for _, c := range chunks {
		ps, st := f.push(c)
		collect(ps)
		if st {
			return texts, calls, true
		}
	}
	collect(f.flush())
	return texts, calls, false
}

func bytesOneByOne(s string) [][]byte {
	var out [][]byte
	for i := 0; i < len(s); i++ {
		out = append(out, []byte{s[i]})
	}
	return out
}

func TestOutputFilterUTF8(t *testing.T) {
	tests := []struct {
		name   string
		chunks [][]byte
		want   string
	}{
		{name: "ascii", chunks: bytesOneByOne("hello"), want: "hello"},
		{name: "two-byte runes split", chunks: bytesOneByOne("héllo wörld"), want: "héllo wörld"},
		{name: "emoji split", chunks: bytesOneByOne("a🌍b🎉"), want: "a🌍b🎉"},
		{name: "cjk split in pairs", chunks: [][]byte{[]byte("\xe6\x97"), []byte("\xa5\xe6"), []byte("\x9c\xac")}, want: "日本"},
		{name: "invalid byte replaced", chunks: [][]byte{{0xff}, []byte("ok")}, want: "\uFFFDok"},
		{name: "truncated rune at end dropped", chunks: [][]byte{[]byte("x\xe6\x97")}, want: "x"},
		{name: "only a cut rune", chunks: [][]byte{{0xf0, 0x9f}}, want: ""},
		{name: "cut rune after a complete one", chunks: [][]byte{[]byte("日"), {0xe6}}, want: "日"},
		{name: "invalid byte then cut rune", chunks: [][]byte{{0xff, 0xe6, 0x97}}, want: "\uFFFD"},
		{name: "lone continuation", chunks: [][]byte{{0x80}, {0x80}, []byte("z")}, want: "\uFFFD\uFFFDz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			texts, _, _ := feed(newOutputFilter(nil, false), tc.chunks)
			for _, p := range texts {
				if !utf8.ValidString(p) {
					t.Errorf("piece %q is not valid UTF-8", p)
				}
			}
			if got := strings.Join(texts, ""); got != tc.want {
				t.Errorf("text = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOutputFilterStops(t *testing.T) {
	tests := []struct {
		name     string
		stops    []string
		chunks   []string
		want     string
		wantStop bool
	}{
		{name: "no stop", stops: []string{"END"}, chunks: []string{"a", "b", "EN"}, want: "abEN"},
		{name: "stop in one piece", stops: []string{"END"}, chunks: []string{"abcENDxyz"}, want: "abc", wantStop: true},
		{name: "stop across pieces", stops: []string{"END"}, chunks: []string{"ab", "E", "N", "D", "more"}, want: "ab", wantStop: true},
		{name: "false start released", stops: []string{"END"}, chunks: []string{"E", "N", "x"}, want: "ENx"},
		{name: "earliest of several", stops: []string{"zz", "b"}, chunks: []string{"abzz"}, want: "a", wantStop: true},
		{name: "unicode stop", stops: []string{"é!"}, chunks: []string{"caf", "é", "!"}, want: "caf", wantStop: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var chunks [][]byte
			for _, c := range tc.chunks {
				chunks = append(chunks, []byte(c))
			}
			texts, _, stopped := feed(newOutputFilter(tc.stops, false), chunks)
			if got := strings.Join(texts, ""); got != tc.want || stopped != tc.wantStop {
				t.Errorf("got %q stopped=%v, want %q stopped=%v", got, stopped, tc.want, tc.wantStop)
			}
		})
	}
}

func TestOutputFilterToolCalls(t *testing.T) {
	tests := []struct {
		name      string
		chunks    []string
		wantText  string
		wantCalls []parsedCall
	}{
		{
			name:      "tagged call after text",
			chunks:    []string{"Let me check.", "<tool", "_call>{\"name\": \"weather\", ", "\"arguments\": {\"city\": \"Oslo\"}}</tool_call>"},
			wantText:  "Let me check.",
			wantCalls: []parsedCall{{Name: "weather", Input: json.RawMessage(`{"city":"Oslo"}`)}},
		},
		{
			name:      "two tagged calls",
			chunks:    []string{"<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>\n<tool_call>{\"name\":\"b\",\"parameters\":{\"x\":1}}</tool_call>"},
			wantText:  "\n",
			wantCalls: []parsedCall{{Name: "a", Input: json.RawMessage(`{}`)}, {Name: "b", Input: json.RawMessage(`{"x":1}`)}},
		},
		{
			name:      "unterminated tag at end",
			chunks:    []string{"<tool_call>{\"name\":\"a\",\"arguments\":\"{\\\"q\\\":2}\"}"},
			wantCalls: []parsedCall{{Name: "a", Input: json.RawMessage(`{"q":2}`)}},
		},
		{
			name:      "bare json call",
			chunks:    []string{" {\"name\": \"lookup\",", " \"arguments\": {\"id\": 7}}"},
			wantCalls: []parsedCall{{Name: "lookup", Input: json.RawMessage(`{"id":7}`)}},
		},
		{
			name:     "json that is not a call stays text",
			chunks:   []string{"{\"answer\": 42}"},
			wantText: "{\"answer\": 42}",
		},
		{
			name:     "broken call stays text",
			chunks:   []string{"<tool_call>not json</tool_call>"},
			wantText: "<tool_call>not json</tool_call>",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var chunks [][]byte
			for _, c := range tc.chunks {
				chunks = append(chunks, []byte(c))
			}
			texts, calls, _ := feed(newOutputFilter(nil, true), chunks)
			if got := strings.Join(texts, ""); got != tc.wantText {
				t.Errorf("text = %q, want %q", got, tc.wantText)
			}
			if diff := cmp.Diff(tc.wantCalls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestToolUseEvents drives the scheduler's event assembly with filter
// output that contains text and a tool call, as a model would produce.
func TestToolUseEvents(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &request{ctx: ctx, cancel: cancel, notify: make(chan struct{}, 1), filter: newOutputFilter(nil, true)}
	e := &Engine{}
	s := &slot{req: r, next: -1, logitIdx: -1, usage: llm.Usage{InputTokens: 9}}
	e.inFlight = 1
	for _, chunk := range []string{"Checking.", "<tool_call>{\"name\":\"weather\",", "\"arguments\":{\"city\":\"Oslo\"}}</tool_call>"} {
		s.generated++
		s.sinceDelta++
		pieces, _ := r.filter.push([]byte(chunk))
		e.deliver(s, pieces)
	}
	e.complete(s, llm.StopEndTurn)
	resp, err := llm.Collect(&stream{r: r})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StopReason != llm.StopToolUse || len(resp.Message.Content) != 2 {
		t.Fatalf("stop %s, content %+v", resp.StopReason, resp.Message.Content)
	}
	if c := resp.Message.Content[0]; c.Kind != llm.KindText || c.Text != "Checking." {
		t.Errorf("block 0 = %+v", c)
	}
	tu := resp.Message.Content[1].ToolUse
	if tu == nil || tu.Name != "weather" || string(tu.Input) != `{"city":"Oslo"}` || !strings.HasPrefix(tu.ID, "tooluse_") {
		t.Errorf("block 1 = %+v", resp.Message.Content[1])
	}
	if resp.Usage.OutputTokens != 3 || resp.Usage.InputTokens != 9 {
		t.Errorf("usage = %+v", resp.Usage)
	}
}

// FuzzOutputFilter feeds arbitrary bytes in arbitrary pieces: every piece
// must be valid UTF-8, and without stops or tools nothing may be lost.
func FuzzOutputFilter(f *testing.F) {
	for _, s := range []string{"héllo", "\xff\xfe", "a🌍b", "<tool_call>{\"name\":\"x\"}</tool_call>", "STOPx", "\xe6\x97"} {
		f.Add([]byte(s), "STOP", uint8(3), false)
		f.Add([]byte(s), "", uint8(1), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, stop string, step uint8, tools bool) {
		var stops []string
		if stop != "" {
			stops = []string{stop}
		}
		n := int(step%7) + 1
		var chunks [][]byte
		for i := 0; i < len(data); i += n {
			chunks = append(chunks, data[i:min(i+n, len(data))])
		}
		texts, _, _ := feed(newOutputFilter(stops, tools), chunks)
		for _, p := range texts {
			if !utf8.ValidString(p) {
				t.Fatalf("piece %q is not valid UTF-8", p)
			}
		}
		if stop == "" && !tools {
			// Valid text, possibly cut inside its last character, comes out
			// as its complete characters and nothing else.
			cut := completePrefix(data)
			if got, want := strings.Join(texts, ""), string(data[:cut]); got != want && utf8.Valid(data[:cut]) {
				t.Fatalf("text = %q, want %q", got, want)
			}
		}
	})
}
