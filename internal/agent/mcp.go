package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// SignatureMCP is Outcrop's action group signature for an MCP server as a
// tool source: parentActionGroupSignature "OUTCROP.MCP" with
// parentActionGroupSignatureParams {"server": "<name in agents.mcp_servers>"}.
// The server's tools (tools/list) become the group's tools.
const SignatureMCP = "OUTCROP.MCP"

// MCPServer says how to reach an MCP server: over streamable HTTP (URL) or
// by starting a process that speaks MCP on stdin/stdout (Command).
type MCPServer struct {
	// URL is the streamable HTTP endpoint.
	URL string `yaml:"url"`
	// Command is the program and its arguments, for stdio.
	Command []string `yaml:"command"`
}

// mcpTool is one tool of an MCP server, bound to the invocation's session.
type mcpTool struct {
	session *mcp.ClientSession
	name    string
}

// connectMCP opens a session to the group's server, lists its tools and
// adds them to ts. The session stays open for the invocation (run.Close
// closes it).
func (r *run) connectMCP(g *ActionGroup, ts *toolset) error {
	name := g.ParentActionGroupSignatureParams["server"]
	srv, ok := r.svc.mcp[name]
	if !ok {
		return &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException",
			Message: fmt.Sprintf("The MCP server %q of action group %s is not configured (agents.mcp_servers).", name, g.ActionGroupName)}
	}
	var t mcp.Transport
	switch {
	case srv.URL != "":
		t = &mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: r.svc.client}
	case len(srv.Command) > 0:
		t = &mcp.CommandTransport{Command: exec.Command(srv.Command[0], srv.Command[1:]...)}
	default:
		return fmt.Errorf("mcp server %q has neither url nor command", name)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "outcrop-agent", Version: "1"}, nil)
	sess, err := client.Connect(r.ctx, t, nil)
	if err != nil {
		return &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException",
			Message: fmt.Sprintf("The MCP server %q could not be reached.", name), Err: err}
	}
	r.closers = append(r.closers, sess.Close)
	res, err := sess.ListTools(r.ctx, &mcp.ListToolsParams{})
	if err != nil {
		return &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException",
			Message: fmt.Sprintf("The MCP server %q did not list its tools.", name), Err: err}
	}
	for _, mt := range res.Tools {
		schema, err := json.Marshal(mt.InputSchema)
		if err != nil || !json.Valid(schema) || string(schema) == "null" {
			schema = json.RawMessage(`{"type":"object"}`)
		}
		desc := mt.Description
		if desc == "" {
			desc = mt.Name
		}
		spec := llm.Tool{Name: toolName(g.ActionGroupName, mt.Name), Description: desc, Schema: schema}
		if _, dup := ts.byName[spec.Name]; dup {
			return resource.Invalidf("Two tools of the agent are both named %s.", spec.Name)
		}
		t := &tool{Spec: spec, Group: g, MCP: &mcpTool{session: sess, name: mt.Name}}
		ts.byName[spec.Name] = t
		ts.specs = append(ts.specs, spec)
	}
	return nil
}

// callMCP calls an MCP tool and returns its text content. A tool that
// reports an error gives the model that error as the result.
func (r *run) callMCP(ctx context.Context, t *tool, input json.RawMessage) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.svc.limits.ToolTimeout)
	defer cancel()
	var args any = map[string]any{}
	if len(input) > 0 {
		args = input
	}
	res, err := t.MCP.session.CallTool(ctx, &mcp.CallToolParams{Name: t.MCP.name, Arguments: args})
	if err != nil {
		return "", false, &llm.Error{Kind: llm.KindModelError, Code: "DependencyFailedException",
			Message: fmt.Sprintf("The MCP tool %s failed.", t.MCP.name), Err: err}
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(tc.Text)
		}
	}
	if b.Len() == 0 && res.StructuredContent != nil {
		sc, _ := json.Marshal(res.StructuredContent)
		b.Write(sc)
	}
	return b.String(), res.IsError, nil
}
