package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi/bedrocktest"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/promptrouter"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/testenv"
)

// Models of the prompt-router tests: each answers with its own name.
const (
	smallModel = "acme.small-v1"
	largeModel = "acme.large-v1"
)

func namedModel(id string) *routing.Model {
	p := &replayProvider{script: func(*llm.Request) ([]llm.Event, error) { return textEvents("answered by ", id), nil }}
	return &routing.Model{ID: id, Deployments: []*routing.Deployment{{Name: id, Provider: p, Type: "replay", Weight: 1}}}
}

// newRouterServer is a server with the two named models, the prompt-router
// control plane on a SQLite resource store, the routing middleware and the
// trace stage.
func newRouterServer(t *testing.T) (*httptest.Server, *promptrouter.Service) {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	router := routing.New([]*routing.Model{namedModel(smallModel), namedModel(largeModel)})
	svc := &promptrouter.Service{
		Store: resource.NewStore(db, resource.Scope{}, time.Now),
		Lookup: func(id string) (string, bool) {
			m, ok := router.Lookup(id)
			if !ok {
				return "", false
			}
			return m.ID, true
		},
	}
	gw := gateway.New(gateway.Options{Stages: []gateway.Stage{promptrouter.Stage{}}, Final: router.Route})
	var srv *Server
	srv = New(Deps{Gateway: gw, Router: router, Groups: []RouteGroup{PromptRouters{Service: svc}},
		Middleware: []func(http.Handler) http.Handler{PromptRouting(svc, 1<<20, func(w http.ResponseWriter, r *http.Request, err error) { srv.WriteError(w, r, err) })}})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, svc
}

func createRouter(t *testing.T, c *bedrock.Client, name string, d float64) string {
	t.Helper()
	out, err := c.CreatePromptRouter(context.Background(), &bedrock.CreatePromptRouterInput{
		PromptRouterName: aws.String(name),
		Models: []btypes.PromptRouterTargetModel{
			{ModelArn: aws.String(ModelARN("us-east-1", smallModel))},
			{ModelArn: aws.String(ModelARN("us-east-1", largeModel))},
		},
		FallbackModel:   &btypes.PromptRouterTargetModel{ModelArn: aws.String(ModelARN("us-east-1", largeModel))},
		RoutingCriteria: &btypes.RoutingCriteria{ResponseQualityDifference: aws.Float64(d)},
		Description:     aws.String("test router"),
	})
	if err != nil {
		t.Fatalf("CreatePromptRouter: %v", err)
	}
	return aws.ToString(out.PromptRouterArn)
}

func TestPromptRouterControlPlaneSDK(t *testing.T) {
	ts, _ := newRouterServer(t)
	c := controlClient(ts)
	ctx := context.Background()
	arn := createRouter(t, c, "support-router", 15)
	if !strings.HasPrefix(arn, "arn:aws:bedrock:us-east-1:000000000000:prompt-router/") {
		t.Errorf("router ARN %q", arn)
	}
	got, err := c.GetPromptRouter(ctx, &bedrock.GetPromptRouterInput{PromptRouterArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("GetPromptRouter: %v", err)
	}
	if aws.ToString(got.PromptRouterName) != "support-router" || len(got.Models) != 2 || aws.ToFloat64(got.RoutingCriteria.ResponseQualityDifference) != 15 ||
		aws.ToString(got.FallbackModel.ModelArn) != ModelARN("us-east-1", largeModel) || got.Status != btypes.PromptRouterStatusAvailable ||
		got.Type != btypes.PromptRouterTypeCustom || got.CreatedAt == nil || aws.ToString(got.PromptRouterArn) != arn {
		t.Errorf("GetPromptRouter = %+v", got)
	}
	createRouter(t, c, "second-router", 50)
	var names []string
	var token *string
	for {
		page, err := c.ListPromptRouters(ctx, &bedrock.ListPromptRoutersInput{MaxResults: aws.Int32(1), NextToken: token})
		if err != nil {
			t.Fatalf("ListPromptRouters: %v", err)
		}
		for _, s := range page.PromptRouterSummaries {
			names = append(names, aws.ToString(s.PromptRouterName))
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if len(names) != 2 {
		t.Errorf("listed %v, want both routers", names)
	}
	if _, err := c.DeletePromptRouter(ctx, &bedrock.DeletePromptRouterInput{PromptRouterArn: aws.String(arn)}); err != nil {
		t.Fatalf("DeletePromptRouter: %v", err)
	}
	var nf *btypes.ResourceNotFoundException
	if _, err := c.GetPromptRouter(ctx, &bedrock.GetPromptRouterInput{PromptRouterArn: aws.String(arn)}); !errors.As(err, &nf) {
		t.Errorf("Get after delete: %v, want ResourceNotFoundException", err)
	}

	var ve *btypes.ValidationException
	bad := []*bedrock.CreatePromptRouterInput{
		{ // one model
			PromptRouterName: aws.String("x"), Models: []btypes.PromptRouterTargetModel{{ModelArn: aws.String(smallModel)}},
			FallbackModel: &btypes.PromptRouterTargetModel{ModelArn: aws.String(smallModel)}, RoutingCriteria: &btypes.RoutingCriteria{ResponseQualityDifference: aws.Float64(1)},
		},
		{ // fallback not among the models
			PromptRouterName: aws.String("x"), Models: []btypes.PromptRouterTargetModel{{ModelArn: aws.String(smallModel)}, {ModelArn: aws.String(largeModel)}},
			FallbackModel: &btypes.PromptRouterTargetModel{ModelArn: aws.String("acme.other-v1")}, RoutingCriteria: &btypes.RoutingCriteria{ResponseQualityDifference: aws.Float64(1)},
		},
		{ // quality difference out of range
			PromptRouterName: aws.String("x"), Models: []btypes.PromptRouterTargetModel{{ModelArn: aws.String(smallModel)}, {ModelArn: aws.String(largeModel)}},
			FallbackModel: &btypes.PromptRouterTargetModel{ModelArn: aws.String(largeModel)}, RoutingCriteria: &btypes.RoutingCriteria{ResponseQualityDifference: aws.Float64(101)},
		},
		{ // unknown model
			PromptRouterName: aws.String("x"), Models: []btypes.PromptRouterTargetModel{{ModelArn: aws.String("acme.nope-v1")}, {ModelArn: aws.String(largeModel)}},
			FallbackModel: &btypes.PromptRouterTargetModel{ModelArn: aws.String(largeModel)}, RoutingCriteria: &btypes.RoutingCriteria{ResponseQualityDifference: aws.Float64(1)},
		},
		{ // bad name
			PromptRouterName: aws.String("no spaces allowed"), Models: []btypes.PromptRouterTargetModel{{ModelArn: aws.String(smallModel)}, {ModelArn: aws.String(largeModel)}},
			FallbackModel: &btypes.PromptRouterTargetModel{ModelArn: aws.String(largeModel)}, RoutingCriteria: &btypes.RoutingCriteria{ResponseQualityDifference: aws.Float64(1)},
		},
	}
	for i, in := range bad {
		if _, err := c.CreatePromptRouter(ctx, in); !errors.As(err, &ve) {
			t.Errorf("bad create %d: %v, want ValidationException", i, err)
		}
	}
}

// TestPromptRouterRuntimeSDK invokes routers through Converse and
// ConverseStream with the router ARN as modelId and checks that the model
// reported in trace.promptRouter.invokedModelId is the one that answered,
// and that it is the one the service decides for the prompt.
func TestPromptRouterRuntimeSDK(t *testing.T) {
	ts, svc := newRouterServer(t)
	cc := controlClient(ts)
	rc := bedrocktest.Client(ts.URL)
	ctx := context.Background()
	prompts := []string{
		"What is 2+2?",
		"Statement 1 | Every group of order p^2 is abelian. Statement 2 | Every subgroup of an abelian group is normal.\nA. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer:",
		"Janet has 3 apples and buys 5 more. She gives away half. How many are left?",
	}
	invokedModels := map[string]bool{}
	for _, d := range []float64{0, 10, 20, 100} {
		arn := createRouter(t, cc, fmt.Sprintf("router-%v", d), d)
		rt, err := svc.Get(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range prompts {
			want, err := svc.Decide(rt, p)
			if err != nil {
				t.Fatal(err)
			}
			if d == 100 && want.ModelID != smallModel || d == 0 && want.Gap > 0 && want.ModelID != largeModel {
				t.Errorf("d=%v: decision %+v violates the quality-difference rule", d, want)
			}
			msgs := []types.Message{bedrocktest.UserText(p)}
			out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(arn), Messages: msgs})
			if err != nil {
				t.Fatalf("Converse via router: %v", err)
			}
			text := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
			if out.Trace == nil || out.Trace.PromptRouter == nil {
				t.Fatalf("Converse via router: no promptRouter trace")
			}
			invoked := aws.ToString(out.Trace.PromptRouter.InvokedModelId)
			invokedModels[want.ModelID] = true
			if invoked != want.Invoked || !strings.HasSuffix(invoked, strings.TrimPrefix(text, "answered by ")) {
				t.Errorf("d=%v %q: invoked %q answered %q, want %q", d, p[:10], invoked, text, want.Invoked)
			}

			st, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(arn), Messages: msgs})
			if err != nil {
				t.Fatalf("ConverseStream via router: %v", err)
			}
			var streamed strings.Builder
			var trace *types.ConverseStreamTrace
			for ev := range st.GetStream().Events() {
				switch v := ev.(type) {
				case *types.ConverseStreamOutputMemberContentBlockDelta:
					streamed.WriteString(v.Value.Delta.(*types.ContentBlockDeltaMemberText).Value)
				case *types.ConverseStreamOutputMemberMetadata:
					trace = v.Value.Trace
				}
			}
			st.GetStream().Close()
			if err := st.GetStream().Err(); err != nil {
				t.Fatalf("ConverseStream via router: stream ended with %v", err)
			}
			if trace == nil || trace.PromptRouter == nil || aws.ToString(trace.PromptRouter.InvokedModelId) != want.Invoked || streamed.String() != text {
				t.Errorf("ConverseStream via router: trace %+v, text %q; want %q, %q", trace, streamed.String(), want.Invoked, text)
			}
		}
	}

	if !invokedModels[smallModel] || !invokedModels[largeModel] {
		t.Errorf("invoked only %v; the test must see both models chosen", invokedModels)
	}

	// An unknown router is the runtime's ResourceNotFoundException.
	_, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{
		ModelId: aws.String("arn:aws:bedrock:us-east-1:000000000000:prompt-router/abcdefghij"), Messages: []types.Message{bedrocktest.UserText("hi")}})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown router: %v, want ResourceNotFoundException", err)
	}
}

// TestPromptRouterBoto3 runs test/interop/python/bedrock_prompt_router.py:
// boto3 creates a router, calls converse and converse_stream with its ARN,
// and reports the invoked model and the answering model.
func TestPromptRouterBoto3(t *testing.T) {
	python := testenv.Python(t)
	ts, _ := newRouterServer(t)
	env := append(bedrocktest.AWSEnv(t, ts.URL), "AWS_ENDPOINT_URL_BEDROCK="+ts.URL,
		"SMALL_ARN="+ModelARN("us-east-1", smallModel), "LARGE_ARN="+ModelARN("us-east-1", largeModel))
	var got struct {
		RouterArn string `json:"router_arn"`
		Converse  struct {
			Invoked string `json:"invoked"`
			Text    string `json:"text"`
		} `json:"converse"`
		Stream struct {
			Invoked string `json:"invoked"`
			Text    string `json:"text"`
		} `json:"stream"`
		Listed []string `json:"listed"`
	}
	bedrocktest.RunScript(t, env, &got, python, filepath.Join(bedrocktest.RepoRoot(t), "test/interop/python/bedrock_prompt_router.py"))
	for _, c := range []struct {
		name          string
		invoked, text string
	}{{"converse", got.Converse.Invoked, got.Converse.Text}, {"converse_stream", got.Stream.Invoked, got.Stream.Text}} {
		if c.invoked == "" || !strings.HasSuffix(c.invoked, strings.TrimPrefix(c.text, "answered by ")) {
			t.Errorf("%s: invoked %q but %q answered", c.name, c.invoked, c.text)
		}
	}
	if len(got.Listed) != 1 || got.Listed[0] != got.RouterArn {
		b, _ := json.Marshal(got)
		t.Errorf("boto3 run: %s", b)
	}
}
