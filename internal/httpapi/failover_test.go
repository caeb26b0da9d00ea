package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	oai "github.com/openai/openai-go/v3"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/routing/routingtest"
)

// failoverAnswer is routingtest.Server's default answer.
const failoverAnswer = "w0 w1 w2 w3 w4 w5 w6 w7 "

// failoverServer serves model testModel from two real upstreams through
// the openai provider: the first cuts its answers at fault, the second is
// healthy. The breaker is off, so every other request meets the fault.
func failoverServer(t *testing.T, fault routingtest.Fault) (*httptest.Server, *routingtest.Server) {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	m := &routing.Model{ID: testModel, Profiles: []llm.Latency{llm.LatencyStandard}}
	var first *routingtest.Server
	for i := 0; i < 2; i++ {
		up, err := routingtest.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(up.Close)
		if i == 0 {
			up.SetFault(fault)
			first = up
		}
		p, err := openai.New(openai.Config{BaseURL: up.URL(), Model: "fake", HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		m.Deployments = append(m.Deployments, &routing.Deployment{Name: fmt.Sprintf("d%d", i), Provider: p, Type: "openai", Weight: 1})
	}
	router := routing.New([]*routing.Model{m}, routing.WithConfig(routing.Config{
		Breaker: routing.Breaker{Failures: -1}, BackoffBase: routing.Duration(time.Millisecond),
	}))
	gw := gateway.New(gateway.Options{Final: router.Route})
	ts := httptest.NewServer(New(Deps{Gateway: gw, Router: router}).Handler())
	t.Cleanup(ts.Close)
	return ts, first
}

// TestFailoverThroughServer: a model with two deployments, the first
// cutting its answers part way. Converse, InvokeModel and non-streaming
// chat completions (real SDK clients, no client retries) never fail; a
// ConverseStream whose cut comes before the first word does not either.
func TestFailoverThroughServer(t *testing.T) {
	const calls = 10
	noRetry := func(o *bedrockruntime.Options) { o.RetryMaxAttempts = 1 }
	msgs := []rtypes.Message{{Role: rtypes.ConversationRoleUser, Content: []rtypes.ContentBlock{&rtypes.ContentBlockMemberText{Value: "hi"}}}}
	tests := []struct {
		name  string
		fault routingtest.Fault
		call  func(ctx context.Context, ts *httptest.Server) (string, error)
	}{
		{"Converse", routingtest.Fault{BreakAfter: 4}, func(ctx context.Context, ts *httptest.Server) (string, error) {
			out, err := runtimeClient(ts).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: msgs}, noRetry)
			if err != nil {
				return "", err
			}
			return out.Output.(*rtypes.ConverseOutputMemberMessage).Value.Content[0].(*rtypes.ContentBlockMemberText).Value, nil
		}},
		{"Converse cut inside a chunk", routingtest.Fault{BreakAfter: 6, BreakMidEvent: true}, func(ctx context.Context, ts *httptest.Server) (string, error) {
			out, err := runtimeClient(ts).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: msgs}, noRetry)
			if err != nil {
				return "", err
			}
			return out.Output.(*rtypes.ConverseOutputMemberMessage).Value.Content[0].(*rtypes.ContentBlockMemberText).Value, nil
		}},
		{"InvokeModel", routingtest.Fault{BreakAfter: 10}, func(ctx context.Context, ts *httptest.Server) (string, error) {
			out, err := runtimeClient(ts).InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(testModel), ContentType: aws.String("application/json"),
				Body: []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`)}, noRetry)
			if err != nil {
				return "", err
			}
			var resp struct {
				Content []struct {
					Text string `json:"text"`
				} `json:"content"`
			}
			if err := json.Unmarshal(out.Body, &resp); err != nil || len(resp.Content) != 1 {
				return "", fmt.Errorf("body %s: %v", out.Body, err)
			}
			return resp.Content[0].Text, nil
		}},
		{"chat completions", routingtest.Fault{BreakAfter: 2}, func(ctx context.Context, ts *httptest.Server) (string, error) {
			c := openaiGoClient(ts.URL)
			out, err := c.Chat.Completions.New(ctx, oai.ChatCompletionNewParams{Model: testModel, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage("hi")}})
			if err != nil {
				return "", err
			}
			return out.Choices[0].Message.Content, nil
		}},
		{"ConverseStream cut before the first word", routingtest.Fault{BreakAfter: 1}, func(ctx context.Context, ts *httptest.Server) (string, error) {
			out, err := runtimeClient(ts).ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(testModel), Messages: msgs}, noRetry)
			if err != nil {
				return "", err
			}
			st := out.GetStream()
			defer st.Close()
			var b strings.Builder
			for ev := range st.Events() {
				if d, ok := ev.(*rtypes.ConverseStreamOutputMemberContentBlockDelta); ok {
					b.WriteString(d.Value.Delta.(*rtypes.ContentBlockDeltaMemberText).Value)
				}
			}
			return b.String(), st.Err()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, broken := failoverServer(t, tc.fault)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for i := 0; i < calls; i++ {
				text, err := tc.call(ctx, ts)
				if err != nil || text != failoverAnswer {
					t.Errorf("call %d: %q, %v; want the whole answer from the healthy deployment", i, text, err)
				}
			}
			if n := broken.Broken(); n == 0 {
				t.Error("the fault never fired")
			}
		})
	}
}
