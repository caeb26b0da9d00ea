package httpapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fastChatSeeds are bodies of the shapes fastChat decodes, and near misses
// that must fall back to encoding/json.
var fastChatSeeds = []string{
	`{"model":"instant","messages":[{"role":"user","content":"Say hello."}],"max_tokens":20,"stream":false}`,
	`{"messages":[{"content":"You are terse.","role":"system"},{"role":"user","content":"caf\u00e9 \"q\" \\ \/ \n\t","name":"bob"}],"model":"m","temperature":0.7,"top_p":1,"top_k":40,"seed":-3,"n":1,"user":"u1"}`,
	`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"héllo ✓ 😀"}],"max_completion_tokens":5}`,
	`{"model":"m","stream_options":null,"max_tokens":null,"temperature":null,"stream":null,"user":null,"messages":[{"role":"assistant","content":"x"},{"role":"tool","tool_call_id":"c","content":"{}"}]}`,
	` { "model" : "m" , "messages" : [ ] } `, `{"max_tokens":-0}`, `{}`,
	// fastAccepted ends here.
	`{"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":1.0}`,
	`{"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":1e2}`,
	`{"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":99999999999999999999}`,
	`{"model":"m","messages":[{"role":"user","content":"a"}],"temperature":1e999}`,
	`{"model":"m","Model":"n","messages":[]}`,
	`{"model":"m","model":"n"}`,
	`{"model":"m","messages":[{"role":"user","content":"\ud83d\ude00"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"\ud83d"}]}`,
	`{"model":"m","messages":[{"role":"user","content":"bad \xff utf8"}]}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]}`,
	`{"model":"m","messages":[{"role":"user","content":null}]}`,
	`{"model":"m","messages":[null]}`,
	`{"model":"m"} x`, `{"model":"m",}`, `{"model":"m"`, `{"model":01}`, `{"seed":-}`, `{"stream":tru}`,
	`{"model":"m","messages":[],"response_format":{"type":"json_object"}}`,
	`{"model":"ctl` + "\x01" + `"}`, `[]`, `null`, ``, `  `,
}

// fastAccepted is how many of fastChatSeeds fastChat decodes itself.
const fastAccepted = 7

// FuzzFastChat holds fastChat to encoding/json: whenever it accepts a body,
// encoding/json accepts it too and decodes the same chatWire (the decoded
// message text equal to what the content's JSON string holds), and
// decodeChat gives the same request or the same error with and without it.
func FuzzFastChat(f *testing.F) {
	for _, s := range append(fastChatSeeds, chatSeeds...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var fw chatWire
		fast := fastChat([]byte(body), &fw)
		var jw chatWire
		jerr := json.Unmarshal([]byte(body), &jw)
		if fast {
			if jerr != nil {
				t.Fatalf("fastChat accepted %q, which encoding/json refuses: %v", body, jerr)
			}
			for i := range fw.Messages {
				m := &fw.Messages[i]
				if !m.decoded {
					if m.Content != nil || m.text != "" {
						t.Fatalf("fastChat(%q) message %d: content %q kept but not decoded", body, i, m.Content)
					}
					continue
				}
				var s string
				if err := json.Unmarshal(m.Content, &s); err != nil || s != m.text {
					t.Fatalf("fastChat(%q) message %d: text %q, decoded %v; encoding/json: %q, %v", body, i, m.text, m.decoded, s, err)
				}
				m.text, m.decoded = "", false
			}
			if !reflect.DeepEqual(fw, jw) {
				t.Fatalf("fastChat(%q) =\n%+v\nencoding/json:\n%+v", body, fw, jw)
			}
		}
		fr, ferr := decodeChatWith([]byte(body), "", true)
		sr, serr := decodeChatWith([]byte(body), "", false)
		if (ferr == nil) != (serr == nil) || ferr != nil && ferr.Error() != serr.Error() {
			t.Fatalf("decodeChat(%q) error %v with fastChat, %v without", body, ferr, serr)
		}
		if !reflect.DeepEqual(fr, sr) {
			t.Fatalf("decodeChat(%q) =\n%+v\nwithout fastChat:\n%+v", body, fr, sr)
		}
	})
}

// TestFastChatTakesCommonShapes: the bodies the SDKs send most take the
// fast path (a fastChat that always declined would pass FuzzFastChat).
func TestFastChatTakesCommonShapes(t *testing.T) {
	for _, body := range fastChatSeeds[:fastAccepted] {
		var w chatWire
		if !fastChat([]byte(body), &w) {
			t.Errorf("fastChat(%q) declined", body)
		}
	}
	for _, body := range fastChatSeeds[fastAccepted:] {
		var w chatWire
		if fastChat([]byte(body), &w) {
			t.Errorf("fastChat(%q) accepted a body it should leave to encoding/json", body)
		}
	}
}

// BenchmarkDecodeChatPaths compares decodeChat with and without fastChat on the
// overhead runs' request.
//
//	go test -run '^$' -bench BenchmarkDecodeChatPaths ./internal/httpapi
func BenchmarkDecodeChatPaths(b *testing.B) {
	body := []byte(`{"model":"instant","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write twenty words about the sea, please."}],"max_tokens":20,"temperature":0.7,"stream":false}`)
	for _, tc := range []struct {
		name string
		fast bool
	}{{"encoding-json", false}, {"fast", true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := decodeChatWith(body, "", tc.fast); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
