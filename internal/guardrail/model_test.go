package guardrail

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outcrop/outcrop/internal/provider/openai"
)

// chatUpstream is an OpenAI-compatible chat server on 127.0.0.1 that
// answers every request with answer, streamed or not as asked.
func chatUpstream(t *testing.T, answer string) *openai.Provider {
	t.Helper()
	return countingUpstream(t, answer, new(atomic.Int64))
}

// countingUpstream is chatUpstream that counts the requests in *calls.
func countingUpstream(t *testing.T, answer string, calls *atomic.Int64) *openai.Provider {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Stream bool `json:"stream"`
		}
		json.Unmarshal(body, &req)
		content, _ := json.Marshal(answer)
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`, content)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":%s},\"finish_reason\":null}]}\n\n", content)
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(ts.Close)
	p, err := openai.New(openai.Config{BaseURL: ts.URL + "/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestModelEntityDetector(t *testing.T) {
	answer := "{\"type\":\"NAME\",\"text\":\"Maria Garcia\"}\n{\"type\":\"ADDRESS\",\"text\":\"12 Elm Street, Springfield\"}\n{\"type\":\"NAME\",\"text\":\"Invented Person\"}"
	e := &Engine{Entities: &ModelEntityDetector{Provider: chatUpstream(t, answer), Model: "m"}}
	d := base()
	d.SensitiveInformationPolicyConfig = &SensitiveInformationPolicyConfig{PIIEntitiesConfig: []PIIEntity{
		{Type: "NAME", Action: ActionAnonymize}, {Type: "ADDRESS", Action: ActionAnonymize}}}
	c := mustCompile(t, d)
	res, err := e.Apply(context.Background(), c, &ApplyRequest{Source: SourceInput, Content: []Content{{Text: &TextContent{
		Text: "Maria Garcia lives at 12 Elm Street, Springfield."}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Outputs[0].Text, "{NAME} lives at {ADDRESS}."; got != want {
		t.Errorf("masked = %q, want %q (hallucinated names must be ignored)", got, want)
	}
}

func TestLlamaGuardClassifier(t *testing.T) {
	tests := []struct {
		answer string
		want   map[string]string
	}{
		{"safe", map[string]string{"HATE": ConfNone, "VIOLENCE": ConfNone}},
		{"unsafe\nS10", map[string]string{"HATE": ConfHigh, "VIOLENCE": ConfNone}},
		{"unsafe\nS1,S12", map[string]string{"VIOLENCE": ConfHigh, "SEXUAL": ConfHigh, "HATE": ConfNone}},
	}
	for _, tc := range tests {
		t.Run(tc.answer, func(t *testing.T) {
			c := &LlamaGuardClassifier{Provider: chatUpstream(t, tc.answer), Model: "llama-guard3"}
			_, conf, err := c.Classify(context.Background(), "some text")
			if err != nil {
				t.Fatal(err)
			}
			for cat, want := range tc.want {
				if got := conf[categoryIndex(cat)]; got != want {
					t.Errorf("%s = %s, want %s", cat, got, want)
				}
			}
		})
	}
}

func TestModelEntityAnswers(t *testing.T) {
	tests := []struct {
		name, text, answer string
		want               []string // "TYPE:marked text"
	}{
		{"lines", "Maria Garcia lives at 12 Elm Street, Springfield.", "NAME: Maria Garcia\nADDRESS: 12 Elm Street, Springfield",
			[]string{"NAME:Maria Garcia", "ADDRESS:12 Elm Street, Springfield"}},
		{"case and spacing", "eva kleist lives at 255 hersnapvej 18,\n københavn", "NAME: Eva KLEIST\nADDRESS: 255 Hersnapvej 18, København",
			[]string{"NAME:eva kleist", "ADDRESS:255 hersnapvej 18,\n københavn"}},
		{"capitalised words of a misspelt answer", "Kevin had given Alma his address", "NAME: Alma Smith",
			[]string{"NAME:Alma"}},
		{"adjacent words merge", "Stephan M Urner\n4844 Søndergade 52", "NAME: Stephanie M Urner",
			[]string{"NAME:Urner"}},
		{"lowercase text words are not guessed", "call alma tomorrow", "NAME: Alma Smith", nil},
		{"invented", "What is the weather tomorrow?", "NAME: Tom Becker", nil},
		{"none", "What is the weather tomorrow?", "NONE", nil},
		{"json", "Ask Jane Doe.", `{"type":"NAME","text":"Jane Doe"}`, []string{"NAME:Jane Doe"}},
		{"chatter", "The Propublica office", "The office is nice. Name: The", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &ModelEntityDetector{Provider: chatUpstream(t, tc.answer), Model: "m"}
			spans, err := d.DetectEntities(context.Background(), tc.text, []string{"NAME", "ADDRESS"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range spans {
				got = append(got, s.Type+":"+tc.text[s.Start:s.End])
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEntityWindows(t *testing.T) {
	text := strings.Repeat("Jane Doe was here. ", 200) // 3,800 bytes
	var calls atomic.Int64
	d := &ModelEntityDetector{Provider: countingUpstream(t, "NAME: Jane Doe", &calls), Model: "m"}
	spans, err := d.DetectEntities(context.Background(), text, []string{"NAME"})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 4 {
		t.Errorf("%d model calls for %d bytes, want 4 windows of ≤ %d", calls.Load(), len(text), EntityWindow)
	}
	if len(spans) != 200 {
		t.Errorf("%d spans, want 200 (a window cut inside a name?)", len(spans))
	}
}

func FuzzFindEntity(f *testing.F) {
	f.Add("Maria Garcia lives at 12 Elm Street", "NAME: maria  GARCIA\nADDRESS: 12 Elm")
	f.Add("Ünal Öz\n\nİstanbul", "NAME: ünal öz x\nADDRESS: İSTANBUL")
	f.Fuzz(func(t *testing.T, text, answer string) {
		for _, e := range parseEntityAnswer(answer) {
			for _, s := range findEntity(text, e.text) {
				if s.Start < 0 || s.End > len(text) || s.Start >= s.End {
					t.Fatalf("span %d..%d outside %d bytes", s.Start, s.End, len(text))
				}
			}
		}
		for off := 0; off < len(text); {
			end := windowEnd(text, off, 64)
			if end <= off || end > len(text) {
				t.Fatalf("windowEnd(%d) = %d of %d", off, end, len(text))
			}
			off = end
		}
	})
}
