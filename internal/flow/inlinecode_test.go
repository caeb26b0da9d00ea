package flow

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

func TestInlineCode(t *testing.T) {
	obj, _ := ParseValue([]byte(`{"z":1,"a":[2,3],"big":123456789012345678901234567890}`))
	node := func(code string) *Node {
		b, _ := json.Marshal(InlineCodeConfig{Code: code, Language: "Python_3"})
		return &Node{Name: "Code", Type: NodeInlineCode, Configuration: map[string]json.RawMessage{"inlineCode": b}}
	}
	for _, tc := range []struct{ code, want string }{
		{"data['z'] + len(data['a'])", `3`},
		{"response = {'sum': data['a'][0] + data['a'][1], 'keys': [k for k in data]}", `{"sum":5,"keys":["z","a","big"]}`},
		{"def f(n):\n    return 1 if n < 2 else n * f(n - 1)\nf(10)", `3628800`},
		{"data['big'] + 1", `123456789012345678901234567891`},
		{"x = 0\nfor i in range(10):\n    x += i\nstr(x) + '!'", `"45!"`},
		{"data", `{"z":1,"a":[2,3],"big":123456789012345678901234567890}`},
		{"[1.5, None, True]", `[1.5,null,true]`},
	} {
		ev := runInlineCode(context.Background(), &Run{Activation: "Code", Node: node(tc.code), Inputs: []NamedValue{{"data", obj}}})
		if ev.Done == nil {
			t.Errorf("%q failed: %+v", tc.code, ev.Failed)
			continue
		}
		if got := mustJSON(t, ev.Done.Outputs["response"]); got != tc.want {
			t.Errorf("%q = %s, want %s", tc.code, got, tc.want)
		}
	}
	for _, tc := range []struct{ code, want string }{
		{"load('os', 'system')", "load is not available"},
		{"import os", "syntax error"},
		{"def f():\n    pass\nf", "not JSON"},
		{"x = 1", "sets no response"},
		{"{1: 2}", "string keys"},
		{"'x' * (1 << 40)", "repeat"},
		{"1 // 0", "division by zero"},
	} {
		ev := runInlineCode(context.Background(), &Run{Activation: "Code", Node: node(tc.code), Inputs: []NamedValue{{"data", obj}}})
		if ev.Failed == nil || !strings.Contains(ev.Failed.Message, tc.want) {
			t.Errorf("%q = %+v, want a failure with %q", tc.code, ev, tc.want)
		}
	}
	// The step budget stops an endless loop. (The budget is lowered here:
	// 10,000,000 steps can outlast the 5 s time limit under the race
	// detector, which would stop the loop first.)
	if _, err := runStarlark(context.Background(), "while True:\n    pass", starlark.StringDict{}, 100_000); err == nil || !strings.Contains(err.Error(), "too many steps") {
		t.Errorf("endless loop: %v, want too many steps", err)
	}
	// Cancellation stops a long run promptly.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := RunStarlark(ctx, "x = 0\nfor i in range(1000000000):\n    x += 1\nx", starlark.StringDict{})
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("cancelled run: %v after %s", err, time.Since(start))
	}
}

// TestInlineCodeMemoryLimit: a run whose live data outgrows the memory
// bound is cancelled with a memory-limit failure, and the memory is given
// back; a run that makes as much garbage but keeps little live finishes.
func TestInlineCodeMemoryLimit(t *testing.T) {
	old := inlineCodeMaxHeap
	inlineCodeMaxHeap = 64 << 20
	defer func() { inlineCodeMaxHeap = old }()
	node := func(code string) *Node {
		b, _ := json.Marshal(InlineCodeConfig{Code: code, Language: "Python_3"})
		return &Node{Name: "Code", Type: NodeInlineCode, Configuration: map[string]json.RawMessage{"inlineCode": b}}
	}
	// 400 strings of 1 MB each, all kept: 400 MB live.
	keep := "s = 'x' * 1000000\nl = []\nfor i in range(400):\n    l.append(s + str(i))\nlen(l)"
	ev := runInlineCode(context.Background(), &Run{Activation: "Code", Node: node(keep)})
	if ev.Failed == nil || !strings.Contains(ev.Failed.Message, "memory limit") {
		t.Fatalf("keeping 400 MB: %+v %+v", ev.Done, ev.Failed)
	}
	// The same allocations, each dropped at once: 1 MB live at a time.
	drop := "s = 'x' * 1000000\nn = 0\nfor i in range(400):\n    n += len(s + str(i))\nn"
	ev = runInlineCode(context.Background(), &Run{Activation: "Code", Node: node(drop)})
	if ev.Done == nil {
		t.Fatalf("dropping each MB: %+v", ev.Failed)
	}
	if got := mustJSON(t, ev.Done.Outputs["response"]); got != "400001090" {
		t.Errorf("response %s", got)
	}
}
