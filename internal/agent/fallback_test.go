package agent_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store/storetest"
	"github.com/outcrop/outcrop/internal/testenv"
)

// fallbackService is an agent runtime whose model is the OpenAI-compatible
// server at base (model name m), answers capped at maxTokens, with the
// travel Lambda at lambdaURL.
func fallbackService(t *testing.T, base, m string, maxTokens int, lambdaURL string) (*agent.Service, string) {
	prov, err := openai.New(openai.Config{BaseURL: base + "/v1", Model: m})
	if err != nil {
		t.Fatal(err)
	}
	router := routing.New([]*routing.Model{{ID: testModel, Deployments: []*routing.Deployment{{Name: "d", Provider: prov, Type: "openai", Weight: 1}}}})
	gw := gateway.New(gateway.Options{Final: router.Route})
	ctl := agent.NewControl(resource.NewStore(storetest.SQLite(t), resource.Scope{}, nil), nil)
	svc := agent.NewService(agent.Options{Control: ctl, Logger: slog.New(slog.DiscardHandler), Limits: agent.Limits{MaxIterations: 4},
		LambdaEndpoints: map[string]string{travelLambda: lambdaURL},
		Converse: func(ctx context.Context, req *llm.Request) (llm.Stream, error) {
			req.Inference.MaxTokens = &maxTokens
			return gw.Do(ctx, &gateway.Call{API: "bedrock", Op: "InvokeAgent", Request: req})
		}})
	ctx := context.Background()
	acct := resource.DefaultAccount
	a, err := ctl.CreateAgent(ctx, acct, &agent.AgentInput{AgentName: "fallback", FoundationModel: testModel, Instruction: travelInstruction})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.CreateActionGroup(ctx, acct, a.AgentID, "DRAFT", &agent.ActionGroupInput{ActionGroupName: "TravelActions",
		ActionGroupExecutor: &agent.Executor{Lambda: travelLambda},
		FunctionSchema: &agent.FunctionSchema{Functions: []agent.Function{{Name: "search_flights", Description: "Search flights",
			Parameters: map[string]agent.ParameterDetail{"origin": {Type: "string"}, "destination": {Type: "string"}, "date": {Type: "string"}}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.PrepareAgent(ctx, acct, a.AgentID); err != nil {
		t.Fatal(err)
	}
	return svc, a.AgentID
}

// TestPromptToolFallback: a model that refuses native tools (HTTP 400 "does
// not support tools", as Ollama answers) still runs the agent: tools are
// described in the prompt, its JSON call line runs the Lambda tool, and the
// result comes back as text.
func TestPromptToolFallback(t *testing.T) {
	var sawTools, sawPrompt int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Tools    []any `json:"tools"`
			Messages []struct {
				Role    string `json:"role"`
				Content any    `json:"content"`
			} `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if len(req.Tools) > 0 {
			sawTools++
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"message":"registry.ollama.ai/library/smollm2:135m does not support tools","type":"api_error","param":null,"code":null}}`))
			return
		}
		sys, _ := req.Messages[0].Content.(string)
		if strings.Contains(sys, "TravelActions__search_flights") {
			sawPrompt++
		}
		last, _ := req.Messages[len(req.Messages)-1].Content.(string)
		answer := `Sure. {"tool": "TravelActions__search_flights", "input": {"origin": "London", "destination": "Paris", "date": "2026-12-24"}}`
		if strings.Contains(last, "Tool result") {
			answer = "Found flight BA304."
		}
		b, _ := json.Marshal(answer)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(`data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":` + string(b) + `},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"))
	}))
	defer up.Close()
	lambda := newLambda(t)
	svc, id := fallbackService(t, up.URL, "m", 64, lambda.URL)
	got := turnText(t, svc, &agent.Invocation{AgentID: id, AliasID: resource.DraftAlias, SessionID: "fb", InputText: "flights London to Paris on 2026-12-24"})
	if got != "Found flight BA304." || lambda.count("search_flights") != 1 {
		t.Fatalf("answer %q, lambda calls %v; want the tool run from the prompt-format call", got, lambda.counts)
	}
	if sawTools != 1 || sawPrompt != 2 {
		t.Fatalf("requests with native tools %d (want 1, refused), with prompt tools %d (want 2)", sawTools, sawPrompt)
	}
}

// TestPromptToolFallbackOllama: the same agent on Ollama's SmolLM2 under
// its own template, which refuses tools, completes a turn without an
// error (what a 135M model answers is not checked).
func TestPromptToolFallbackOllama(t *testing.T) {
	base := testenv.OllamaURL(t)
	svc, id := fallbackService(t, base, testenv.OllamaModel, 24, newLambda(t).URL)
	turnText(t, svc, &agent.Invocation{AgentID: id, AliasID: resource.DraftAlias, SessionID: "ollama", InputText: "Find flights from London to Paris"})
}
