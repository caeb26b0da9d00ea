package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"gopkg.in/yaml.v3"

	"github.com/outcrop/outcrop/internal/httpapi/bedrocktest"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/promptrouter"
)

// configure applies a prompt_routers section written in YAML.
func configure(t *testing.T, svc *promptrouter.Service, src string) error {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return svc.Configure(*doc.Content[0])
}

// TestDefaultPromptRouters: routers configured under prompt_routers.defaults
// are listed with type "default", read by their default-prompt-router ARN,
// invoked like custom routers, and cannot be deleted.
func TestDefaultPromptRouters(t *testing.T) {
	ts, svc := newRouterServer(t)
	if err := configure(t, svc, `
defaults:
  - id: "acme.chat:1"
    name: Acme Chat Prompt Router
    models: [acme.small-v1, acme.large-v1]
    fallback: acme.large-v1
    response_quality_difference: 100
    description: routes between the small and the large Acme model
  - id: "acme.chat:2"
    models: [acme.small-v1, acme.large-v1]
    fallback: acme.large-v1
    response_quality_difference: 0
`); err != nil {
		t.Fatal(err)
	}
	c := controlClient(ts)
	ctx := context.Background()
	createRouter(t, c, "custom-router", 15)
	var defaults []btypes.PromptRouterSummary
	var token *string
	for {
		page, err := c.ListPromptRouters(ctx, &bedrock.ListPromptRoutersInput{Type: btypes.PromptRouterTypeDefault, MaxResults: aws.Int32(1), NextToken: token})
		if err != nil {
			t.Fatalf("ListPromptRouters(default): %v", err)
		}
		defaults = append(defaults, page.PromptRouterSummaries...)
		if token = page.NextToken; token == nil {
			break
		}
	}
	const arn1 = "arn:aws:bedrock:us-east-1:000000000000:default-prompt-router/acme.chat:1"
	if len(defaults) != 2 || aws.ToString(defaults[0].PromptRouterArn) != arn1 || defaults[0].Type != btypes.PromptRouterTypeDefault ||
		aws.ToString(defaults[0].PromptRouterName) != "Acme Chat Prompt Router" || aws.ToString(defaults[1].PromptRouterName) != "acme.chat:2" {
		t.Fatalf("default routers = %+v", defaults)
	}
	custom, err := c.ListPromptRouters(ctx, &bedrock.ListPromptRoutersInput{})
	if err != nil || len(custom.PromptRouterSummaries) != 1 || custom.PromptRouterSummaries[0].Type != btypes.PromptRouterTypeCustom {
		t.Fatalf("ListPromptRouters(custom) = %+v, %v", custom, err)
	}
	got, err := c.GetPromptRouter(ctx, &bedrock.GetPromptRouterInput{PromptRouterArn: aws.String(arn1)})
	if err != nil || got.Type != btypes.PromptRouterTypeDefault || len(got.Models) != 2 || aws.ToFloat64(got.RoutingCriteria.ResponseQualityDifference) != 100 {
		t.Fatalf("GetPromptRouter(default) = %+v, %v", got, err)
	}
	var ve *btypes.ValidationException
	if _, err := c.DeletePromptRouter(ctx, &bedrock.DeletePromptRouterInput{PromptRouterArn: aws.String(arn1)}); !errors.As(err, &ve) {
		t.Errorf("DeletePromptRouter(default) = %v, want ValidationException", err)
	}
	var nf *btypes.ResourceNotFoundException
	if _, err := c.GetPromptRouter(ctx, &bedrock.GetPromptRouterInput{PromptRouterArn: aws.String(strings.Replace(arn1, ":1", ":9", 1))}); !errors.As(err, &nf) {
		t.Errorf("GetPromptRouter(unknown default) = %v, want ResourceNotFoundException", err)
	}

	// Invocation: quality difference 100 always takes the cheaper model, 0
	// takes the fallback for any prompt with a predicted gap.
	rc := bedrocktest.Client(ts.URL)
	for arn, want := range map[string]string{arn1: smallModel, strings.Replace(arn1, ":1", ":2", 1): largeModel} {
		out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(arn),
			Messages: []types.Message{bedrocktest.UserText("Janet has 3 apples and buys 5 more. She gives away half. How many are left?")}})
		if err != nil {
			t.Fatalf("Converse(%s): %v", arn, err)
		}
		text := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
		if out.Trace == nil || out.Trace.PromptRouter == nil || !strings.HasSuffix(aws.ToString(out.Trace.PromptRouter.InvokedModelId), want) || text != "answered by "+want {
			t.Errorf("Converse(%s): trace %+v, text %q; want %s", arn, out.Trace, text, want)
		}
	}

	for _, bad := range []string{
		"defaults: [{id: 'x y', models: [acme.small-v1, acme.large-v1], fallback: acme.large-v1}]",
		"defaults: [{id: a, models: [acme.small-v1], fallback: acme.small-v1}]",
		"defaults: [{id: a, models: [acme.small-v1, acme.nope-v1], fallback: acme.small-v1}]",
		"defaults: [{id: a, models: [acme.small-v1, acme.large-v1], fallback: acme.other-v1}]",
		"defaults: [{id: a, models: [acme.small-v1, acme.large-v1], fallback: acme.large-v1, response_quality_difference: 101}]",
		"defaults: [{id: a, models: [acme.small-v1, acme.large-v1], fallback: acme.large-v1, unknown_key: 1}]",
		"artefacts: [{path: /nonexistent/router.bin, weak: acme.small-v1, strong: acme.large-v1}]",
	} {
		if err := configure(t, &promptrouter.Service{Lookup: svc.Lookup}, bad); err == nil {
			t.Errorf("Configure(%s) succeeded", bad)
		}
	}
}

// TestPromptRouterInvokeModelTrace: InvokeModel and
// InvokeModelWithResponseStream on a router ARN report the chosen model in
// the body's amazon-bedrock-trace.promptRouter.invokedModelId, as Bedrock
// does; a call on a model ARN carries no such member.
func TestPromptRouterInvokeModelTrace(t *testing.T) {
	ts, svc := newRouterServer(t)
	cc := controlClient(ts)
	rc := bedrocktest.Client(ts.URL)
	ctx := context.Background()
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"What is 2+2?"}]}`)
	type traced struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		Trace *struct {
			PromptRouter struct {
				InvokedModelID string `json:"invokedModelId"`
			} `json:"promptRouter"`
		} `json:"amazon-bedrock-trace"`
	}
	for _, d := range []float64{0, 100} {
		arn := createRouter(t, cc, "invoke-router-"+map[float64]string{0: "a", 100: "b"}[d], d)
		rt, _ := svc.Get(ctx, arn)
		want, err := svc.Decide(rt, "What is 2+2?")
		if err != nil {
			t.Fatal(err)
		}
		out, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(arn), Body: body, ContentType: aws.String("application/json")})
		if err != nil {
			t.Fatalf("InvokeModel via router: %v", err)
		}
		var got traced
		if err := json.Unmarshal(out.Body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Trace == nil || got.Trace.PromptRouter.InvokedModelID != want.Invoked || len(got.Content) != 1 || got.Content[0].Text != "answered by "+want.ModelID {
			t.Errorf("InvokeModel d=%v: %s; want invoked %s", d, out.Body, want.Invoked)
		}

		st, err := rc.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(arn), Body: body, ContentType: aws.String("application/json")})
		if err != nil {
			t.Fatalf("InvokeModelWithResponseStream via router: %v", err)
		}
		var last []byte
		for ev := range st.GetStream().Events() {
			if c, ok := ev.(*types.ResponseStreamMemberChunk); ok {
				last = c.Value.Bytes
			}
		}
		st.GetStream().Close()
		var stop traced
		if err := json.Unmarshal(last, &stop); err != nil || stop.Trace == nil || stop.Trace.PromptRouter.InvokedModelID != want.Invoked {
			t.Errorf("InvokeModelWithResponseStream d=%v: last chunk %s; want the router trace naming %s", d, last, want.Invoked)
		}
	}
	out, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(smallModel), Body: body, ContentType: aws.String("application/json")})
	if err != nil || bytes.Contains(out.Body, []byte("amazon-bedrock-trace")) {
		t.Errorf("InvokeModel on a model: %s, %v; want no trace member", out.Body, err)
	}
}

// TestPromptRouterAuthorization: invoking a router needs bedrock:InvokeModel
// (bedrock:InvokeModelWithResponseStream for streams) on the router's own
// ARN; a principal denied it gets AccessDeniedException whatever model the
// router would choose.
func TestPromptRouterAuthorization(t *testing.T) {
	ts, svc := newRouterServer(t)
	cc := controlClient(ts)
	allowed := createRouter(t, cc, "allowed-router", 50)
	denied := createRouter(t, cc, "denied-router", 50)
	var asked []string
	svc.Authorize = func(_ context.Context, action, resource string) error {
		asked = append(asked, action+" "+resource)
		if resource == denied {
			return &llm.Error{Kind: llm.KindAccessDenied, Message: "not allowed: " + action}
		}
		return nil
	}
	rc := bedrocktest.Client(ts.URL)
	ctx := context.Background()
	msgs := []types.Message{bedrocktest.UserText("What is 2+2?")}
	if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(allowed), Messages: msgs}); err != nil {
		t.Fatalf("Converse on an allowed router: %v", err)
	}
	var ad *types.AccessDeniedException
	if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(denied), Messages: msgs}); !errors.As(err, &ad) {
		t.Errorf("Converse on a denied router = %v, want AccessDeniedException", err)
	}
	if _, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(denied), Messages: msgs}); !errors.As(err, &ad) {
		t.Errorf("ConverseStream on a denied router = %v, want AccessDeniedException", err)
	}
	want := []string{"bedrock:InvokeModel " + allowed, "bedrock:InvokeModel " + denied, "bedrock:InvokeModelWithResponseStream " + denied}
	if strings.Join(asked, "\n") != strings.Join(want, "\n") {
		t.Errorf("asked %q, want %q", asked, want)
	}
}
