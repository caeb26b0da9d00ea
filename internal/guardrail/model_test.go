package guardrail

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/outcrop/outcrop/internal/provider/openai"
)

// chatUpstream is an OpenAI-compatible chat server on 127.0.0.1 that
// answers every request with answer, streamed or not as asked.
func chatUpstream(t *testing.T, answer string) *openai.Provider {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
