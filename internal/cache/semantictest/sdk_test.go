package semantictest

import (
	"context"
	"fmt"
	"github.com/outcrop/outcrop/internal/sdktest"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/outcrop/outcrop/internal/cache"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/testenv"
)

// TestSemanticSDK: the unmodified aws-sdk-go-v2 client asks a real model
// (the test Ollama, behind a counting proxy) a question, then a rewording
// of it: the second answer comes from the semantic cache, with the same
// text, X-Outcrop-Cache: semantic-hit, every input token reported as read
// from the cache, and no upstream call.
func TestSemanticSDK(t *testing.T) {
	target, err := url.Parse(testenv.OllamaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/chat/completions") {
			calls.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	p, err := openai.New(openai.Config{BaseURL: proxy.URL + "/v1", Model: testenv.OllamaModel})
	if err != nil {
		t.Fatal(err)
	}
	router := routing.New([]*routing.Model{{ID: model, Deployments: []*routing.Deployment{{Name: "ollama", Provider: p, Type: "openai", Weight: 1}}}})
	stage := semanticStage(t, cache.NewMemory(0, nil), memIndex(t), nil)
	gw := gateway.New(gateway.Options{Stages: []gateway.Stage{stage}, Final: router.Route})
	srv := httpapi.New(httpapi.Deps{Gateway: gw, Router: router, Middleware: []func(http.Handler) http.Handler{cache.Middleware}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c := bedrockruntime.New(bedrockruntime.Options{HTTPClient: sdktest.HTTPClient(),
		Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", ""),
	})
	// A salt in both questions keeps a shared model's answer fresh per run.
	salt := fmt.Sprint(rand.IntN(1_000_000))
	ask := func(q string) (text, result string, usage *types.TokenUsage) {
		t.Helper()
		out, err := c.Converse(context.Background(), &bedrockruntime.ConverseInput{
			ModelId:         aws.String(model),
			Messages:        []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: q}}}},
			InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(8), Temperature: aws.Float32(0)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
			result = raw.Header.Get(cache.HeaderName)
		}
		return out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value, result, out.Usage
	}
	t1, r1, u1 := ask("How do I learn to play the guitar quickly? " + salt)
	t2, r2, u2 := ask("how do i learn to play the guitar quickly " + salt)
	if n := calls.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1", n)
	}
	if t1 != t2 || r1 != "miss" || r2 != "semantic-hit" {
		t.Errorf("answers %q (%s), %q (%s); want the same text, miss then semantic-hit", t1, r1, t2, r2)
	}
	if aws.ToInt32(u2.CacheReadInputTokens) != aws.ToInt32(u1.InputTokens) || aws.ToInt32(u2.OutputTokens) != aws.ToInt32(u1.OutputTokens) {
		t.Errorf("hit usage %+v, want the original's tokens, input read from the cache", u2)
	}
}
