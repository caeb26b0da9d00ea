// Package bedrocktest holds the client suites that check Outcrop's Bedrock
// Runtime API with the real AWS SDKs: aws-sdk-go-v2 in process, boto3 and
// @aws-sdk/client-bedrock-runtime (default HTTP/2 handler) as subprocesses
// running test/interop/python/bedrock_*.py and test/interop/js/bedrock_*.mjs.
//
// Each suite takes the base URL of a server that serves Model (and
// SeedModelID as an alias of it). With real=false the upstream must be the
// scripted one of internal/httpapi's tests, whose answers the suites check
// word for word: "Hello from Outcrop" for plain prompts, the tool use of
// ToolUseEvents when tools are offered, and "It is <result> in Paris." once a
// tool result comes back. With real=true only shapes are checked.
//
// The suites live in their own package so that the test running them
// against `outcrop serve` (which links the cgo engine through internal/app)
// does not take internal/httpapi's tests out of the race detector's reach.
package bedrocktest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/outcrop/outcrop/internal/sdktest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/testenv"
)

// Model is the model ID the suites call.
const Model = "acme.chat-v1"

// SeedModelID is the model ID of the seed article's snippets, which the
// boto3 suite calls as "us." + SeedModelID (a cross-region profile ID).
const SeedModelID = "anthropic.claude-3-5-haiku-20241022-v1:0"

const testModel = Model

// Client returns an unmodified aws-sdk-go-v2 Bedrock Runtime client for
// the server at url.
func Client(url string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
	})
}

// sdkStream is what the Go SDK's event stream outputs have in common.
type sdkStream[E any] interface {
	Events() <-chan E
	Err() error
	Close() error
}

// collect opens an event stream with open and reads all of its events.
// When the read fails because the SDK's HTTP transport closed its own
// connection under the reader ("use of closed network connection" on the
// client's socket; aws-sdk-go-v2#2737, not the server's doing), it opens
// the stream once more; any other error, or that one twice, fails t.
func collect[E any, S sdkStream[E]](t *testing.T, open func() (S, error)) []E {
	t.Helper()
	for attempt := 1; ; attempt++ {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		var evs []E
		for ev := range st.Events() {
			evs = append(evs, ev)
		}
		err = st.Err()
		st.Close()
		if err == nil {
			return evs
		}
		if attempt == 1 && strings.Contains(err.Error(), "use of closed network connection") {
			t.Logf("the SDK's transport closed the connection under the stream, retrying once: %v", err)
			continue
		}
		t.Fatal(err)
	}
}

func weatherTools() *types.ToolConfiguration {
	return &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
		Name:        aws.String("get_weather"),
		Description: aws.String("Current weather in a city"),
		InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{
			"type":       "object",
			"properties": map[string]any{"city": map[string]any{"type": "string"}},
			"required":   []string{"city"},
		})},
	}}}}
}

func UserText(s string) types.Message {
	return types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: s}}}
}

// SDKSuite drives every Bedrock runtime operation through the Go SDK.
// real says the upstream is a real model, whose words are unpredictable.
func SDKSuite(t *testing.T, url string, real bool) { SDKSuiteTools(t, url, real, testModel) }

// SDKSuiteTools is SDKSuite with the tool-use subtests calling toolModel,
// for a server whose model that takes tools is not Model (on Ollama, the
// SmolLM2 template without tools refuses them).
func SDKSuiteTools(t *testing.T, url string, real bool, toolModel string) {
	c := Client(url)
	// A real 135M model on a CPU shared with the rest of the test run
	// answers slowly; the bound only catches hangs.
	budget := 2 * time.Minute
	if real {
		budget = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	maxTokens := aws.Int32(24)
	if real {
		maxTokens = aws.Int32(12) // a shared CPU makes every token count
	}
	// The ID as the SDK sends it: ':' and '/' percent-encoded in the path.
	arn := "arn:aws:bedrock:us-east-1:000000000000:inference-profile/us." + testModel

	// The tool subtests decode greedily so that a real model does the same
	// thing on every run; which thing it does (call get_weather or answer in
	// prose) is the model's business, and both are checked.
	toolInference := &types.InferenceConfiguration{MaxTokens: aws.Int32(48), Temperature: aws.Float32(0)}

	e := &suiteEnv{c: c, ctx: ctx, url: url, real: real, toolModel: toolModel, maxTokens: maxTokens, arn: arn, toolInference: toolInference}
	t.Run("Converse", e.converse)
	t.Run("ConverseStream", e.converseStream)
	t.Run("ToolUseRoundTrip", e.toolUseRoundTrip)
	t.Run("ToolUseStream", e.toolUseStream)
	t.Run("CountTokens", e.countTokens)
	t.Run("InvokeModel", e.invokeModel)
	t.Run("InvokeModelWithResponseStream", e.invokeModelWithResponseStream)
	t.Run("Errors", e.errors)
}

// toolPrompt asks for the tool of the tool subtests.
const toolPrompt = "What is the weather in Paris? Use the get_weather tool."

// FMEval's BedrockModelRunner: content_template for Claude 3 and the
// output JMESPath content[0].text.
const anthropicBody = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":24,"messages":[{"role":"user","content":[{"type":"text","text":"What is the capital of France?"}]}]}`

// suiteEnv is what the parts of SDKSuiteTools share: the client and its
// URL, the suite's deadline, whether the model is real, the tool-calling
// model, the output bound, the inference-profile ARN of the test model and
// the tool subtests' inference configuration.
type suiteEnv struct {
	c             *bedrockruntime.Client
	ctx           context.Context
	url           string
	real          bool
	toolModel     string
	maxTokens     *int32
	arn           string
	toolInference *types.InferenceConfiguration
}

// converse is the Converse part of SDKSuiteTools.
func (e *suiteEnv) converse(t *testing.T) {
	c, ctx, real, maxTokens, arn := e.c, e.ctx, e.real, e.maxTokens, e.arn
	ids := []string{testModel, arn}
	if real {
		ids = ids[1:]
	}
	for _, id := range ids {
		out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{
			ModelId:           aws.String(id),
			Messages:          []types.Message{UserText("Say hello in three words.")},
			System:            []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "You are terse."}},
			InferenceConfig:   &types.InferenceConfiguration{MaxTokens: maxTokens, Temperature: aws.Float32(0)},
			PerformanceConfig: &types.PerformanceConfiguration{Latency: types.PerformanceConfigLatencyOptimized},
		})
		if err != nil {
			t.Fatalf("Converse(%s): %v", id, err)
		}
		msg := out.Output.(*types.ConverseOutputMemberMessage).Value
		text := msg.Content[0].(*types.ContentBlockMemberText).Value
		if msg.Role != types.ConversationRoleAssistant || text == "" {
			t.Errorf("message = %+v", msg)
		}
		if !real && text != "Hello from Outcrop" {
			t.Errorf("text = %q", text)
		}
		if out.Usage == nil || *out.Usage.InputTokens == 0 || *out.Usage.OutputTokens == 0 || *out.Usage.TotalTokens != *out.Usage.InputTokens+*out.Usage.OutputTokens {
			t.Errorf("usage = %+v", out.Usage)
		}
		if out.Metrics == nil || out.Metrics.LatencyMs == nil {
			t.Error("no metrics.latencyMs")
		}
		if out.PerformanceConfig == nil || out.PerformanceConfig.Latency != types.PerformanceConfigLatencyOptimized {
			t.Errorf("performanceConfig = %+v", out.PerformanceConfig)
		}
		if out.StopReason != types.StopReasonEndTurn && out.StopReason != types.StopReasonMaxTokens {
			t.Errorf("stopReason = %q", out.StopReason)
		}
	}
}

// converseStream is the ConverseStream part of SDKSuiteTools.
func (e *suiteEnv) converseStream(t *testing.T) {
	ctx, url, real, maxTokens := e.ctx, e.url, e.real, e.maxTokens
	c := Client(url) // one client per event stream (smithy-go#714)
	evs := collect[types.ConverseStreamOutput](t, func() (*bedrockruntime.ConverseStreamEventStream, error) {
		out, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
			ModelId:           aws.String(testModel),
			Messages:          []types.Message{UserText("Count from one to five.")},
			InferenceConfig:   &types.InferenceConfiguration{MaxTokens: maxTokens},
			PerformanceConfig: &types.PerformanceConfiguration{Latency: types.PerformanceConfigLatencyOptimized},
		})
		if err != nil {
			return nil, err
		}
		return out.GetStream(), nil
	})
	var (
		kinds []string
		text  strings.Builder
		meta  *types.ConverseStreamMetadataEvent
	)
	for _, ev := range evs {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			kinds = append(kinds, "start")
		case *types.ConverseStreamOutputMemberContentBlockStart:
			kinds = append(kinds, "blockStart")
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if len(kinds) == 0 || kinds[len(kinds)-1] != "delta" {
				kinds = append(kinds, "delta")
			}
			if *v.Value.ContentBlockIndex != 0 {
				t.Errorf("delta index %d", *v.Value.ContentBlockIndex)
			}
			text.WriteString(v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
		case *types.ConverseStreamOutputMemberContentBlockStop:
			kinds = append(kinds, "blockStop")
		case *types.ConverseStreamOutputMemberMessageStop:
			kinds = append(kinds, "stop")
		case *types.ConverseStreamOutputMemberMetadata:
			kinds = append(kinds, "metadata")
			meta = &v.Value
		default:
			t.Errorf("unexpected event %T", v)
		}
	}
	if got := strings.Join(kinds, " "); got != "start delta blockStop stop metadata" {
		t.Errorf("event kinds = %q", got)
	}
	if text.Len() == 0 || (!real && text.String() != "Hello from Outcrop") {
		t.Errorf("text = %q", text.String())
	}
	if meta == nil || meta.Usage == nil || *meta.Usage.OutputTokens == 0 || meta.Metrics == nil || meta.Metrics.LatencyMs == nil {
		t.Fatalf("metadata = %+v", meta)
	}
	if meta.PerformanceConfig == nil || meta.PerformanceConfig.Latency != types.PerformanceConfigLatencyOptimized {
		t.Errorf("metadata performanceConfig = %+v", meta.PerformanceConfig)
	}
}

// toolUseRoundTrip is the ToolUseRoundTrip part of SDKSuiteTools.
func (e *suiteEnv) toolUseRoundTrip(t *testing.T) {
	c, ctx, real, toolModel, maxTokens, toolInference := e.c, e.ctx, e.real, e.toolModel, e.maxTokens, e.toolInference
	msgs := []types.Message{UserText(toolPrompt)}
	first, err := c.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(toolModel), Messages: msgs, ToolConfig: weatherTools(), InferenceConfig: toolInference,
	})
	if err != nil {
		t.Fatal(err)
	}
	reply := first.Output.(*types.ConverseOutputMemberMessage).Value
	var (
		use  *types.ToolUseBlock
		text string
	)
	for _, b := range reply.Content {
		switch b := b.(type) {
		case *types.ContentBlockMemberToolUse:
			if use == nil {
				use = &b.Value
			}
		case *types.ContentBlockMemberText:
			text += b.Value
		}
	}
	switch {
	case use != nil:
		if first.StopReason != types.StopReasonToolUse {
			t.Errorf("stopReason = %q, want tool_use", first.StopReason)
		}
		if aws.ToString(use.Name) != "get_weather" || aws.ToString(use.ToolUseId) == "" {
			t.Errorf("toolUse name %q, id %q", aws.ToString(use.Name), aws.ToString(use.ToolUseId))
		}
		var in map[string]any
		if err := use.Input.UnmarshalSmithyDocument(&in); err != nil || in == nil {
			t.Fatalf("tool input is not a JSON object: %v (%v)", in, err)
		}
		if !real && in["city"] != "Paris" {
			t.Errorf("tool input = %v", in)
		}
		t.Logf("the model called get_weather(%v) (stop %s)", in, first.StopReason)
	case !real:
		t.Fatalf("no toolUse in %+v", reply.Content)
	default:
		// A 135M model mostly answers in prose; the round trip is then
		// built by hand so the toolResult turn still reaches it.
		if first.StopReason != types.StopReasonEndTurn && first.StopReason != types.StopReasonMaxTokens {
			t.Errorf("stopReason = %q without a toolUse block", first.StopReason)
		}
		t.Logf("the model answered in prose (stop %s): %q; sending a constructed toolUse turn", first.StopReason, text)
		use = &types.ToolUseBlock{ToolUseId: aws.String("tooluse_1"), Name: aws.String("get_weather"), Input: document.NewLazyDocument(map[string]any{"city": "Paris"})}
		reply = types.Message{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberToolUse{Value: *use}}}
	}
	msgs = append(msgs, reply, types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
		&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
			ToolUseId: use.ToolUseId,
			Content:   []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberJson{Value: document.NewLazyDocument(map[string]any{"tempC": 21})}},
			Status:    types.ToolResultStatusSuccess,
		}},
	}})
	out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String(toolModel), Messages: msgs, ToolConfig: weatherTools(),
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: maxTokens, Temperature: aws.Float32(0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	final := out.Output.(*types.ConverseOutputMemberMessage).Value
	if len(final.Content) == 0 {
		t.Fatal("empty final answer")
	}
	tb, ok := final.Content[0].(*types.ContentBlockMemberText)
	if !ok || tb.Value == "" || (!real && tb.Value != `It is {"tempC":21} in Paris.`) {
		t.Fatalf("final answer = %+v (stop %s)", final.Content, out.StopReason)
	}
	if out.StopReason != types.StopReasonEndTurn && out.StopReason != types.StopReasonMaxTokens {
		t.Errorf("final stopReason = %q", out.StopReason)
	}
	if real {
		// The second prompt holds the first plus the tool call and its
		// result: fewer tokens would mean the gateway dropped a turn.
		if *out.Usage.InputTokens <= *first.Usage.InputTokens {
			t.Errorf("input tokens %d after the tool result, %d before", *out.Usage.InputTokens, *first.Usage.InputTokens)
		}
		t.Logf("final answer (stop %s): %q", out.StopReason, tb.Value)
	}
}

// toolUseStream is the ToolUseStream part of SDKSuiteTools.
func (e *suiteEnv) toolUseStream(t *testing.T) {
	ctx, url, real, toolModel, toolInference := e.ctx, e.url, e.real, e.toolModel, e.toolInference
	c := Client(url) // one client per event stream (smithy-go#714)
	evs := collect[types.ConverseStreamOutput](t, func() (*bedrockruntime.ConverseStreamEventStream, error) {
		out, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{
			ModelId: aws.String(toolModel), Messages: []types.Message{UserText(toolPrompt)}, ToolConfig: weatherTools(), InferenceConfig: toolInference,
		})
		if err != nil {
			return nil, err
		}
		return out.GetStream(), nil
	})
	var (
		input, text strings.Builder
		start       *types.ToolUseBlockStart
		stop        types.StopReason
		meta        *types.ConverseStreamMetadataEvent
	)
	for _, ev := range evs {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockStart:
			s, ok := v.Value.Start.(*types.ContentBlockStartMemberToolUse)
			if !ok {
				t.Errorf("contentBlockStart %T", v.Value.Start)
			} else if start == nil {
				start = &s.Value
			}
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			switch d := v.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberToolUse:
				if start == nil {
					t.Error("toolUse delta before its contentBlockStart")
				}
				input.WriteString(aws.ToString(d.Value.Input))
			case *types.ContentBlockDeltaMemberText:
				text.WriteString(d.Value)
			}
		case *types.ConverseStreamOutputMemberMessageStop:
			stop = v.Value.StopReason
		case *types.ConverseStreamOutputMemberMetadata:
			meta = &v.Value
		}
	}
	if meta == nil || meta.Usage == nil || *meta.Usage.OutputTokens == 0 {
		t.Errorf("metadata = %+v", meta)
	}
	if start == nil {
		if !real {
			t.Fatalf("no toolUse block; text %q, stop %q", text.String(), stop)
		}
		if text.Len() == 0 || (stop != types.StopReasonEndTurn && stop != types.StopReasonMaxTokens) {
			t.Errorf("no toolUse block, text %q, stop %q", text.String(), stop)
		}
		t.Logf("the model answered in prose (stop %s): %q", stop, text.String())
		return
	}
	var in map[string]any
	if err := json.Unmarshal([]byte(input.String()), &in); err != nil || in == nil {
		t.Errorf("tool input %q is not a JSON object: %v", input.String(), err)
	}
	if aws.ToString(start.Name) != "get_weather" || aws.ToString(start.ToolUseId) == "" || stop != types.StopReasonToolUse {
		t.Errorf("tool stream: start %+v input %q stop %q", start, input.String(), stop)
	}
	if !real && (*start.ToolUseId != "tooluse_1" || input.String() != `{"city":"Paris"}`) {
		t.Errorf("tool stream: start %+v input %q", start, input.String())
	}
	t.Logf("the model called get_weather(%s) (stop %s)", input.String(), stop)
}

// countTokens is the CountTokens part of SDKSuiteTools.
func (e *suiteEnv) countTokens(t *testing.T) {
	c, ctx := e.c, e.ctx
	out, err := c.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: aws.String(testModel),
		Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{
			Messages: []types.Message{UserText("How many tokens is this sentence?")},
			System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "You are terse."}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.InputTokens == nil || *out.InputTokens <= 0 {
		t.Errorf("inputTokens = %v", out.InputTokens)
	}
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hello"}]}`)
	out, err = c.CountTokens(ctx, &bedrockruntime.CountTokensInput{
		ModelId: aws.String(testModel),
		Input:   &types.CountTokensInputMemberInvokeModel{Value: types.InvokeModelTokensRequest{Body: body}},
	})
	if err != nil || *out.InputTokens <= 0 {
		t.Errorf("invokeModel count = %v, %v", out, err)
	}
}

// invokeModel is the InvokeModel part of SDKSuiteTools.
func (e *suiteEnv) invokeModel(t *testing.T) {
	c, ctx := e.c, e.ctx
	out, err := c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(testModel), Body: []byte(anthropicBody),
		ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
		PerformanceConfigLatency: types.PerformanceConfigLatencyOptimized,
	})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Content []struct{ Type, Text string }
		Usage   struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		}
		StopReason string `json:"stop_reason"`
	}
	if err := json.Unmarshal(out.Body, &resp); err != nil {
		t.Fatalf("body %s: %v", out.Body, err)
	}
	if len(resp.Content) == 0 || resp.Content[0].Type != "text" || resp.Content[0].Text == "" || resp.Usage.OutputTokens == 0 {
		t.Errorf("body = %s", out.Body)
	}
	if *out.ContentType != "application/json" || out.PerformanceConfigLatency != types.PerformanceConfigLatencyOptimized {
		t.Errorf("content type %q, latency %q", *out.ContentType, out.PerformanceConfigLatency)
	}
}

// invokeModelWithResponseStream is the InvokeModelWithResponseStream part of SDKSuiteTools.
func (e *suiteEnv) invokeModelWithResponseStream(t *testing.T) {
	ctx, url := e.ctx, e.url
	c := Client(url) // one client per event stream (smithy-go#714)
	evs := collect[types.ResponseStream](t, func() (*bedrockruntime.InvokeModelWithResponseStreamEventStream, error) {
		out, err := c.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{
			ModelId: aws.String(testModel), Body: []byte(anthropicBody), ContentType: aws.String("application/json"),
		})
		if err != nil {
			return nil, err
		}
		return out.GetStream(), nil
	})
	var types_ []string
	var text strings.Builder
	for _, ev := range evs {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		var a struct {
			Type  string
			Delta struct{ Type, Text string }
		}
		if err := json.Unmarshal(chunk.Value.Bytes, &a); err != nil {
			t.Fatalf("chunk %q: %v", chunk.Value.Bytes, err)
		}
		if len(types_) == 0 || types_[len(types_)-1] != a.Type {
			types_ = append(types_, a.Type)
		}
		if a.Delta.Type == "text_delta" {
			text.WriteString(a.Delta.Text)
		}
	}
	want := "message_start content_block_start content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(types_, " "); got != want || text.Len() == 0 {
		t.Errorf("events %q (text %q), want %q", got, text.String(), want)
	}
}

// errors is the Errors part of SDKSuiteTools.
func (e *suiteEnv) errors(t *testing.T) {
	c, ctx := e.c, e.ctx
	_, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("acme.missing-v1"), Messages: []types.Message{UserText("hi")}})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown model: %v, want ResourceNotFoundException", err)
	}
	_, err = c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: []types.Message{
		{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}},
	}})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("assistant first: %v, want ValidationException", err)
	}
	_, err = c.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(testModel), Body: []byte(`{"prompt":"hi"}`)})
	if !errors.As(err, &ve) {
		t.Errorf("non-Anthropic body: %v, want ValidationException", err)
	}
}

func RepoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// RunScript runs a client script and decodes the JSON it prints into out.
func RunScript(t *testing.T, env []string, out any, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s\nstdout:\n%s", name, strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("%s printed %q: %v\nstderr:\n%s", name, stdout.String(), err, stderr.String())
	}
}

// AWSEnv points the AWS SDKs at endpoint with dummy credentials and nothing
// read from the user's AWS configuration.
func AWSEnv(t *testing.T, endpoint string) []string {
	home := t.TempDir()
	return []string{
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME=" + endpoint,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=SECRET",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"HOME=" + home,
	}
}

type usageJSON struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
	TotalTokens  int `json:"totalTokens"`
}

type metadataJSON struct {
	Usage   usageJSON `json:"usage"`
	Metrics struct {
		LatencyMs *int64 `json:"latencyMs"`
	} `json:"metrics"`
	PerformanceConfig struct {
		Latency string `json:"latency"`
	} `json:"performanceConfig"`
}

// Boto3Suite runs test/interop/python/bedrock_runtime.py against url,
// which serves the seed's model ID.
func Boto3Suite(t *testing.T, url string, real bool) {
	python := testenv.Python(t)
	var got struct {
		Converse struct {
			Text              string
			StopReason        string
			Usage             usageJSON
			LatencyMs         *int64
			PerformanceConfig struct{ Latency string }
			RequestID         string `json:"requestId"`
			Deployment        string
		}
		ConverseStream struct {
			Events     []string
			Text       string
			StopReason string
			Metadata   metadataJSON
		} `json:"converse_stream"`
		FMEval struct {
			Output      *string
			InputTokens int `json:"input_tokens"`
			ContentType string
		}
		InvokeStream struct {
			Events []string
			Text   string
		} `json:"invoke_stream"`
		CountTokens int `json:"count_tokens"`
		Errors      map[string]*struct {
			Code   string
			Status int
		}
	}
	RunScript(t, AWSEnv(t, url), &got, python, filepath.Join(RepoRoot(t), "test/interop/python/bedrock_runtime.py"))

	c := got.Converse
	if c.Text == "" || c.Usage.OutputTokens == 0 || c.Usage.TotalTokens != c.Usage.InputTokens+c.Usage.OutputTokens || c.LatencyMs == nil {
		t.Errorf("converse = %+v", c)
	}
	if c.PerformanceConfig.Latency != "optimized" || c.RequestID == "" || c.Deployment == "" {
		t.Errorf("converse performanceConfig %q, request ID %q, deployment %q", c.PerformanceConfig.Latency, c.RequestID, c.Deployment)
	}
	s := got.ConverseStream
	if g := strings.Join(s.Events, " "); g != "messageStart contentBlockDelta contentBlockStop messageStop metadata" {
		t.Errorf("converse_stream events = %q", g)
	}
	if s.Text == "" || s.StopReason == "" || s.Metadata.Usage.OutputTokens == 0 || s.Metadata.Metrics.LatencyMs == nil || s.Metadata.PerformanceConfig.Latency != "optimized" {
		t.Errorf("converse_stream = %+v", s)
	}
	if got.FMEval.Output == nil || *got.FMEval.Output == "" || got.FMEval.ContentType != "application/json" {
		t.Errorf("fmeval content[0].text = %v (%+v)", got.FMEval.Output, got.FMEval)
	}
	if g := strings.Join(got.InvokeStream.Events, " "); g != "message_start content_block_start content_block_delta content_block_stop message_delta message_stop" || got.InvokeStream.Text == "" {
		t.Errorf("invoke_stream = %+v", got.InvokeStream)
	}
	if got.CountTokens <= 0 {
		t.Errorf("count_tokens = %d", got.CountTokens)
	}
	wantErr := map[string]struct {
		code   string
		status int
	}{
		"unknown_model":    {"ResourceNotFoundException", 404},
		"wrong_role_order": {"ValidationException", 400},
	}
	for name, w := range wantErr {
		e := got.Errors[name]
		if e == nil || e.Code != w.code || e.Status != w.status {
			t.Errorf("%s error = %+v, want %s %d", name, e, w.code, w.status)
		}
	}
	if !real {
		if c.Text != "Hello from Outcrop" || s.Text != "Hello from Outcrop" {
			t.Errorf("texts %q, %q", c.Text, s.Text)
		}
	}
}

// JSSuite runs test/interop/js/bedrock_runtime.mjs against url with the
// client's default request handler, which must be NodeHttp2Handler.
func JSSuite(t *testing.T, url string, real bool) {
	modules := testenv.NodeModules(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %v", err)
	}
	var got struct {
		Handler  string
		Converse struct {
			Text              string
			StopReason        string
			Usage             usageJSON
			LatencyMs         *int64
			PerformanceConfig struct{ Latency string }
			RequestID         string `json:"requestId"`
		}
		ConverseStream struct {
			Events   []string
			Text     string
			Metadata metadataJSON
		} `json:"converse_stream"`
		CountTokens int `json:"count_tokens"`
		Invoke      struct {
			Text       string
			StopReason string `json:"stop_reason"`
		}
		InvokeStream []string `json:"invoke_stream"`
		UnknownModel *struct {
			Name   string
			Status int
		} `json:"unknown_model"`
		WrongRoleOrder *struct {
			Name   string
			Status int
		} `json:"wrong_role_order"`
	}
	env := append(AWSEnv(t, url), "OUTCROP_TEST_NODE_MODULES="+modules, "NODE_PATH="+filepath.Join(modules, "node_modules"))
	RunScript(t, env, &got, node, filepath.Join(RepoRoot(t), "test/interop/js/bedrock_runtime.mjs"), url, testModel)

	if got.Handler != "NodeHttp2Handler" {
		t.Errorf("request handler = %q, want the default NodeHttp2Handler", got.Handler)
	}
	c := got.Converse
	if c.Text == "" || c.Usage.OutputTokens == 0 || c.LatencyMs == nil || c.PerformanceConfig.Latency != "optimized" || c.RequestID == "" {
		t.Errorf("converse = %+v", c)
	}
	s := got.ConverseStream
	if g := strings.Join(s.Events, " "); g != "messageStart contentBlockDelta contentBlockStop messageStop metadata" {
		t.Errorf("converse_stream events = %q", g)
	}
	if s.Text == "" || s.Metadata.Usage.OutputTokens == 0 || s.Metadata.Metrics.LatencyMs == nil || s.Metadata.PerformanceConfig.Latency != "optimized" {
		t.Errorf("converse_stream = %+v", s)
	}
	if got.CountTokens <= 0 || got.Invoke.Text == "" {
		t.Errorf("count_tokens %d, invoke %+v", got.CountTokens, got.Invoke)
	}
	if g := strings.Join(got.InvokeStream, " "); g != "message_start content_block_start content_block_delta content_block_stop message_delta message_stop" {
		t.Errorf("invoke_stream = %q", g)
	}
	if e := got.UnknownModel; e == nil || e.Name != "ResourceNotFoundException" || e.Status != 404 {
		t.Errorf("unknown model error = %+v", e)
	}
	if e := got.WrongRoleOrder; e == nil || e.Name != "ValidationException" || e.Status != 400 {
		t.Errorf("wrong role order error = %+v", e)
	}
	if !real && (c.Text != "Hello from Outcrop" || s.Text != "Hello from Outcrop") {
		t.Errorf("texts %q, %q", c.Text, s.Text)
	}
}
