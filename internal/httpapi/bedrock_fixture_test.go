package httpapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"

	"github.com/outcrop/outcrop/internal/httpapi/bedrocktest"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/provider/providertest"
)

// TestSDKRecordedUpstreams plays the edge cases a real server cannot be made
// to produce (recorded OpenAI-compatible responses from providertest)
// through the openai provider, and checks what the Go SDK sees.
func TestSDKRecordedUpstreams(t *testing.T) {
	tests := []struct {
		fixture string
		stream  bool
		// wantCode is the error code the SDK reports: before the stream
		// as an HTTP error, or from stream.Err() after wantEvents events.
		wantCode   string
		wantEvents int
		wantStop   types.StopReason
	}{
		{fixture: "hand_429", wantCode: "ThrottlingException"},
		{fixture: "hand_429", stream: true, wantCode: "ThrottlingException"},
		{fixture: "hand_500", wantCode: "ModelErrorException"},
		{fixture: "hand_503", stream: true, wantCode: "ModelErrorException"},
		{fixture: "hand_midstream_error", stream: true, wantCode: "ModelStreamErrorException", wantEvents: 2},
		{fixture: "hand_malformed_chunk", stream: true, wantCode: "ModelStreamErrorException", wantEvents: 2},
		{fixture: "hand_reset_midstream", stream: true, wantCode: "ModelStreamErrorException", wantEvents: 2},
		{fixture: "hand_content_filter", stream: true, wantStop: types.StopReasonContentFiltered, wantEvents: 5},
		{fixture: "hand_content_filter", wantStop: types.StopReasonContentFiltered},
		{fixture: "hand_slow_first_byte_ok", stream: true, wantStop: types.StopReasonEndTurn, wantEvents: 5},
	}
	for _, tc := range tests {
		name := tc.fixture
		if tc.stream {
			name += "/stream"
		}
		t.Run(name, func(t *testing.T) {
			f := providertest.LoadFixture(t, tc.fixture)
			// The router may retry a retryable failure; every attempt gets
			// the same recording.
			up := providertest.NewUpstream(t, f, f, f, f)
			p, err := openai.New(openai.Config{BaseURL: up.URL, Model: up.Model})
			if err != nil {
				t.Fatal(err)
			}
			c := bedrocktest.Client(newTestServer(t, p).URL)
			noRetry := func(o *bedrockruntime.Options) { o.RetryMaxAttempts = 1 }
			ctx := context.Background()
			msgs := []types.Message{bedrocktest.UserText("hi")}
			var gotErr error
			events := 0
			var stop types.StopReason
			if tc.stream {
				out, err := c.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(testModel), Messages: msgs}, noRetry)
				if err != nil {
					gotErr = err
				} else {
					st := out.GetStream()
					for ev := range st.Events() {
						events++
						if ms, ok := ev.(*types.ConverseStreamOutputMemberMessageStop); ok {
							stop = ms.Value.StopReason
						}
					}
					gotErr = st.Err()
					st.Close()
				}
			} else {
				out, err := c.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(testModel), Messages: msgs}, noRetry)
				gotErr = err
				if err == nil {
					stop = out.StopReason
				}
			}
			if tc.wantCode == "" {
				if gotErr != nil {
					t.Fatalf("error %v", gotErr)
				}
			} else {
				var ae smithy.APIError
				if !errors.As(gotErr, &ae) || ae.ErrorCode() != tc.wantCode {
					t.Fatalf("error = %v, want %s", gotErr, tc.wantCode)
				}
				if strings.Contains(ae.ErrorMessage(), "CUDA") {
					t.Errorf("upstream detail leaked: %q", ae.ErrorMessage())
				}
			}
			if tc.stream && events != tc.wantEvents {
				t.Errorf("%d events before the end, want %d", events, tc.wantEvents)
			}
			if stop != tc.wantStop {
				t.Errorf("stopReason = %q, want %q", stop, tc.wantStop)
			}
		})
	}
}
