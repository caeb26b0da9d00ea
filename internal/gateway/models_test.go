package gateway_test

import (
	"context"
	"testing"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/routing/routingtest"
)

// seen is a stage that records the model identity the stages after the
// edge see.
type seen struct{ model, resource, reqModel string }

func (s *seen) Name() string { return "seen" }

func (s *seen) Wrap(next gateway.Handler) gateway.Handler {
	return func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
		s.model, s.resource, s.reqModel = c.Model, c.Resource, c.Request.Model
		return next(ctx, c)
	}
}

// TestDoResolvesModel: a call built without Call.Model (as agents, flows
// and knowledge bases build theirs) reaches the stages with the canonical
// ID and its ARN, whatever spelling of the model it named; the call is
// then served by that model over a real upstream.
func TestDoResolvesModel(t *testing.T) {
	up, err := routingtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	router := routing.New([]*routing.Model{{
		ID: "acme.chat-v1", Aliases: []string{"chat"},
		Deployments: []*routing.Deployment{{Name: "d1", Type: "openai", Weight: 1, Provider: &routingtest.Client{BaseURL: up.URL(), Model: "fake"}}},
	}})
	st := &seen{}
	arn := func(id string) string { return "arn:aws:bedrock:eu-west-1::foundation-model/" + id }
	g := gateway.New(gateway.Options{Stages: []gateway.Stage{st}, Final: router.Route, Models: router, Resource: arn})

	for _, tc := range []struct {
		name, model     string
		callModel       string // set by the caller (the edge); kept as is
		want, wantRes   string
		wantServedError bool
	}{
		{name: "id", model: "acme.chat-v1", want: "acme.chat-v1", wantRes: arn("acme.chat-v1")},
		{name: "alias", model: "chat", want: "acme.chat-v1", wantRes: arn("acme.chat-v1")},
		{name: "foundation-model ARN", model: "arn:aws:bedrock:us-east-1::foundation-model/chat", want: "acme.chat-v1", wantRes: arn("acme.chat-v1")},
		{name: "cross-region profile", model: "eu.acme.chat-v1", want: "acme.chat-v1", wantRes: arn("acme.chat-v1")},
		{name: "unknown stays unresolved", model: "nope", want: "", wantRes: "caller's", wantServedError: true},
		{name: "edge-resolved call untouched", model: "acme.chat-v1", callModel: "acme.chat-v1", want: "acme.chat-v1", wantRes: "caller's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &gateway.Call{API: "bedrock", Op: "Converse", Action: "bedrock:InvokeModel", Model: tc.callModel, Resource: "caller's",
				Request: &llm.Request{Model: tc.model, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock("hi")}}}}}
			resp, err := g.Converse(context.Background(), c)
			if (err != nil) != tc.wantServedError {
				t.Fatalf("Converse(%q) error = %v, want error %v", tc.model, err, tc.wantServedError)
			}
			if st.model != tc.want || st.resource != tc.wantRes {
				t.Errorf("stage saw Model %q Resource %q, want %q %q", st.model, st.resource, tc.want, tc.wantRes)
			}
			if tc.want != "" && st.reqModel != tc.want {
				t.Errorf("stage saw Request.Model %q, want %q", st.reqModel, tc.want)
			}
			if err == nil && resp.Message.Content == nil {
				t.Errorf("empty answer")
			}
		})
	}
	if m, ok := g.Resolve("us.chat"); !ok || m.ID != "acme.chat-v1" || m.Type != "openai" || len(m.Providers) != 1 {
		t.Errorf(`Resolve("us.chat") = %+v, %v`, m, ok)
	}
	if _, ok := g.Resolve("nope"); ok {
		t.Errorf(`Resolve("nope") found a model`)
	}
}

func TestIAMAction(t *testing.T) {
	for _, tc := range []struct {
		c    *gateway.Call
		want string
	}{
		{&gateway.Call{Op: "Converse"}, gateway.ActionInvokeModel},
		{&gateway.Call{Op: "ConverseStream", Stream: true}, gateway.ActionInvokeModelStream},
		{&gateway.Call{Op: "InvokeModel"}, gateway.ActionInvokeModel},
		{&gateway.Call{Op: "InvokeModelWithResponseStream"}, gateway.ActionInvokeModelStream},
		{&gateway.Call{Op: "ChatCompletions"}, gateway.ActionInvokeModel},
		{&gateway.Call{Op: "ChatCompletions", Stream: true}, gateway.ActionInvokeModelStream},
		{&gateway.Call{Op: "InvokeAgent", Action: gateway.ActionInvokeModel}, gateway.ActionInvokeModel},
		{&gateway.Call{Op: "ApplyGuardrail"}, "bedrock:ApplyGuardrail"},
	} {
		if got := tc.c.IAMAction(); got != tc.want {
			t.Errorf("Call{Op: %q, Stream: %v, Action: %q}.IAMAction() = %q, want %q", tc.c.Op, tc.c.Stream, tc.c.Action, got, tc.want)
		}
	}
}
