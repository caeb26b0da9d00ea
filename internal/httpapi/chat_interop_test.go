package httpapi

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/testenv"
)

// openaiPython runs test/interop/python/openai_chat.py's scenario against
// url with the OpenAI Python SDK.
func openaiPython(t *testing.T, url, scenario string, out any) {
	t.Helper()
	python := testenv.Python(t)
	script := filepath.Join(repoRoot(t), "test", "interop", "python", "openai_chat.py")
	runScript(t, []string{"OUTCROP_URL=" + url, "OUTCROP_MODEL=" + testModel, "OPENAI_LOG="}, out, python, script, scenario)
}

// TestOpenAIPythonOllama: the OpenAI Python SDK against Outcrop serving
// the real Ollama.
func TestOpenAIPythonOllama(t *testing.T) {
	testenv.Python(t)
	t.Parallel() // the time goes to waiting on the shared Ollama
	ts := chatServer(t, ollamaProvider(t), nil)
	var got struct {
		Completion struct {
			Content          string
			FinishReason     string `json:"finish_reason"`
			PromptTokens     int    `json:"prompt_tokens"`
			CompletionTokens int    `json:"completion_tokens"`
			Deployment       string
			RequestID        string `json:"request_id"`
		}
		Stream struct {
			Text         string
			Chunks       int
			TotalTokens  int    `json:"total_tokens"`
			FinishReason string `json:"finish_reason"`
		}
		Models     []string
		NotFound   int `json:"not_found"`
		BadRequest int `json:"bad_request"`
	}
	openaiPython(t, ts.URL, "chat", &got)
	c := got.Completion
	if c.Content == "" || c.PromptTokens == 0 || c.CompletionTokens == 0 || c.Deployment != "dep-1" || c.RequestID == "" ||
		(c.FinishReason != "stop" && c.FinishReason != "length") {
		t.Errorf("completion = %+v", c)
	}
	s := got.Stream
	if s.Text == "" || s.Chunks < 3 || s.TotalTokens == 0 || (s.FinishReason != "stop" && s.FinishReason != "length") {
		t.Errorf("stream = %+v", s)
	}
	if !reflect.DeepEqual(got.Models, []string{testModel}) || got.NotFound != 404 || got.BadRequest != 400 {
		t.Errorf("models %v, unknown model %d, n=2 %d", got.Models, got.NotFound, got.BadRequest)
	}
}

// TestOpenAIPythonTools: tool calling with the OpenAI Python SDK; the
// upstream replays tool-call streams (two parallel calls, cached tokens),
// because openai_chat.py's tools scenario expects the model to call a tool,
// which SmolLM2-135M does not do even when offered tools (see
// TestOpenAIPythonToolsOllama and TestOpenAIGoToolsOllama for the real model).
func TestOpenAIPythonTools(t *testing.T) {
	testenv.Python(t)
	p, up := fixtureProvider(t, "hand_tool_deltas", "hand_tool_deltas", "hand_reasoning_content")
	ts := chatServer(t, p, nil)
	var got struct {
		Completion struct {
			FinishReason string `json:"finish_reason"`
			Calls        [][]any
			CachedTokens int `json:"cached_tokens"`
		}
		Stream struct {
			FinishReason string `json:"finish_reason"`
			Calls        [][]any
		}
		Final struct {
			Content          string
			ReasoningContent string `json:"reasoning_content"`
		}
	}
	openaiPython(t, ts.URL, "tools", &got)
	want := [][]any{{"call_abc", "get_weather", map[string]any{"city": "Paris"}}, {"call_def", "get_weather", map[string]any{"city": "Oslo"}}}
	if got.Completion.FinishReason != "tool_calls" || !reflect.DeepEqual(got.Completion.Calls, want) || got.Completion.CachedTokens != 64 {
		t.Errorf("completion = %+v", got.Completion)
	}
	if got.Stream.FinishReason != "tool_calls" || !reflect.DeepEqual(got.Stream.Calls, want) {
		t.Errorf("stream = %+v", got.Stream)
	}
	if got.Final.Content != "Hello!" || got.Final.ReasoningContent != "The user wants a greeting." {
		t.Errorf("final = %+v", got.Final)
	}
	if n := len(up.Requests()); n != 3 {
		t.Errorf("upstream saw %d requests, want 3", n)
	}
}

// TestOpenAIPythonToolsOllama: tools through the OpenAI Python SDK against
// the real Ollama's tools-capable SmolLM2. A 135M model may answer in prose;
// either answer must be well formed, and the tool-result turn must reach
// the model (its prompt grows) and get a text answer.
func TestOpenAIPythonToolsOllama(t *testing.T) {
	testenv.Python(t)
	t.Parallel() // the time goes to waiting on the shared Ollama
	p, err := openai.New(openai.Config{BaseURL: testenv.OllamaURL(t) + "/v1", Model: testenv.OllamaToolsModel})
	if err != nil {
		t.Fatal(err)
	}
	ts := chatServer(t, p, nil)
	var got struct {
		Completion struct {
			FinishReason string `json:"finish_reason"`
			Content      *string
			Calls        [][]any
			PromptTokens int `json:"prompt_tokens"`
		}
		Stream struct {
			FinishReason string `json:"finish_reason"`
			Text         string
			Calls        [][]any
		}
		Final struct {
			Content      *string
			FinishReason string `json:"finish_reason"`
			PromptTokens int    `json:"prompt_tokens"`
		}
	}
	openaiPython(t, ts.URL, "tools_live", &got)
	c := got.Completion
	switch {
	case len(c.Calls) > 0:
		if c.FinishReason != "tool_calls" || len(c.Calls[0]) != 3 || c.Calls[0][1] != "get_weather" {
			t.Errorf("tool call answer = %+v", c)
		}
		t.Logf("the model called %v", c.Calls)
	case c.Content == nil || *c.Content == "" || (c.FinishReason != "stop" && c.FinishReason != "length"):
		t.Errorf("prose answer = %+v", c)
	default:
		t.Logf("the model answered in prose (%s): %q", c.FinishReason, *c.Content)
	}
	s := got.Stream
	if s.FinishReason == "" || (len(s.Calls) == 0 && s.Text == "") {
		t.Errorf("stream = %+v", s)
	}
	f := got.Final
	if f.Content == nil || *f.Content == "" || f.PromptTokens <= c.PromptTokens {
		t.Errorf("answer after the tool result = %+v (first prompt %d tokens)", f, c.PromptTokens)
	} else {
		t.Logf("after the tool result: %q", *f.Content)
	}
}

// TestOpenAIPythonStreamError: a failure after the stream started reaches
// the Python SDK as an APIError.
func TestOpenAIPythonStreamError(t *testing.T) {
	testenv.Python(t)
	p, _ := fixtureProvider(t, "hand_midstream_error")
	ts := chatServer(t, p, nil)
	var got struct {
		Text  string
		Error string
	}
	openaiPython(t, ts.URL, "stream_error", &got)
	if got.Text != "Hel" || got.Error != "APIError" {
		t.Errorf("got %+v, want the text before the error and an APIError", got)
	}
}
