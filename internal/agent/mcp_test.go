package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/outcrop/outcrop/internal/agent"
	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/httpapi"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/openai"
	"github.com/outcrop/outcrop/internal/resource"
	"github.com/outcrop/outcrop/internal/routing"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

type weatherIn struct {
	City string `json:"city" jsonschema:"the city"`
}

// weatherServer is a small MCP server with one tool, get_weather.
func weatherServer(calls *atomic.Int64) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "weather", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "get_weather", Description: "Current weather in a city"},
		func(ctx context.Context, req *mcp.CallToolRequest, in weatherIn) (*mcp.CallToolResult, any, error) {
			if calls != nil {
				calls.Add(1)
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Sunny and 21C in " + in.City}}}, nil, nil
		})
	return s
}

// TestMain lets the test binary act as a stdio MCP server when asked, so
// the stdio transport is tested with a real child process.
func TestMain(m *testing.M) {
	if os.Getenv("AGENT_TEST_MCP_STDIO") == "1" {
		if err := weatherServer(nil).Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func weatherScript(msgs []chatMsg, tools []string) reply {
	last := msgs[len(msgs)-1]
	if last.Role == "tool" {
		return reply{Text: "The weather: " + last.text()}
	}
	return reply{Tool: "Weather__get_weather", Args: `{"city": "Paris"}`}
}

// TestMCPTools: an action group backed by an MCP server (streamable HTTP,
// and stdio) offers the server's tools and calls them once.
func TestMCPTools(t *testing.T) {
	var calls atomic.Int64
	mcpHTTP := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return weatherServer(&calls) }, nil))
	t.Cleanup(mcpHTTP.Close)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]agent.MCPServer{"weather-http": {URL: mcpHTTP.URL}, "weather-stdio": {Command: []string{exe}}}
	t.Setenv("AGENT_TEST_MCP_STDIO", "1") // inherited by the stdio child only; this process has started
	for _, server := range []string{"weather-http", "weather-stdio"} {
		t.Run(server, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.SQLite(t)
			up := newUpstream(t)
			up.setScript(weatherScript)
			prov, err := openai.New(openai.Config{BaseURL: up.URL + "/v1", Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			router := routing.New([]*routing.Model{{ID: testModel, Deployments: []*routing.Deployment{{Name: "s", Provider: prov, Type: "openai", Weight: 1}}}})
			gw := gateway.New(gateway.Options{Final: router.Route})
			rs := resource.NewStore(db, resource.Scope{}, nil)
			ctl := agent.NewControl(rs, nil)
			svc := agent.NewService(agent.Options{Control: ctl, MCPServers: servers, Logger: slog.New(slog.DiscardHandler),
				Converse: func(ctx context.Context, req *llm.Request) (llm.Stream, error) {
					return gw.Do(ctx, &gateway.Call{API: "bedrock", Op: "InvokeAgent", Request: req})
				}})
			srv := httptest.NewServer(httpapi.New(httpapi.Deps{Gateway: gw, Router: router,
				Groups: []httpapi.RouteGroup{&httpapi.Agents{Control: ctl, Runtime: svc}}}).Handler())
			t.Cleanup(srv.Close)
			acct := resource.Account(ctx, resource.Scope{})
			a, err := ctl.CreateAgent(ctx, acct, &agent.AgentInput{AgentName: "weather", FoundationModel: testModel, Instruction: travelInstruction})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ctl.CreateActionGroup(ctx, acct, a.AgentID, "DRAFT", &agent.ActionGroupInput{ActionGroupName: "Weather",
				ParentActionGroupSignature: agent.SignatureMCP, ParentActionGroupSignatureParams: map[string]string{"server": server}}); err != nil {
				t.Fatal(err)
			}
			if _, err := ctl.PrepareAgent(ctx, acct, a.AgentID); err != nil {
				t.Fatal(err)
			}
			e := &env{URL: srv.URL, keys: map[string]*auth.AccessKey{"x": {AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}}}
			_, rc := e.clients("x")
			before := calls.Load()
			tr := invoke(t, ctx, rc, &bedrockagentruntime.InvokeAgentInput{AgentId: aws.String(a.AgentID), AgentAliasId: aws.String("TSTALIASID"),
				SessionId: aws.String("s1"), InputText: aws.String("weather in Paris?"), EnableTrace: aws.Bool(true)})
			if tr.err != nil || !strings.Contains(tr.text, "Sunny and 21C in Paris") {
				t.Fatalf("invocation = %+v, want the MCP tool's answer", tr)
			}
			if server == "weather-http" && calls.Load()-before != 1 {
				t.Fatalf("MCP tool called %d times, want 1", calls.Load()-before)
			}
		})
	}
}
