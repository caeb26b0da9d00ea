package prompt_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagent"
	agtypes "github.com/aws/aws-sdk-go-v2/service/bedrockagent/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/prompt"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// echoUpstream is an OpenAI-compatible server that answers with the
// system prompt and the messages it received, so a test sees what the
// rendered prompt sent.
type echoUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	last map[string]any
}

func newEcho(t *testing.T) *echoUpstream {
	u := &echoUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		u.mu.Lock()
		u.last = req
		u.mu.Unlock()
		var b strings.Builder
		for _, m := range req["messages"].([]any) {
			mm := m.(map[string]any)
			fmt.Fprintf(&b, "[%s] %v ", mm["role"], mm["content"])
		}
		w.Header().Set("Content-Type", "text/event-stream")
		chunk, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion.chunk", "model": "m",
			"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": b.String()}, "finish_reason": "stop"}}})
		fmt.Fprintf(w, "data: %s\n\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15}}\n\ndata: [DONE]\n\n", chunk)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *echoUpstream) request() map[string]any {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

func newServer(t *testing.T, db *store.DB) (*echoUpstream, string) {
	up := newEcho(t)
	prov, err := openai.New(openai.Config{BaseURL: up.URL + "/v1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	router := routing.New([]*routing.Model{{ID: "writer", Deployments: []*routing.Deployment{{Name: "d", Provider: prov, Type: "openai", Weight: 1}}}})
	gw := gateway.New(gateway.Options{Final: router.Route})
	scope := resource.Scope{}
	reg := prompt.NewRegistry(resource.NewStore(db, scope, nil), func(id string) bool { _, ok := router.Lookup(id); return ok })
	srv := httpapi.New(httpapi.Deps{Gateway: gw, Router: router, Groups: []httpapi.RouteGroup{&httpapi.Prompts{Registry: reg}},
		Prompts: func(ctx context.Context, arn string, vars map[string]string) (*llm.Request, error) {
			return reg.Render(ctx, resource.Account(ctx, scope), arn, vars)
		}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return up, ts.URL
}

func clients(url string) (*bedrockagent.Client, *bedrockruntime.Client) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	return bedrockagent.NewFromConfig(cfg, func(o *bedrockagent.Options) { o.BaseEndpoint = aws.String(url) }),
		bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) { o.BaseEndpoint = aws.String(url) })
}

func textVariant(text string, vars ...string) agtypes.PromptVariant {
	var iv []agtypes.PromptInputVariable
	for _, v := range vars {
		iv = append(iv, agtypes.PromptInputVariable{Name: aws.String(v)})
	}
	return agtypes.PromptVariant{Name: aws.String("v1"), TemplateType: agtypes.PromptTemplateTypeText, ModelId: aws.String("writer"),
		TemplateConfiguration: &agtypes.PromptTemplateConfigurationMemberText{Value: agtypes.TextPromptTemplateConfiguration{
			Text: aws.String(text), InputVariables: iv}},
		InferenceConfiguration: &agtypes.PromptInferenceConfigurationMemberText{Value: agtypes.PromptModelInferenceConfiguration{
			MaxTokens: aws.Int32(77), Temperature: aws.Float32(0.5)}}}
}

func TestPromptsThroughGoSDK(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		up, url := newServer(t, db)
		ac, rt := clients(url)
		cp, err := ac.CreatePrompt(ctx, &bedrockagent.CreatePromptInput{Name: aws.String("greeting"), Description: aws.String("says hello"),
			Variants: []agtypes.PromptVariant{textVariant("Write a haiku about {{topic}} for {{ name }}.", "topic", "name")}})
		if err != nil {
			t.Fatalf("CreatePrompt: %v", err)
		}
		if *cp.Version != "DRAFT" || !strings.HasSuffix(*cp.Arn, ":prompt/"+*cp.Id) || *cp.DefaultVariant != "v1" {
			t.Fatalf("CreatePrompt = %+v", cp)
		}
		v1, err := ac.CreatePromptVersion(ctx, &bedrockagent.CreatePromptVersionInput{PromptIdentifier: cp.Id})
		if err != nil || *v1.Version != "1" || *v1.Arn != *cp.Arn+":1" {
			t.Fatalf("CreatePromptVersion = %+v, %v", v1, err)
		}
		// Change the DRAFT; version 1 keeps the old text.
		_, err = ac.UpdatePrompt(ctx, &bedrockagent.UpdatePromptInput{PromptIdentifier: cp.Arn, Name: aws.String("greeting"),
			Variants: []agtypes.PromptVariant{textVariant("Write a limerick about {{topic}}.", "topic")}})
		if err != nil {
			t.Fatalf("UpdatePrompt: %v", err)
		}
		got1, err := ac.GetPrompt(ctx, &bedrockagent.GetPromptInput{PromptIdentifier: cp.Id, PromptVersion: aws.String("1")})
		if err != nil {
			t.Fatal(err)
		}
		tv := got1.Variants[0].TemplateConfiguration.(*agtypes.PromptTemplateConfigurationMemberText)
		if !strings.Contains(*tv.Value.Text, "haiku") {
			t.Fatalf("version 1 text = %q, want the text it was frozen with", *tv.Value.Text)
		}
		list, err := ac.ListPrompts(ctx, &bedrockagent.ListPromptsInput{PromptIdentifier: cp.Id})
		if err != nil || len(list.PromptSummaries) != 2 {
			t.Fatalf("ListPrompts(versions) = %v, %v", list, err)
		}

		// Converse with the version ARN as modelId and promptVariables.
		out, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: v1.Arn, PromptVariables: map[string]brtypes.PromptVariableValues{
			"topic": &brtypes.PromptVariableValuesMemberText{Value: "granite"}, "name": &brtypes.PromptVariableValuesMemberText{Value: "Ana"}}})
		if err != nil {
			t.Fatalf("Converse with a prompt ARN: %v", err)
		}
		text := out.Output.(*brtypes.ConverseOutputMemberMessage).Value.Content[0].(*brtypes.ContentBlockMemberText).Value
		if !strings.Contains(text, "Write a haiku about granite for Ana.") {
			t.Fatalf("model saw %q, want the rendered version-1 template", text)
		}
		if mt := up.request()["max_tokens"]; mt != float64(77) {
			t.Fatalf("upstream max_tokens = %v, want the prompt's 77", mt)
		}
		// The DRAFT ARN renders the new text; ConverseStream works too.
		st, err := rt.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: cp.Arn, PromptVariables: map[string]brtypes.PromptVariableValues{
			"topic": &brtypes.PromptVariableValuesMemberText{Value: "moss"}}})
		if err != nil {
			t.Fatalf("ConverseStream with a prompt ARN: %v", err)
		}
		var sb strings.Builder
		for ev := range st.GetStream().Events() {
			if d, ok := ev.(*brtypes.ConverseStreamOutputMemberContentBlockDelta); ok {
				sb.WriteString(d.Value.Delta.(*brtypes.ContentBlockDeltaMemberText).Value)
			}
		}
		if !strings.Contains(sb.String(), "limerick about moss") {
			t.Fatalf("stream saw %q", sb.String())
		}

		// A missing variable, an unknown prompt and a deleted version are
		// Bedrock errors.
		_, err = rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: v1.Arn})
		wantCode(t, "missing variable", err, "ValidationException")
		_, err = rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("arn:aws:bedrock:us-east-1:000000000000:prompt/ZZZZZZZZZZ")})
		wantCode(t, "unknown prompt", err, "ResourceNotFoundException")
		if _, err := ac.DeletePrompt(ctx, &bedrockagent.DeletePromptInput{PromptIdentifier: cp.Id, PromptVersion: aws.String("1")}); err != nil {
			t.Fatal(err)
		}
		_, err = ac.GetPrompt(ctx, &bedrockagent.GetPromptInput{PromptIdentifier: cp.Id, PromptVersion: aws.String("1")})
		wantCode(t, "deleted version", err, "ResourceNotFoundException")
		_, err = ac.CreatePrompt(ctx, &bedrockagent.CreatePromptInput{Name: aws.String("greeting")})
		wantCode(t, "duplicate name", err, "ConflictException")
		_, err = ac.CreatePrompt(ctx, &bedrockagent.CreatePromptInput{Name: aws.String("bad"), Variants: []agtypes.PromptVariant{{
			Name: aws.String("v"), TemplateType: agtypes.PromptTemplateTypeChat, ModelId: aws.String("writer"),
			TemplateConfiguration: &agtypes.PromptTemplateConfigurationMemberText{Value: agtypes.TextPromptTemplateConfiguration{Text: aws.String("x")}}}}})
		wantCode(t, "CHAT type with a text template", err, "ValidationException")
		if _, err := ac.DeletePrompt(ctx, &bedrockagent.DeletePromptInput{PromptIdentifier: cp.Id}); err != nil {
			t.Fatal(err)
		}
		_, err = ac.GetPrompt(ctx, &bedrockagent.GetPromptInput{PromptIdentifier: cp.Id})
		wantCode(t, "deleted prompt", err, "ResourceNotFoundException")
	})
}

// TestChatTemplate renders a CHAT prompt with a system prompt.
func TestChatTemplate(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	reg := prompt.NewRegistry(resource.NewStore(db, resource.Scope{}, nil), nil)
	p, err := reg.Create(ctx, "000000000000", &prompt.Input{Name: "chat", Variants: []prompt.Variant{{Name: "v", TemplateType: prompt.TemplateChat, ModelID: "m",
		TemplateConfiguration: prompt.TemplateConfiguration{Chat: &prompt.ChatTemplate{
			System:         []prompt.TextBlock{{Text: "You answer in {{lang}}."}},
			Messages:       []prompt.Message{{Role: "user", Content: []prompt.TextBlock{{Text: "Translate {{word}}"}}}},
			InputVariables: []prompt.InputVariable{{Name: "lang"}, {Name: "word"}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := reg.Render(ctx, "000000000000", p.Arn, map[string]string{"lang": "French", "word": "{{lang}}"})
	if err != nil {
		t.Fatal(err)
	}
	if got := req.SystemText(); got != "You answer in French." {
		t.Fatalf("system = %q", got)
	}
	if got := req.Messages[0].Content[0].Text; got != "Translate {{lang}}" {
		t.Fatalf("message = %q, want the value inserted once, not substituted again", got)
	}
	if _, err := reg.Render(ctx, "111111111111", p.Arn, nil); err == nil {
		t.Fatalf("another account rendered the prompt")
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("%s: error %v, want %s", what, err, code)
	}
}
