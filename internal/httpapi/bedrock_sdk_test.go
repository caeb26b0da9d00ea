package httpapi

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/httpapi/bedrocktest"
	"github.com/outcrop/outcrop/internal/llm"
)

// scripted answers like a small chat model: a tool call when tools are
// offered and no result has come back yet, otherwise text.
func scripted() *replayProvider {
	return &replayProvider{script: func(req *llm.Request) ([]llm.Event, error) {
		last := req.Messages[len(req.Messages)-1]
		for _, b := range last.Content {
			if b.Kind == llm.KindToolResult {
				return textEvents("It is ", b.ToolResult.Content[0].String(), " in Paris."), nil
			}
		}
		if req.Tools != nil {
			return toolEvents(), nil
		}
		return textEvents("Hello", " from", " Outcrop"), nil
	}}
}

func TestSDKReplay(t *testing.T) {
	bedrocktest.SDKSuite(t, newTestServer(t, scripted()).URL, false)
}

func TestSDKStreamException(t *testing.T) {
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) {
		return textEvents("partial")[:2], &llm.Error{Kind: llm.KindModelError, Message: "upstream reset the stream", UpstreamStatus: 502}
	}}
	ts := newTestServer(t, p)
	out, err := bedrocktest.Client(ts.URL).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(testModel), Messages: []types.Message{bedrocktest.UserText("hi")},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := out.GetStream()
	defer st.Close()
	n := 0
	for range st.Events() {
		n++
	}
	var mse *types.ModelStreamErrorException
	if !errors.As(st.Err(), &mse) {
		t.Fatalf("stream error = %v, want ModelStreamErrorException", st.Err())
	}
	if mse.OriginalStatusCode == nil || *mse.OriginalStatusCode != 502 || n != 2 {
		t.Errorf("exception %+v after %d events", mse, n)
	}
}
