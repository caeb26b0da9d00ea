package local_test

import (
	"context"
	"errors"
	"github.com/outcrop/outcrop/internal/sdktest"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/app"
	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/modelstore"
	"github.com/outcrop/outcrop/internal/testenv"
)

// serveZeroConfig serves the default model with no configuration (the real
// SmolLM2 file installed in a scratch home) on a loopback port until the
// test ends, and returns its address.
func serveZeroConfig(t *testing.T) string {
	t.Helper()
	gguf := testenv.GGUF(t)
	home := t.TempDir()
	store, err := modelstore.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	// A link instead of Import's copy keeps the test fast; Lookup only
	// needs the file in place.
	if err := os.Symlink(gguf, filepath.Join(store.Dir(), modelstore.DefaultModelID+".gguf")); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Home = home
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// bedrockClient is the unmodified AWS Go SDK's Bedrock runtime client for addr.
func bedrockClient(addr string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("http://" + addr),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
		RetryMaxAttempts: 1,
	})
}

// TestSDKZeroConfig serves the default model with no configuration and
// talks to it with the unmodified AWS Go SDK: Converse and ConverseStream.
func TestSDKZeroConfig(t *testing.T) {
	client := bedrockClient(serveZeroConfig(t))
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "What is the capital of France? Answer in one word."}}}}
	inf := &types.InferenceConfiguration{MaxTokens: aws.Int32(16), Temperature: aws.Float32(0)}

	out, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String(modelstore.DefaultModelID), Messages: msgs, InferenceConfig: inf})
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	msg, ok := out.Output.(*types.ConverseOutputMemberMessage)
	if !ok || len(msg.Value.Content) == 0 {
		t.Fatalf("Converse output %#v", out.Output)
	}
	text := msg.Value.Content[0].(*types.ContentBlockMemberText).Value
	if !strings.Contains(text, "Paris") || out.Usage == nil || *out.Usage.InputTokens == 0 || *out.Usage.OutputTokens == 0 {
		t.Errorf("Converse = %q, usage %+v, stop %s", text, out.Usage, out.StopReason)
	}

	st, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(modelstore.DefaultModelID), Messages: msgs, InferenceConfig: inf})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	stream := st.GetStream()
	defer stream.Close()
	var streamed strings.Builder
	var stop types.StopReason
	var usage *types.TokenUsage
	deltas := 0
	for ev := range stream.Events() {
		switch v := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := v.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				streamed.WriteString(d.Value)
				deltas++
			}
		case *types.ConverseStreamOutputMemberMessageStop:
			stop = v.Value.StopReason
		case *types.ConverseStreamOutputMemberMetadata:
			usage = v.Value.Usage
		}
	}
	if err := stream.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("stream: %v", err)
	}
	if streamed.String() != text || deltas < 2 || stop == "" || usage == nil || *usage.OutputTokens != *out.Usage.OutputTokens {
		t.Errorf("stream = %q in %d deltas, stop %q, usage %+v; Converse said %q", streamed.String(), deltas, stop, usage, text)
	}
}
