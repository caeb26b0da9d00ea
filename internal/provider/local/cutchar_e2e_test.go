package local_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/outcrop/outcrop/internal/modelstore"
)

// TestSDKCutCharacter: SmolLM2 answers "Translate to Chinese: hello" with
// Chinese characters of three one-byte tokens each, so max_tokens 1 and 2
// stop inside the first character. Every API, buffered and streamed, must
// answer with the whole characters before the cut (none here) and never with
// U+FFFD, as the newcomer saw with max_tokens 1.
func TestSDKCutCharacter(t *testing.T) {
	addr := serveZeroConfig(t)
	const prompt = "Translate to Chinese: hello"
	ctx := context.Background()
	br := bedrockClient(addr)
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: prompt}}}}
	converse := func(max int32) (string, types.StopReason) {
		out, err := br.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(modelstore.DefaultModelID), Messages: msgs,
			InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(max), Temperature: aws.Float32(0)}})
		if err != nil {
			t.Fatalf("Converse max %d: %v", max, err)
		}
		var b strings.Builder
		for _, c := range out.Output.(*types.ConverseOutputMemberMessage).Value.Content {
			if tb, ok := c.(*types.ContentBlockMemberText); ok {
				b.WriteString(tb.Value)
			}
		}
		return b.String(), out.StopReason
	}
	full, _ := converse(12)
	if r, _ := utf8.DecodeRuneInString(full); r < utf8.RuneSelf {
		t.Fatalf("answer %q does not start with a multi-byte character; the test needs one that does", full)
	}
	check := func(api string, max int, got string) {
		t.Helper()
		if strings.ContainsRune(got, utf8.RuneError) || !strings.HasPrefix(full, got) {
			t.Errorf("%s max_tokens %d: %q, want whole characters from %q", api, max, got, full)
		}
	}
	oc := oai.NewClient(option.WithBaseURL("http://"+addr+"/v1/"), option.WithAPIKey("sk-any"), option.WithMaxRetries(0))
	for _, max := range []int{1, 2} {
		got, stop := converse(int32(max))
		check("Converse", max, got)
		if stop != types.StopReasonMaxTokens {
			t.Errorf("Converse max_tokens %d: stop %s", max, stop)
		}

		st, err := br.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(modelstore.DefaultModelID), Messages: msgs,
			InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(int32(max)), Temperature: aws.Float32(0)}})
		if err != nil {
			t.Fatalf("ConverseStream: %v", err)
		}
		var streamed strings.Builder
		for ev := range st.GetStream().Events() {
			if d, ok := ev.(*types.ConverseStreamOutputMemberContentBlockDelta); ok {
				if tx, ok := d.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
					check("ConverseStream delta", max, tx.Value)
					streamed.WriteString(tx.Value)
				}
			}
		}
		if err := st.GetStream().Err(); err != nil {
			t.Fatalf("ConverseStream: %v", err)
		}
		st.GetStream().Close()
		check("ConverseStream", max, streamed.String())

		body, _ := json.Marshal(map[string]any{"anthropic_version": "bedrock-2023-05-31", "max_tokens": max, "temperature": 0,
			"messages": []map[string]any{{"role": "user", "content": prompt}}})
		inv, err := br.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(modelstore.DefaultModelID), Body: body,
			ContentType: aws.String("application/json")})
		if err != nil {
			t.Fatalf("InvokeModel: %v", err)
		}
		var msg struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
			StopReason string `json:"stop_reason"`
		}
		if err := json.Unmarshal(inv.Body, &msg); err != nil {
			t.Fatalf("InvokeModel body %s: %v", inv.Body, err)
		}
		var invText strings.Builder
		for _, c := range msg.Content {
			invText.WriteString(c.Text)
		}
		check("InvokeModel", max, invText.String())
		if msg.StopReason != "max_tokens" {
			t.Errorf("InvokeModel max_tokens %d: stop_reason %q", max, msg.StopReason)
		}

		params := oai.ChatCompletionNewParams{Model: modelstore.DefaultModelID, Messages: []oai.ChatCompletionMessageParamUnion{oai.UserMessage(prompt)},
			MaxTokens: oai.Int(int64(max)), Temperature: oai.Float(0)}
		cc, err := oc.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("chat completions: %v", err)
		}
		check("chat completions", max, cc.Choices[0].Message.Content)
		if cc.Choices[0].FinishReason != "length" {
			t.Errorf("chat completions max_tokens %d: finish_reason %q", max, cc.Choices[0].FinishReason)
		}
		s := oc.Chat.Completions.NewStreaming(ctx, params)
		var sse strings.Builder
		for s.Next() {
			for _, c := range s.Current().Choices {
				check("chat completions chunk", max, c.Delta.Content)
				sse.WriteString(c.Delta.Content)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatalf("chat completions stream: %v", err)
		}
		check("chat completions stream", max, sse.String())
	}
}
